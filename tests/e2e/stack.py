"""One end-to-end world per test, every part real or a real HTTP server:

    Honua simulator ──scrape──▶ Prometheus (examples' alert rules) ──▶ Alertmanager
    exporter stand-ins ─scrape─▶      │                 (examples' config)   │ webhook
                                      ▼                                      ▼
    redis-server (redis-0) ◀── probes/actions ── honua-bot ──▶ fake Slack ◀── signed clicks
    Kubernetes fake        ◀──────────────────────┘

The simulator keeps its processes in the redis-server and plays the deployment's
pods (it reloads process-config when the deployment rolls); the redis-server is
pod redis-0 (replacing the pod restarts it). :class:`Stack` reads back what an
on-call engineer sees: the message of an alert, its header and its thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.models import Incident
from tests.e2e.configs import alertmanager_config, fast_alert_rules, write_fast_bot_rules
from tests.e2e.exporters import Exporters
from tests.e2e.redis_pod import RedisPodBridge, TargetRedis
from tests.fakes.honua_sim import Simulator, create_app
from tests.fakes.kube_api import FakeKube, KubeFakeServer, seed_honua
from tests.fakes.server import ThreadedServer
from tests.fakes.slack_api import FakeSlack, Posted
from tests.helpers import REPO, BotHarness, wait_for
from tests.integration.slack_support import CHANNEL, SECRET, answer, click, header, incident_of
from tests.realbins import AlertmanagerServer, PrometheusServer

NAMESPACE = "honua-process-framework"
TOKEN = "e2e-webhook-token-0123456789"
SCENARIO = re.compile(r" · ([a-z0-9-]+) — ")


@dataclass
class Stack:
    kube: FakeKube
    kube_server: KubeFakeServer
    redis: TargetRedis
    sim: Simulator
    sim_server: ThreadedServer
    exporters: Exporters
    prometheus: PrometheusServer
    alertmanager: AlertmanagerServer
    slack: FakeSlack
    bot: BotHarness

    # what the on-call engineer sees --------------------------------------------------
    def messages(self, alertname: str) -> list[Posted]:
        """Top-level messages of incidents of ``alertname``, oldest first."""
        marker = re.compile(rf" {re.escape(alertname)}( · [a-z0-9-]+)? — ")
        return [m for m in self.slack.posts(top_level=True) if marker.search(header(m))]

    async def message(
        self, alertname: str, scenario: str | None = None, timeout: float = 45
    ) -> Posted:
        """The first message of ``alertname`` once diagnosed (as ``scenario`` if given)."""

        def diagnosed() -> Posted | None:
            for m in self.messages(alertname):
                shown = scenario_of(m)
                if shown and (scenario is None or shown == scenario):
                    return m
            return None

        try:
            found: Posted = await wait_for(diagnosed, timeout, 0.2)
        except AssertionError as exc:
            raise AssertionError(f"no {alertname} message ({scenario}): {self.describe()}") from exc
        return found

    def thread(self, ts: str) -> list[str]:
        return [r.text for r in self.slack.replies(ts)]

    async def incident(self, message: Posted) -> Incident:
        """The incident behind a message, from the bot's store."""
        found = await self.bot.service.store.get_incident(incident_of(message))
        assert found is not None, f"no incident for {header(message)}"
        return found

    async def runs(self, message: Posted) -> list[tuple[str, str, str]]:
        """(action, who, state) of every run recorded on the message's incident."""
        return [(r.action, r.actor, r.state) for r in (await self.incident(message)).runs]

    async def press(self, message: Posted, action: str) -> str:
        """Click ``action``'s button as Slack delivers it (signed); the ephemeral answer."""
        resp, key = await click(self.bot, self.slack, message, f"honua:action:{action}")
        assert resp.status_code == 200, resp.text
        reply = await answer(self.slack, key, timeout=30)
        return str(reply.get("text", ""))

    async def verified(self, message: Posted, action: str, timeout: float = 60) -> list[str]:
        """Wait for the header to turn Verified; the thread then."""

        def done() -> bool:
            latest = self.slack.message(message.ts)
            head = header(latest) if latest else ""
            if head.endswith("— Failed"):
                raise AssertionError(f"{action} failed: {self.thread(message.ts)}")
            return "Verified" in head

        try:
            await wait_for(done, timeout, 0.2)
        except AssertionError as exc:
            raise AssertionError(
                f"{action} not verified: thread {self.thread(message.ts)}; {self.describe()}"
            ) from exc
        thread: list[str] = await wait_for(
            lambda: (
                (t := self.thread(message.ts)) and any(f"`{action}` verified" in x for x in t) and t
            ),
            10,
        )
        return thread

    async def firing(self, alertname: str) -> list[dict[str, Any]]:
        """The alerts of ``alertname`` Prometheus holds now (pending or firing)."""
        alerts = await asyncio.to_thread(self.prometheus.alerts)
        return [a for a in alerts if a["labels"]["alertname"] == alertname]

    def describe(self) -> str:
        """What each part holds, for a failure message."""
        try:
            firing = sorted(
                f"{a['labels']['alertname']}({a['state']})" for a in self.prometheus.alerts()
            )
            held = sorted(
                f"{a['labels']['alertname']}({a['status']['state']})"
                for a in self.alertmanager.alerts()
            )
        except Exception as exc:  # a dead part is itself the clue
            firing, held = [f"unreadable: {exc}"], []
        posts = [f"{header(m)} [{scenario_of(m)}]" for m in self.slack.posts(top_level=True)]
        return f"prometheus alerts {firing}; alertmanager {held}; slack {posts}"

    async def raise_by_hand(self, alertname: str, **labels: str) -> None:
        """``amtool alert add`` against the real Alertmanager, as the runbook rules say."""
        amtool = shutil.which("amtool")
        assert amtool, "amtool is not installed (apt-get install prometheus-alertmanager)"
        args = [amtool, "alert", "add", alertname, *(f"{k}={v}" for k, v in labels.items())]
        args.append(f"--alertmanager.url={self.alertmanager.url}")
        done = await asyncio.to_thread(
            subprocess.run, args, capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr


def scenario_of(message: Posted) -> str:
    """The scenario the header names (``P1 Alert · crashloop — Awaiting decision``)."""
    for block in message.blocks:
        if block["type"] == "header" and (found := SCENARIO.search(block["text"]["text"])):
            return found.group(1)
    return ""


def summary_of(message: Posted) -> str:
    block = next((b for b in message.blocks if b.get("block_id") == "honua-summary"), None)
    return str(block["text"]["text"]) if block else ""


@contextlib.asynccontextmanager
async def e2e_stack(
    tmp_path: Path,
    *,
    fault: str = "none",
    rate: float = 20,
    llm_quota: int | None = None,
    traffic: bool = True,
    backfill: str | None = None,
    postgres_dsn: str | None = None,
    group_interval: str | None = None,
) -> AsyncIterator[Stack]:
    """Start every part (the bot last but one: Alertmanager needs its URL, Prometheus
    Alertmanager's) and stop them all, whatever happens."""
    async with contextlib.AsyncExitStack() as stack:
        kube = seed_honua(FakeKube())
        kube_server = KubeFakeServer(kube).start()
        stack.callback(kube_server.stop)

        redis = await asyncio.to_thread(TargetRedis(tmp_path / "redis-data").start)
        stack.callback(redis.stop)
        bridge = RedisPodBridge(kube, redis).start()
        stack.push_async_callback(bridge.stop)

        sim = Simulator(
            fault, rate, seed=7, redis_url=redis.url, kube_url=kube_server.url, llm_quota=llm_quota
        )
        sim.seed_history(40)
        sim_server = ThreadedServer(create_app(sim, traffic=traffic)).start()
        stack.callback(sim_server.stop)
        await wait_for(lambda: sim.config_loads > 0, 10)  # the pods loaded process-config

        exporters = Exporters(redis_url=redis.url, kube=kube, postgres_dsn=postgres_dsn)
        exporter_server = ThreadedServer(exporters.app()).start()
        stack.callback(exporter_server.stop)

        slack = await FakeSlack().start()
        stack.push_async_callback(slack.stop)

        rules = fast_alert_rules((REPO / "examples/prometheus/alerts.yaml").read_text())
        (tmp_path / "alerts.yaml").write_text(rules)
        alertmanager = AlertmanagerServer()
        prometheus = PrometheusServer(
            [f"127.0.0.1:{sim_server.port}"],
            "1s",
            jobs={"exporters": [f"127.0.0.1:{exporter_server.port}"]},
            rule_files=[tmp_path / "alerts.yaml"],
            alertmanagers=[f"127.0.0.1:{alertmanager.port}"],
            backfill=backfill,
        )

        bot = BotHarness(
            rules=write_fast_bot_rules(REPO / "rules", tmp_path / "rules"),
            prometheus_url=prometheus.url,
            process_api_url=sim_server.url,
            target_redis_url=redis.url,
            kubernetes_host=kube_server.url,
            alertmanager_url=alertmanager.url,
            postgres_dsn=postgres_dsn,
            webhook_token=TOKEN,
            slack_bot_token=slack.token,
            slack_channel=CHANNEL,
            slack_api_url=slack.api_url,
            slack_signing_secret=SECRET,
            verify_interval_seconds=0.5,
        )
        await stack.enter_async_context(bot)

        token_file = tmp_path / "webhook-token"
        token_file.write_text(TOKEN)
        example = (REPO / "examples/alertmanager/alertmanager.yml").read_text()
        alertmanager.config = alertmanager_config(
            example, f"{bot.url}/alerts", token_file, group_interval=group_interval
        )
        await asyncio.to_thread(alertmanager.start)
        stack.callback(alertmanager.stop)
        await asyncio.to_thread(prometheus.start)
        stack.callback(prometheus.stop)

        yield Stack(
            kube,
            kube_server,
            redis,
            sim,
            sim_server,
            exporters,
            prometheus,
            alertmanager,
            slack,
            bot,
        )
