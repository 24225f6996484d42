"""The tuning walk of docs/tuning.md, run for real: replay → shadow → stats → auto.

A Honua simulator with the LLM rate-limit fault (its provider takes 12 concurrent
requests, process-config allows 20), real Prometheus scraping it, the Kubernetes
API fake, a private redis-server as the bot's store, and `honua-bot serve` on
copies of the bundled rules (validation windows shortened to seconds). Alerts are
posted as Alertmanager would; every other step is a `honua-bot` command, printed
with its output. Needs `prometheus` and `redis-server` on PATH."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.models import WebhookMessage  # noqa: E402
from tests.e2e.configs import write_fast_bot_rules  # noqa: E402
from tests.fakes.honua_sim import Simulator, create_app  # noqa: E402
from tests.fakes.kube_api import FakeKube, KubeFakeServer, seed_honua  # noqa: E402
from tests.fakes.server import ThreadedServer  # noqa: E402
from tests.helpers import RedisServer, free_port, wait_for_sync  # noqa: E402
from tests.realbins import PrometheusServer  # noqa: E402

RULE = "01-high-process-failure-rate.yaml"
ACTION = "halve-concurrency"


def notification(status: str, starts: datetime, ends: datetime | None = None) -> dict[str, Any]:
    labels = {
        "alertname": "HighProcessFailureRate",
        "namespace": "honua-process-framework",
        "severity": "critical",
    }
    stamp = starts.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    end = ends.isoformat().replace("+00:00", "Z") if ends else "0001-01-01T00:00:00Z"
    alert = {"status": status, "labels": labels, "annotations": {}, "startsAt": stamp}
    alert |= {"endsAt": end, "fingerprint": f"fp-{stamp}"}
    return {
        "version": "4",
        "receiver": "honua-bot",
        "status": status,
        "groupKey": "{}:{}",
        "groupLabels": {},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "truncatedAlerts": 0,
        "alerts": [alert],
    }


def set_mode(rules: Path, mode: str) -> None:
    path = rules / RULE
    text = path.read_text()
    head, _, tail = text.partition(f"  {ACTION}:\n")
    body, sep, rest = tail.partition("    max_per_hour: 2")
    lines = [ln for ln in body.splitlines(keepends=True) if not ln.startswith("    mode:")]
    path.write_text(f"{head}  {ACTION}:\n{''.join(lines)}    mode: {mode}\n{sep}{rest}")


class Walk:
    def __init__(self, url: str, env: dict[str, str]) -> None:
        self.url, self.env = url, env
        self.http = httpx.Client(base_url=url, timeout=10)

    def run(self, *args: str) -> str:
        print(f"\n$ honua-bot {' '.join(args)}")
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        print((done.stdout + done.stderr).rstrip())
        print(f"(exit {done.returncode})")
        return done.stdout

    def fire(self, starts: datetime) -> str:
        body = notification("firing", starts)
        self.http.post("/alerts", json=body).raise_for_status()
        incident = WebhookMessage.model_validate(body).alerts[0].incident_id
        wait_for_sync(lambda: self._diagnosed(incident), 60, 0.2)
        return incident

    def resolve(self, starts: datetime) -> None:
        self.http.post(
            "/alerts", json=notification("resolved", starts, datetime.now(UTC))
        ).raise_for_status()

    def incident(self, incident: str) -> dict[str, Any]:
        return dict(self.http.get(f"/incidents/{incident}").json())

    def _diagnosed(self, incident: str) -> bool:
        got = self.http.get(f"/incidents/{incident}")
        return got.status_code == 200 and got.json().get("diagnosis") is not None


def concurrency(fake: FakeKube) -> str:
    cm = fake.get("configmaps", "honua-process-framework", "process-config")
    text = "\n".join(str(v) for v in (cm.get("data") or {}).values())
    return next((ln.strip() for ln in text.splitlines() if "MaxConcurrentProcesses" in ln), "?")


def main() -> int:
    if not (shutil.which("prometheus") and shutil.which("redis-server")):
        print("needs prometheus and redis-server on PATH", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="honua-tuning-"))
    live = write_fast_bot_rules(ROOT / "rules", work / "live")
    fake = seed_honua(FakeKube())
    kube = KubeFakeServer(fake).start()
    sim = Simulator("llm-rate-limit", 40, seed=7, kube_url=kube.url, llm_quota=12)
    sim.seed_history(40)
    target = ThreadedServer(create_app(sim)).start()
    prom = PrometheusServer([f"127.0.0.1:{target.port}"]).start()
    redis = RedisServer().start()
    port = free_port()
    env = {
        **os.environ,
        "HONUA_BOT_RULES": str(live),
        "HONUA_BOT_REDIS_URL": redis.url,
        "HONUA_BOT_PROMETHEUS_URL": prom.url,
        "HONUA_BOT_PROCESS_API_URL": target.url,
        "HONUA_BOT_KUBERNETES_HOST": kube.url,
        "HONUA_BOT_VERIFY_INTERVAL_SECONDS": "1",
        "HONUA_BOT_PORT": str(port),
    }
    cli_env = {**env, "HONUA_BOT_CONSOLE_NOTIFIER": "false"}  # the bot's messages stay in its log
    log = (work / "bot.log").open("wb")
    bot = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], env=env, stdout=log, stderr=log
    )
    walk = Walk(f"http://127.0.0.1:{port}", cli_env)
    try:
        wait_for_sync(
            lambda: bool(
                prom.query('sum(rate(honua_llm_errors_total{error_type="rate_limit"}[5m])) > 0')
            ),
            60,
            0.5,
        )
        wait_for_sync(lambda: walk.http.get("/readyz").status_code == 200, 30, 0.2)
        print(f"# work dir {work}; bot log {work / 'bot.log'}")
        print(f"# process-config: {concurrency(fake)}")

        # 1. last week, as the rules stand: one incident, nobody pressed anything
        t1 = datetime.now(UTC) - timedelta(minutes=3)
        first = walk.fire(t1)
        print(f"# incident {first}: {walk.incident(first)['diagnosis']['scenario']}")
        walk.resolve(t1)

        # 2. the candidate: the action in shadow mode; replay it over what was recorded
        candidate = work / "candidate"
        shutil.copytree(live, candidate)
        set_mode(candidate, "shadow")
        walk.run("rules", "replay", "--rules", str(candidate), "--since", "1d")

        # 3. shadow mode live: the next incident plans and gates it, records, changes nothing
        shutil.copy(candidate / RULE, live / RULE)
        bot.send_signal(signal.SIGHUP)
        time.sleep(1)  # the reload is asynchronous; a demo, not a test
        t2 = datetime.now(UTC) - timedelta(minutes=1)
        second = walk.fire(t2)
        wait_for_sync(
            lambda: any("would have run" in a["text"] for a in walk.incident(second)["activity"]),
            30,
            0.2,
        )
        print(f"# process-config after the shadow run: {concurrency(fake)}")
        walk.run("audit", "--incident", second, "--since", "1h")

        # 4. a person runs it for real on the same incident; it is verified; then resolved
        walk.run("act", second, ACTION, "--as", "alice")
        print(f"# process-config after alice's run: {concurrency(fake)}")
        walk.resolve(t2)

        # 5. the numbers, and the postmortem timeline
        walk.run("stats", "--since", "1d", "--rule", "high-process-failure-rate")
        walk.run("timeline", second)

        # 6. promote: what `mode: auto` changes against the same incidents
        promoted = work / "promoted"
        shutil.copytree(live, promoted)
        set_mode(promoted, "auto")
        walk.run("rules", "replay", "--rules", str(promoted), "--since", "1d", "--fail-on-change")
        return 0
    finally:
        bot.terminate()
        bot.wait(15)
        log.close()
        redis.stop()
        prom.stop()
        target.stop()
        kube.stop()


if __name__ == "__main__":
    sys.exit(main())
