from __future__ import annotations

import io
from datetime import UTC, datetime

from bot.models import Diagnosis, Finding, Incident, ProposedAction
from bot.notify import ConsoleNotifier, Event


def _incident() -> Incident:
    return Incident(
        id="inc-abc123",
        key="fp|t",
        fingerprint="fp",
        alertname="HighProcessFailureRate",
        severity="P2",
        starts_at=datetime(2026, 11, 27, 3, tzinfo=UTC),
        generator_url="http://prometheus:9090/graph?g0.expr=x",
        diagnosis=Diagnosis(
            rule="high-process-failure-rate",
            scenario="llm-rate-limit",
            summary='37 failures with "429 Too Many Requests"',
            findings={
                "failure_rate": Finding(
                    probe="failure_rate",
                    type="prometheus.query",
                    ok=True,
                    data={"value": 23.456789, "series": [{}, {}]},
                ),
                "failures": Finding(
                    probe="failures",
                    type="processes.list",
                    ok=True,
                    data={"count": 42, "top": {"message": "429 Too Many Requests", "count": 37}},
                ),
                "redis": Finding(
                    probe="redis",
                    type="redis.health",
                    ok=False,
                    error="connection refused: redis-0.redis:6379",
                ),
            },
            actions=[
                ProposedAction(
                    name="halve-concurrency",
                    type="kubernetes.patch_config",
                    description="halve MaxConcurrentProcesses [at least 1]",
                )
            ],
        ),
    )


async def test_console_shows_scenario_numbers_failures_and_actions() -> None:
    out = io.StringIO()
    await ConsoleNotifier(stream=out, width=200).notify(_incident(), Event.DIAGNOSED)
    text = out.getvalue()
    assert "HighProcessFailureRate" in text and "inc-abc123" in text and "[P2]" in text
    assert "scenario: llm-rate-limit" in text
    assert "value=23.46" in text and "series: 2" in text  # numbers, lists as counts
    assert "count=42" in text and "message=429 Too Many Requests" in text
    assert "FAILED: connection refused: redis-0.redis:6379" in text
    assert "halve-concurrency: halve MaxConcurrentProcesses [at least 1]" in text  # no markup eaten


async def test_console_resolved_state() -> None:
    out = io.StringIO()
    await ConsoleNotifier(stream=out, width=200).notify(_incident(), Event.RESOLVED)
    assert "RESOLVED" in out.getvalue()
