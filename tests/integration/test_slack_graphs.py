"""Graphs of the alert's metric in the incident's thread, through the real
slack_sdk ``files_upload_v2`` (getUploadURLExternal → upload → complete) against
the Slack fake, with a Prometheus fake serving ``query_range``: posted once per
moment, after the message and never delaying it, with the threshold from the
alert's own expression."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.prometheus import PrometheusClient
from bot.models import ActionRun, Diagnosis, Incident
from bot.notify import Event
from bot.notify.graph import alert_query, split_comparison
from bot.notify.slack.graphs import GraphPoster
from bot.notify.slack.notifier import SlackConfig, SlackNotifier
from bot.store.memory import MemoryStore
from tests.fakes.slack_api import FakeSlack
from tests.helpers import wait_for

PNG = b"\x89PNG\r\n\x1a\n"
EXPR = (
    "sum(rate(honua_process_failures_total[5m])) / sum(rate(honua_process_started_total[5m])) * 100"
)


class FakePrometheus:
    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.hang = asyncio.Event()  # set: answer; clear: hang until set
        self.hang.set()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def query_range(self, request: web.Request) -> web.Response:
        self.queries.append(dict(request.query))
        await self.hang.wait()
        start, end = float(request.query["start"]), float(request.query["end"])
        step = float(request.query["step"])
        values = [[start + i * step, str(8 + (i % 10))] for i in range(int((end - start) / step))]
        body = {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]},
        }
        return web.json_response(body)

    async def start(self) -> FakePrometheus:
        app = web.Application()
        app.router.add_get("/api/v1/query_range", self.query_range)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeSlack, FakePrometheus, SlackNotifier]]:
    fake = await FakeSlack(rate=100, burst=100).start()
    prom = await FakePrometheus().start()
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
    store = MemoryStore()
    notifier = SlackNotifier(
        client, store, SlackConfig(default_channel="#incidents", post_interval=0)
    )
    notifier.graphs = GraphPoster(
        client, store, notifier.state, PrometheusClient(prom.url), notifier.config.ttl
    )
    try:
        await notifier.start()  # the outbox's senders
        yield fake, prom, notifier
    finally:
        prom.hang.set()
        await notifier.aclose()
        await fake.stop()
        assert prom.runner is not None
        await prom.runner.cleanup()


def _incident(**changes: Any) -> Incident:
    return Incident(
        id="inc-graph01",
        key="fp|t",
        fingerprint="fp",
        alertname="HighProcessFailureRate",
        severity="critical",
        rule="high-process-failure-rate",
        starts_at=datetime(2026, 11, 27, 3, tzinfo=UTC),
        generator_url="http://prometheus:9090/graph?g0.expr="
        + "sum%28rate%28honua_process_failures_total%5B5m%5D%29%29+%2F+sum%28rate%28"
        + "honua_process_started_total%5B5m%5D%29%29+%2A+100+%3E+10&g0.tab=1",
        diagnosis=Diagnosis(
            rule="high-process-failure-rate", scenario="llm-rate-limit", priority="P2"
        ),
    ).model_copy(update=changes)


def test_the_alert_expression_gives_the_series_and_its_threshold() -> None:
    q = alert_query(_incident().generator_url)
    assert q is not None and (q.expr, q.threshold, q.op) == (EXPR, 10.0, ">")
    assert split_comparison("up == bool 0").threshold == 0.0
    assert split_comparison("rate(x[5m])").threshold is None
    assert alert_query("", "avg(y)") == split_comparison("avg(y)")  # the rule's PromQL
    assert alert_query("", "") is None


async def test_a_graph_goes_to_the_thread_once_after_the_message(
    world: tuple[FakeSlack, FakePrometheus, SlackNotifier],
) -> None:
    fake, prom, notifier = world
    incident = _incident()
    await notifier.notify(incident, Event.DIAGNOSED)
    assert notifier.graphs is not None
    await notifier.settled()
    [message] = fake.posts(top_level=True)
    [upload] = fake.uploads
    assert upload.data.startswith(PNG) and len(upload.data) > 5000
    assert (upload.channel, upload.thread_ts) == (message.channel, message.ts)
    assert upload.filename == "inc-graph01-diagnosed.png"
    assert f"`{EXPR}` over the last hour, threshold > 10" in upload.initial_comment
    assert [c.method for c in fake.calls if c.method.startswith("files.")] == [
        "files.getUploadURLExternal",
        "files.completeUploadExternal",
    ]
    assert prom.queries[0]["query"] == EXPR and prom.queries[0]["step"] == "30"
    # an update of the same diagnosed message posts no second graph
    await notifier.notify(incident, Event.DIAGNOSED)
    await notifier.settled()
    assert len(fake.uploads) == 1
    # after an action finished: a second graph, before/after around the action
    done = incident.model_copy(
        update={"runs": [ActionRun(action="halve-concurrency", actor="auto", state="verified")]}
    )
    await notifier.notify(done, Event.UPDATED)
    await notifier.settled()
    assert [u.filename for u in fake.uploads] == [
        "inc-graph01-diagnosed.png",
        "inc-graph01-after-0.png",
    ]
    assert fake.uploads[1].title == "HighProcessFailureRate — after halve-concurrency (verified)"


async def test_a_slow_prometheus_never_delays_the_message(
    world: tuple[FakeSlack, FakePrometheus, SlackNotifier],
) -> None:
    fake, prom, notifier = world
    prom.hang.clear()
    started = time.monotonic()
    await asyncio.wait_for(notifier.notify(_incident(), Event.DIAGNOSED), 5)
    assert time.monotonic() - started < 3
    await wait_for(lambda: len(fake.posts(top_level=True)) == 1)
    assert not fake.uploads
    prom.hang.set()
    assert notifier.graphs is not None
    await notifier.settled()
    assert len(fake.uploads) == 1


async def test_a_prometheus_error_is_a_log_line_and_the_graph_is_tried_again_later(
    world: tuple[FakeSlack, FakePrometheus, SlackNotifier],
) -> None:
    fake, prom, notifier = world
    assert notifier.graphs is not None
    notifier.graphs.prometheus = PrometheusClient("http://127.0.0.1:9")  # nothing listens
    await notifier.notify(_incident(), Event.DIAGNOSED)
    await notifier.settled()
    assert len(fake.posts(top_level=True)) == 1 and not fake.uploads
    notifier.graphs.prometheus = PrometheusClient(prom.url)
    await notifier.notify(_incident(), Event.DIAGNOSED)
    await notifier.settled()
    assert len(fake.uploads) == 1


def test_matplotlib_is_imported_only_when_a_graph_is_drawn() -> None:
    code = (
        "import sys, bot.cli, bot.notify.slack, bot.notify.graph, bot.notify.slack.graphs;"
        "assert 'matplotlib' not in sys.modules, 'imported at start-up'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
