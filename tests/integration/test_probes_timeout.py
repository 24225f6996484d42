"""A probe that times out, errors or cannot connect becomes a finding, never a crash.

A small aiohttp server on loopback plays the process API (and Prometheus, so the
other probes have something real to answer); the bot is pointed at it and an
alert is posted over HTTP, as Alertmanager would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.models import Incident
from tests.helpers import BotHarness, alert, free_port, notification, wait_for

FAILURE_RATE = 23.5

# Runbook 1's probes and two of its scenarios, pinned here so that these tests of
# the probe machinery do not move when the bundled rule grows more probes.
RULE = """\
name: probe-failures
match:
  alertname: HighProcessFailureRate
probes:
  failure_rate:
    prometheus.query:
      expr: "rate(honua_process_failures_total[5m]) / rate(honua_process_started_total[5m]) * 100"
  llm_rate_limit:
    prometheus.query:
      expr: 'sum(rate(honua_llm_errors_total{error_type="rate_limit"}[5m]))'
  failures:
    processes.list: {status: Failed, since: 1h, group_by: errorMessage, top: 5}
diagnosis:
  - scenario: llm-rate-limit
    when: 'failures.ok && failures.top.message.contains("429")'
    summary: '{{ failures.top.count }} failures with "{{ failures.top.message }}"'
  - scenario: high-failure-rate
    when: 'failure_rate.ok && failure_rate.value != null && failure_rate.value > 10.0'
    summary: >-
      failure rate {{ failure_rate.value | round(1) }} %;
      process API: {{ failures.error if not failures.ok else "answered" }}
"""
PROBES = {"failure_rate", "llm_rate_limit", "failures"}


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    (folder / "probe-failures.yaml").write_text(RULE, encoding="utf-8")
    return folder


class FakeTarget:
    """Process API + Prometheus query API with a switchable behaviour for /api/processes."""

    def __init__(self, processes: str = "ok", failed: list[dict[str, Any]] | None = None) -> None:
        self.processes = processes  # ok | hang | error
        self.failed = failed or []
        self.release = asyncio.Event()  # set at teardown so a hanging handler can finish
        self.requests: list[tuple[str, dict[str, str]]] = []

    async def list_processes(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        if self.processes == "hang":
            await self.release.wait()
        if self.processes == "error":
            return web.Response(status=500, text="NullReferenceException in ProcessController")
        return web.json_response(self.failed)

    async def query(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        expr = request.query.get("query", "")
        value = "0" if "honua_llm_errors_total" in expr else str(FAILURE_RATE)
        return web.json_response(
            {
                "status": "success",
                "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, value]}]},
            }
        )


@asynccontextmanager
async def serve(target: FakeTarget) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/api/processes", target.list_processes)
    app.router.add_get("/api/v1/query", target.query)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        target.release.set()
        await runner.cleanup()


async def diagnose_one(bot: BotHarness, fingerprint: str, timeout: float = 10) -> Incident:
    resp = await bot.post(notification(alert(fingerprint=fingerprint)))
    assert resp.status_code == 200, resp.text
    events = await wait_for(lambda: bot.recorder.events, timeout=timeout)
    incident = events[0][1]
    assert incident.diagnosis is not None
    return incident


async def test_a_probe_that_never_answers_times_out_into_a_finding(rules: Path) -> None:
    target = FakeTarget(processes="hang")
    async with (
        serve(target) as url,
        BotHarness(rules=rules, process_api_url=url, prometheus_url=url, probe_timeout=0.5) as bot,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        incident = await diagnose_one(bot, "fp-timeout")
        elapsed = loop.time() - started

        d = incident.diagnosis
        assert d is not None
        failures = d.findings["failures"]
        assert failures.ok is False
        assert failures.error == "timed out after 0.5 s"
        assert failures.data is None
        assert 400 <= failures.duration_ms < 2000, failures.duration_ms
        # the request did reach the hanging endpoint; the bot gave up on it
        assert ("/api/processes", {"status": "Failed", "since": "1h"}) in target.requests

        # the other probes ran concurrently and still reported
        assert set(d.findings) == PROBES
        assert d.findings["failure_rate"].ok, d.findings["failure_rate"]
        assert d.findings["failure_rate"].data["value"] == FAILURE_RATE
        assert d.findings["llm_rate_limit"].ok
        assert d.findings["llm_rate_limit"].data["value"] == 0

        # and the diagnosis completed, with the timed-out finding visible to templates
        assert d.rule == "probe-failures"
        assert d.scenario == "high-failure-rate", d
        assert d.summary == "failure rate 23.5 %; process API: timed out after 0.5 s"
        assert [f.probe for f in d.failed_probes] == ["failures"]
        # the worker was not held up for the process API's own (10 s) client timeout
        assert elapsed < 5, elapsed

        # a second alert is diagnosed just the same: nothing got wedged
        bot.recorder.events.clear()
        again = await diagnose_one(bot, "fp-timeout-2")
        assert again.diagnosis is not None
        assert again.diagnosis.findings["failures"].error == "timed out after 0.5 s"

        # the probe histogram records the timeout as an error
        metrics = (await bot.http.get("/metrics")).text
        assert (
            'honua_bot_probe_duration_seconds_count{outcome="error",probe="processes.list"} 2.0'
            in metrics
        )


async def test_when_every_probe_fails_the_diagnosis_is_unclassified_naming_them(
    rules: Path,
) -> None:
    target = FakeTarget(processes="hang")
    async with (
        serve(target) as url,
        BotHarness(rules=rules, process_api_url=url, probe_timeout=0.5) as bot,
    ):
        incident = await diagnose_one(bot, "fp-all-failed")
    d = incident.diagnosis
    assert d is not None
    assert d.scenario == "unclassified"
    assert set(d.findings) == PROBES
    assert d.findings["failures"].error == "timed out after 0.5 s"
    assert "HONUA_BOT_PROMETHEUS_URL" in (d.findings["failure_rate"].error or "")
    # Prometheus is not set up: "not checked" with its setting, never also "failed"
    assert d.summary.endswith("probes that failed: failures"), d.summary
    assert [(u.probe, u.setting) for u in d.unchecked] == [
        ("failure_rate", "HONUA_BOT_PROMETHEUS_URL"),
        ("llm_rate_limit", "HONUA_BOT_PROMETHEUS_URL"),
    ]


async def test_process_api_http_500_is_a_finding(rules: Path) -> None:
    target = FakeTarget(processes="error")
    async with (
        serve(target) as url,
        BotHarness(rules=rules, process_api_url=url, prometheus_url=url) as bot,
    ):
        incident = await diagnose_one(bot, "fp-http-500")
    d = incident.diagnosis
    assert d is not None
    failures = d.findings["failures"]
    assert failures.ok is False
    where = url.removeprefix("http://")
    assert failures.error is not None
    assert failures.error.startswith(f"HTTP 500 from process API {where}/api/processes"), (
        failures.error
    )
    assert "NullReferenceException" in failures.error  # the body's start, for the engineer
    assert d.findings["failure_rate"].ok
    assert d.scenario == "high-failure-rate"
    assert d.summary.endswith(f"process API: {failures.error}")


async def test_process_api_connection_refused_is_a_finding(rules: Path) -> None:
    port = free_port()  # nothing listens here
    async with BotHarness(rules=rules, process_api_url=f"http://127.0.0.1:{port}") as bot:
        incident = await diagnose_one(bot, "fp-refused")
    d = incident.diagnosis
    assert d is not None
    failures = d.findings["failures"]
    assert failures.ok is False
    assert failures.error == f"connection refused: process API 127.0.0.1:{port}"
    assert d.scenario == "unclassified"
    assert "failures" in d.summary


async def test_working_process_api_gives_llm_rate_limit_with_counts() -> None:
    failed = [
        {
            "processId": f"proc-{i:03d}",
            "processType": "DocumentIngestion",
            "status": "Failed",
            "errorMessage": "429 Too Many Requests",
            "startedAt": "2026-11-27T02:40:00Z",
            "currentStep": "SummariseWithLlm",
        }
        for i in range(30)
    ] + [
        {
            "processId": f"proc-t{i}",
            "processType": "DocumentIngestion",
            "status": "Failed",
            "errorMessage": "Timeout exceeded",
            "startedAt": "2026-11-27T02:41:00Z",
        }
        for i in range(4)
    ]
    target = FakeTarget(processes="ok", failed=failed)
    # the bundled Runbook 1 rule, on purpose: this is the diagnosis users get
    async with serve(target) as url, BotHarness(process_api_url=url) as bot:
        incident = await diagnose_one(bot, "fp-429")
    d = incident.diagnosis
    assert d is not None
    assert d.scenario == "llm-rate-limit", d
    failures = d.findings["failures"]
    assert failures.ok
    assert failures.data["count"] == 34
    assert failures.data["top"] == {
        "key": "429 Too Many Requests",
        "message": "429 Too Many Requests",
        "count": 30,
    }
    assert [g["count"] for g in failures.data["groups"]] == [30, 4]
    assert 'LLM rate limiting: 30 failures with "429 Too Many Requests"' in d.summary
    assert "rate-limit errors n/a/s" in d.summary  # Prometheus is not configured here
    assert [a.name for a in d.actions] == ["halve-concurrency", "silence-1h"]
    assert ("/api/processes", {"status": "Failed", "since": "1h"}) in target.requests
