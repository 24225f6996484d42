"""`make demo`: the bot on embedded defaults, a Honua simulator with an injected
LLM rate-limit fault, real Prometheus scraping it (when installed), and one sample
alert sent through the running bot. Prints the diagnosed incident. With the
Kubernetes API fake and a private redis-server (when installed) it then runs the
proposed remediation from the CLI: `honua-bot act … --dry-run` (the plan, nothing
changed), the action itself, and shows the ConfigMap before and after."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.honua_sim import FAULTS, Simulator, create_app  # noqa: E402
from tests.fakes.kube_api import FakeKube, KubeFakeServer, seed_honua  # noqa: E402
from tests.fakes.server import ThreadedServer  # noqa: E402
from tests.helpers import RedisServer, free_port, wait_for_sync  # noqa: E402
from tests.realbins import PrometheusServer  # noqa: E402


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fault", choices=sorted(FAULTS), default="llm-rate-limit")
    args = parser.parse_args()

    sim = Simulator(fault=args.fault, rate=20, seed=1)
    sim.seed_history(60)
    target = ThreadedServer(create_app(sim)).start()
    print(f"simulator: {target.url}  (fault: {args.fault})")
    prom = None
    env = {**os.environ, "HONUA_BOT_PROCESS_API_URL": target.url}
    if shutil.which("prometheus"):
        prom = PrometheusServer([f"127.0.0.1:{target.port}"]).start()
        print(f"prometheus: {prom.url}  (waiting for two scrapes so rate() has data)")
        wait_for_sync(
            lambda: bool(prom.query("rate(honua_process_started_total[5m]) > 0")), 30, 0.5
        )
        env["HONUA_BOT_PROMETHEUS_URL"] = prom.url
    else:
        print("prometheus: not installed; the Prometheus probes will report that")
    fake = seed_honua(FakeKube())
    kube = KubeFakeServer(fake).start()
    env["HONUA_BOT_KUBERNETES_HOST"] = kube.url
    print(f"kubernetes API (fake): {kube.url}")
    redis = RedisServer().start() if shutil.which("redis-server") else None
    if redis is not None:  # so that `honua-bot act` (another process) sees the incidents
        env["HONUA_BOT_REDIS_URL"] = redis.url
        print(f"bot store: private redis-server {redis.url}")
    port = free_port()
    env["HONUA_BOT_PORT"] = str(port)
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / "honua-bot-demo.log"
    log = log_path.open("wb")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    print(f"bot log: {log_path}")
    try:
        wait_for_sync(lambda: _up(f"http://127.0.0.1:{port}/readyz"), 30, 0.2)
        print(f"honua-bot: http://127.0.0.1:{port}  (console notifier, bundled rules)\n")
        url = f"http://127.0.0.1:{port}"
        code = subprocess.call([sys.executable, "-m", "bot.cli", "demo", "--url", url])
        if code == 0 and redis is not None:
            code = act(url, env, fake)
        return code
    finally:
        kube.stop()
        if redis is not None:
            redis.stop()
        bot.terminate()
        bot.wait(15)
        log.close()
        if prom:
            prom.stop()
        target.stop()


def _concurrency(fake: FakeKube) -> str:
    found = [
        o
        for o in fake.objects("configmaps", "honua-process-framework")
        if o["metadata"]["name"] == "process-config"
    ]
    data = found[0].get("data") or {} if found else {}
    text = "\n".join(str(v) for v in data.values())
    return next((ln.strip() for ln in text.splitlines() if "MaxConcurrentProcesses" in ln), "?")


def act(url: str, env: dict[str, str], fake: FakeKube) -> int:
    """The CLI twin of the Slack button, through the same gates and audit."""
    found = httpx.get(f"{url}/incidents", params={"limit": 1}, timeout=5).json()
    if not found:
        return 1
    incident = found[0]
    actions = [a["name"] for a in (incident.get("diagnosis") or {}).get("actions", [])]
    if "halve-concurrency" not in actions:
        return 0
    cli = [sys.executable, "-m", "bot.cli"]
    print(f"\nprocess-config before: {_concurrency(fake)}")
    for extra in (["--dry-run"], ["--no-wait"]):
        cmd = [*cli, "act", incident["id"], "halve-concurrency", "--as", "demo", *extra]
        print("$ honua-bot " + " ".join(cmd[3:]))
        subprocess.call(cmd, env=env)
    print(f"process-config after: {_concurrency(fake)}")

    # the serving bot adopts the handed-off verification within a few seconds
    def adopted() -> bool:
        out = subprocess.run(
            [*cli, "audit", "--since", "10m"], env=env, capture_output=True, text=True
        ).stdout
        return "verification_adopted" in out

    try:
        wait_for_sync(adopted, 20, 1.0)
    except AssertionError:
        print("(no serving bot adopted the verification yet)")
    print("$ honua-bot audit")
    return subprocess.call([*cli, "audit", "--since", "10m"], env=env)


if __name__ == "__main__":
    sys.exit(main())
