"""Footprint benchmark: idle RSS of `honua-bot serve` per configuration, and how
long the CLI commands that need no server take to start and finish.

    python bench/footprint.py [--rounds 3] [--idle 5]

Configurations:
- zero-config: no settings at all (memory store, console notifier, bundled rules);
- all-targets: Redis store (a private redis-server, fresh each round), Slack (the fake Slack Web API in a side process),
  Prometheus, the process API, Alertmanager, a target Redis, PostgreSQL and a
  kubeconfig all set; then one alert per bundled rule is fired so every rule's
  probes run once (which imports each target's client library: they are
  imported on first use), and RSS is read after the bot is idle again.

RSS is read from /proc/<pid>/status (VmRSS; VmHWM is the peak). Each figure is
the median of --rounds runs. Prints PASS/FAIL against issue 14's targets:
zero-config idle < 80 MB, all-targets < 150 MB, each CLI command < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers import RedisServer  # noqa: E402

ZERO_TARGET_MB = 80.0
ALL_TARGET_MB = 150.0
CLI_TARGET_S = 1.0

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:%d"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("serve did not become ready")


def fire_every_rule(url: str) -> None:
    """One alert per bundled rule, so each rule's probes run (and import their clients)."""
    alerts = []
    for name in sorted((REPO / "tests" / "fixtures").glob("runbook*/alert.json")):
        payload = json.loads(name.read_text())
        alerts += payload.get("alerts", []) if isinstance(payload, dict) else payload
    body = json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "bench",
            "groupKey": "bench",
            "alerts": alerts,
        }
    ).encode()
    req = urllib.request.Request(
        f"{url}/alerts", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200, resp.status


def serve_rss(env: dict[str, str], idle: float, exercise: bool) -> tuple[float, float]:
    port = free_port()
    full = {k: v for k, v in os.environ.items() if not k.startswith("HONUA_BOT_")}
    full.update({"HONUA_BOT_PORT": str(port), "HONUA_BOT_LOG_LEVEL": "warning", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"],
        env=full,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        if exercise:
            fire_every_rule(url)
            time.sleep(idle * 2)  # probes time out against the unreachable targets
        time.sleep(idle)
        return rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("HONUA_BOT_")},
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before reading RSS")
    args = parser.parse_args()

    slack_port = free_port()
    slack = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api", "--port", str(slack_port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    work = Path(tempfile.mkdtemp(prefix="honua-footprint-"))
    try:
        kubeconfig = work / "kubeconfig"
        kubeconfig.write_text(KUBECONFIG % free_port())
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens: probes fail fast
        all_targets = {
            "HONUA_BOT_SLACK_BOT_TOKEN": "xoxb-fake-token",
            "HONUA_BOT_SLACK_CHANNEL": "#footprint",
            "HONUA_BOT_SLACK_SIGNING_SECRET": "footprint-signing-secret",
            "HONUA_BOT_SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
            "HONUA_BOT_PROMETHEUS_URL": dead,
            "HONUA_BOT_PROCESS_API_URL": dead,
            "HONUA_BOT_ALERTMANAGER_URL": dead,
            "HONUA_BOT_TARGET_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "HONUA_BOT_POSTGRES_DSN": f"postgresql://bot@127.0.0.1:{free_port()}/x",
            "HONUA_BOT_KUBECONFIG": str(kubeconfig),
            "HONUA_BOT_PROBE_TIMEOUT": "1",
        }
        configs = {"zero-config": ({}, False), "all-targets": (all_targets, True)}
        rss: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
        for _ in range(args.rounds):
            for name, (env, exercise) in configs.items():
                # a fresh Redis each time: incidents diagnosed in an earlier round
                # would not run their probes again
                redis_server = RedisServer().start()
                try:
                    env = {**env, "HONUA_BOT_REDIS_URL": redis_server.url} if env else env
                    rss[name].append(serve_rss(env, args.idle, exercise))
                finally:
                    redis_server.stop()
        rule = str(REPO / "rules")
        case = str(REPO / "tests" / "fixtures" / "runbook1" / "alert.json")
        commands = {
            "--help": ["--help"],
            "list probes": ["list", "probes"],
            "rules check": ["rules", "check", rule],
            "rules test": ["rules", "test", "--rules", rule, case],
        }
        starts = {n: [cli_seconds(c) for _ in range(args.rounds)] for n, c in commands.items()}
    finally:
        slack.terminate()
        slack.wait(10)
        shutil.rmtree(work, ignore_errors=True)

    ok = True
    print(f"serve, idle RSS (median of {args.rounds}; peak in brackets):")
    for name, target in (("zero-config", ZERO_TARGET_MB), ("all-targets", ALL_TARGET_MB)):
        idle = statistics.median(r for r, _ in rss[name])
        peak = statistics.median(p for _, p in rss[name])
        good = idle < target
        ok &= good
        print(
            f"  {name:12s} {idle:6.1f} MB  ({peak:.1f})  target < {target:.0f} MB  "
            f"{'PASS' if good else 'FAIL'}"
        )
    print(f"CLI start to exit (median of {args.rounds}):")
    for name, times in starts.items():
        median = statistics.median(times)
        good = median < CLI_TARGET_S
        ok &= good
        print(
            f"  {name:12s} {median:5.2f} s  target < {CLI_TARGET_S:.0f} s  "
            f"{'PASS' if good else 'FAIL'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
