"""Alert-storm benchmark: two real `honua-bot serve` replicas on a private
redis-server, the fake Slack Web API (tests/fakes/slack_api.py, paced like Slack:
about one message per second per channel), N notifications over F fingerprints,
optionally one replica SIGKILLed part-way.

    python bench/storm.py [--notifications 10000] [--fingerprints 500]
                          [--kill-after 0.3] [--kill sender|other] [--rounds 1]

Each notification carries one or two alerts (F distinct incidents in all), posted
to the replicas in turn by 32 concurrent senders, falling over to the other
replica when one does not answer (as Alertmanager behind a Service would).

Printed per run: intake rate; time from the first and from the last notification
until every incident is shown in Slack (negative after the last: every incident
was shown before the last notification was sent) (its own message or a line in the storm summary's
thread) and until everything is drained (queue, pending entries and the Slack
outbox empty); duplicate posts (an incident's message, a storm line, a summary or
a digest posted more than once); dead letters; peak RSS per replica; the most
Slack calls (posts and updates) in any one second on the channel; 429s.
PASS/FAIL against issue 14's targets: shown and drained within 60 s of the last
notification, nothing lost, nothing duplicated, at most one call per second per
channel, peak RSS < 150 MB per replica. With --rounds > 1 the medians are given.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.models.alertmanager import Alert  # noqa: E402
from tests.fakes.slack_api import FakeSlack  # noqa: E402
from tests.helpers import RedisServer, alert, free_port, notification  # noqa: E402

CHANNEL = "#storm"
TARGET_SECONDS = 60.0
TARGET_RSS_MB = 150.0
RULE = """\
name: storm
severity: P3
match:
  alertname: StormBench
diagnosis:
  - scenario: storm
    when: 'alert.labels.instance != ""'
    summary: 'storm alert on {{ alert.labels.instance }}'
"""
_INC = re.compile(r"inc-[0-9a-f]{12}")
_WRITES = ("chat.postMessage", "chat.update")


class Replica:
    def __init__(self, name: str, workdir: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith("HONUA_BOT_")}
        full.update({"HONUA_BOT_PORT": str(self.port), **env})
        self.stderr = workdir / f"{name}.stderr"
        with self.stderr.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"],
                env=full,
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        self.peak_mb = 0.0

    def sample(self) -> None:
        if self.proc.poll() is None:
            try:
                status = Path(f"/proc/{self.proc.pid}/status").read_text()
            except OSError:
                return
            hwm = re.search(r"VmHWM:\s+(\d+)", status)
            if hwm:
                self.peak_mb = max(self.peak_mb, int(hwm.group(1)) / 1024)

    async def ready(self, http: httpx.AsyncClient) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{self.stderr.read_text()[-2000:]}")
            try:
                if (await http.get(f"{self.url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
        raise SystemExit(f"{self.name} not ready")

    def kill(self) -> None:
        self.sample()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        self.sample()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def shown(fake: FakeSlack) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """(own messages per incident, storm lines per incident, posts per outbox key)."""
    own: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    for m in list(fake.messages):
        key = str(((m.metadata or {}).get("event_payload") or {}).get("key", ""))
        keys[key] += 1
        if key.startswith("inc:"):
            own[key[4:]] += 1
        elif re.match(r"storm:.+:d\d+$", key):
            lines.update(set(_INC.findall(json.dumps(m.blocks))))
    return own, lines, keys


def max_per_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="honua-storm-"))
    (workdir / "rules").mkdir()
    (workdir / "rules" / "storm.yaml").write_text(RULE)
    redis_server = RedisServer().start()
    fake = await FakeSlack().start()  # rate 1/s, burst 3 per channel: Slack's pace
    env = {
        "HONUA_BOT_REDIS_URL": redis_server.url,
        "HONUA_BOT_RULES": str(workdir / "rules"),
        "HONUA_BOT_SLACK_BOT_TOKEN": fake.token,
        "HONUA_BOT_SLACK_CHANNEL": CHANNEL,
        "HONUA_BOT_SLACK_API_URL": fake.api_url,
        "HONUA_BOT_CLAIM_IDLE_SECONDS": str(args.claim_idle),
        "HONUA_BOT_LOG_LEVEL": "warning",
    }
    replicas = [Replica(f"replica-{n}", workdir, env) for n in range(2)]
    r = aioredis.Redis.from_url(redis_server.url)
    result: dict[str, Any] = {}
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            await asyncio.gather(*(p.ready(http) for p in replicas))
            fps = [f"fp-storm-{i:05d}" for i in range(args.fingerprints)]
            ids = {
                Alert.model_validate(alert("StormBench", fingerprint=fp, instance=fp)).incident_id
                for fp in fps
            }
            bodies = []
            for i in range(args.notifications):
                group = [fps[i % len(fps)]] + ([fps[(i * 7 + 3) % len(fps)]] if i % 3 == 0 else [])
                alerts = [alert("StormBench", fingerprint=fp, instance=fp) for fp in group]
                bodies.append(notification(*alerts))
            kill_at = int(args.notifications * args.kill_after) if args.kill else -1
            accepted = 0
            killed: Replica | None = None
            limit = asyncio.Semaphore(32)

            async def kill_one() -> None:
                nonlocal killed
                lease = await r.get(f"honua-bot:lock:slack-sender:{CHANNEL}")
                holder = lease.decode() if lease else ""
                leader = next((p for p in replicas if f"-{p.proc.pid}-" in holder), replicas[0])
                killed = (
                    leader
                    if args.kill == "sender"
                    else next(p for p in replicas if p is not leader)
                )
                killed.kill()

            async def post(i: int, body: dict[str, Any]) -> None:
                nonlocal accepted
                async with limit:
                    for attempt in range(20):
                        target = replicas[(i + attempt) % 2]
                        try:
                            resp = await http.post(f"{target.url}/alerts", json=body)
                        except httpx.TransportError:
                            continue
                        if resp.status_code == 200:
                            accepted += 1
                            if accepted == kill_at:
                                await kill_one()
                            return
                        await asyncio.sleep(0.2)
                    raise SystemExit(f"notification {i} refused by both replicas")

            started = time.monotonic()

            async def sampler() -> None:
                while True:
                    for p in replicas:
                        p.sample()
                    await asyncio.sleep(0.5)

            sampling = asyncio.create_task(sampler())
            first_shown: float | None = None

            async def watch_shown() -> None:
                nonlocal first_shown
                while first_shown is None:
                    own, lines, _ = shown(fake)
                    if set(own) | set(lines) >= ids:
                        first_shown = time.monotonic()
                    await asyncio.sleep(0.2)

            watching = asyncio.create_task(watch_shown())
            await asyncio.gather(*(post(i, b) for i, b in enumerate(bodies)))
            sent = time.monotonic()
            result["intake_per_s"] = args.notifications / (sent - started)

            shown_at = first_shown
            drained_at = None
            deadline = sent + args.timeout
            while time.monotonic() < deadline and (shown_at is None or drained_at is None):
                own, lines, _ = shown(fake)
                if shown_at is None and set(own) | set(lines) >= ids:
                    shown_at = time.monotonic()
                if shown_at is not None and drained_at is None:
                    queue = await r.xlen("honua-bot:alerts")
                    head = int(await r.get(f"honua-bot:v:slack:ob:{CHANNEL}:head") or 0)
                    done = int(await r.get(f"honua-bot:v:slack:ob:{CHANNEL}:done") or 0)
                    gen = int(await r.get(f"honua-bot:v:slack:storm-gen:{await _storm(r)}") or 0)
                    flushed = int(
                        await r.get(f"honua-bot:v:slack:storm-flushed:{await _storm(r)}") or 0
                    )
                    if queue == 0 and done >= head and flushed >= gen:
                        drained_at = time.monotonic()
                await asyncio.sleep(0.2)
            sampling.cancel()
            watching.cancel()
            own, lines, keys = shown(fake)
            writes = sorted(c.at for c in fake.calls if c.method in _WRITES and c.status == 200)
            result.update(
                {
                    "shown_after_first_s": (shown_at - started) if shown_at else None,
                    "shown_after_last_s": (shown_at - sent) if shown_at else None,
                    "drained_after_last_s": (drained_at - sent) if drained_at else None,
                    "not_shown": len(ids - set(own) - set(lines)),
                    "duplicates": sum(n - 1 for n in keys.values() if n > 1)
                    + sum(n - 1 for n in lines.values() if n > 1)
                    + len(set(own) & set(lines)),
                    "duplicated": (
                        [k for k, n in keys.items() if n > 1]
                        + [f"line:{i}" for i, n in lines.items() if n > 1]
                        + [f"own+line:{i}" for i in set(own) & set(lines)]
                    )[:5],
                    "dead_letters": await r.xlen("honua-bot:alerts:dead"),
                    "max_calls_per_s": max_per_second(writes),
                    "rate_limited": fake.rate_limited,
                    "slack_posts": len(fake.calls_to("chat.postMessage")),
                    "slack_updates": len(fake.calls_to("chat.update")),
                    "killed": killed.name if killed else "",
                }
            )
    finally:
        for p in replicas:
            p.stop()
        result["peak_rss_mb"] = {p.name: round(p.peak_mb, 1) for p in replicas}
        await r.aclose()
        await fake.stop()
        redis_server.stop()
    return result


async def _storm(r: aioredis.Redis) -> str:
    raw = await r.get(f"honua-bot:v:slack:storm:{CHANNEL}")
    return raw.decode() if raw else "-"


def verdict(res: dict[str, Any]) -> list[tuple[str, bool]]:
    shown_s, drained_s = res["shown_after_last_s"], res["drained_after_last_s"]
    return [
        ("every incident shown within 60 s", shown_s is not None and shown_s <= TARGET_SECONDS),
        ("drained within 60 s", drained_s is not None and drained_s <= TARGET_SECONDS),
        ("0 lost", res["not_shown"] == 0),
        ("0 duplicate", res["duplicates"] == 0),
        ("0 dead letters", res["dead_letters"] == 0),
        ("<= 1 Slack call/s/channel", res["max_calls_per_s"] <= 1),
        ("peak RSS < 150 MB", max(res["peak_rss_mb"].values()) < TARGET_RSS_MB),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=10_000)
    parser.add_argument("--fingerprints", type=int, default=500)
    parser.add_argument(
        "--kill",
        choices=["sender", "other"],
        default=None,
        help="SIGKILL the replica leading the Slack sender, or the other one",
    )
    parser.add_argument(
        "--kill-after",
        type=float,
        default=0.3,
        help="fraction of notifications accepted before the kill",
    )
    parser.add_argument(
        "--claim-idle",
        type=float,
        default=10.0,
        help="HONUA_BOT_CLAIM_IDLE_SECONDS: a killed replica's entries wait this",
    )
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    results = [asyncio.run(run(args)) for _ in range(args.rounds)]
    for i, res in enumerate(results, 1):
        print(f"run {i}: {json.dumps(res)}")

    def med(key: str) -> Any:
        values = [r[key] for r in results]
        if any(v is None for v in values):
            return None
        return statistics.median(values)

    skip = ("peak_rss_mb", "killed", "duplicated")
    summary = {k: med(k) for k in results[0] if k not in skip}
    summary["peak_rss_mb"] = {
        name: statistics.median(r["peak_rss_mb"][name] for r in results)
        for name in results[0]["peak_rss_mb"]
    }
    print(
        f"{args.notifications} notifications / {args.fingerprints} fingerprints, "
        f"kill: {args.kill or 'none'}, median of {len(results)}:"
    )
    fmt = lambda v: "never" if v is None else (f"{v:.1f}" if isinstance(v, float) else str(v))  # noqa: E731
    for key, value in summary.items():
        print(f"  {key:22s} {fmt(value) if not isinstance(value, dict) else value}")
    ok = True
    for name, good in verdict(summary):
        ok &= good
        print(f"  {'PASS' if good else 'FAIL'}  {name}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
