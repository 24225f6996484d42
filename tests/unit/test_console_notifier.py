from __future__ import annotations

import io
from datetime import UTC, datetime

from bot.models import (
    ActionRun,
    Activity,
    Diagnosis,
    Fact,
    Finding,
    Incident,
    IncidentStatus,
    ProposedAction,
    ScenarioCheck,
)
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
    assert "[P2] HighProcessFailureRate" in text
    assert "Awaiting decision · llm-rate-limit · inc-abc123" in text
    # no rule display here: numbers in words, never key=value
    assert "failure_rate: value 23.46 · series 2 items" in text
    assert 'failures: count 42 · top "429 Too Many Requests" \u00d7 37' in text
    assert "=" not in text.replace("g0.expr=x", "")
    assert "could not read redis: connection refused: redis-0.redis:6379" in text
    assert "→ [button] halve-concurrency: halve MaxConcurrentProcesses [at least 1]" in text


async def test_console_shows_the_rules_facts_why_and_what_was_not_checked() -> None:
    incident = _incident()
    assert incident.diagnosis is not None
    d = incident.diagnosis
    d.facts = [
        Fact(probe="failure_rate", label="Failure rate", text="23.5 %", threshold="alert at 10 %")
    ]
    d.why = [
        ScenarioCheck(
            scenario="llm-rate-limit",
            held=True,
            clauses=["llm_rate_limit.value > 0.0 (llm_rate_limit.value = 1.7)"],
        )
    ]
    d.findings["redis"] = Finding(
        probe="redis",
        type="redis.health",
        ok=False,
        configured=False,
        error="target Redis is not configured (set HONUA_BOT_TARGET_REDIS_URL)",
    )
    out = io.StringIO()
    await ConsoleNotifier(stream=out, width=60).notify(incident, Event.DIAGNOSED)
    # a narrow terminal wraps lines instead of cutting them
    flat = out.getvalue().replace("│", "").replace("\n", "").replace(" ", "")
    assert "FailureRate:23.5%(alertat10%)" in flat.replace("Failurerate", "FailureRate")
    assert "why:llm_rate_limit.value>0.0(llm_rate_limit.value=1.7)→llm-rate-limit" in flat
    # the hint whole, listed once: not checked, not failed
    assert "notcheckedredis(targetRedis):setHONUA_BOT_TARGET_REDIS_URL" in flat
    assert "couldnotreadredis" not in flat and "…" not in out.getvalue()


async def test_one_panel_per_change_of_state_and_a_line_for_what_happens_between() -> None:
    out = io.StringIO()
    console = ConsoleNotifier(stream=out, width=120)
    incident = _incident()
    await console.notify(incident, Event.DIAGNOSED)
    await console.notify(incident, Event.UPDATED)  # nothing new: nothing printed
    run = ActionRun(action="halve-concurrency", actor="cli:demo", run_id="r1")
    running = incident.model_copy(update={"runs": [run]})
    await console.notify(running, Event.UPDATED)
    verifying = running.model_copy(deep=True)
    verifying.runs[-1].state = "verifying"
    verifying.activity.append(
        Activity(text="`halve-concurrency` done; verifying", actor="honua-bot")
    )
    await console.notify(verifying, Event.UPDATED)
    polled = verifying.model_copy(deep=True)
    polled.runs[-1].progress = ["`rate` = 3.2 (target value < 5.0): held 4 min of 10 min"]
    await console.notify(polled, Event.UPDATED)
    await console.notify(polled, Event.UPDATED)  # the same poll again: nothing
    text = out.getvalue()
    assert text.count("╭") == 3  # diagnosed, running, verifying: one panel each
    assert text.count("held 4 min of 10 min") == 1
    assert "inc-abc123 · verifying: `rate` = 3.2 (target value < 5.0): held 4 min of 10 min" in text


async def test_console_resolved_state() -> None:
    out = io.StringIO()
    await ConsoleNotifier(stream=out, width=200).notify(_incident(), Event.RESOLVED)
    assert "Resolved" in out.getvalue()


async def test_a_restore_offered_after_resolution_is_one_line_naming_the_cli_twin() -> None:
    out = io.StringIO()
    console = ConsoleNotifier(stream=out, width=400)
    resolved = _incident().model_copy(update={"status": IncidentStatus.RESOLVED})
    await console.notify(resolved, Event.RESOLVED)
    offered = resolved.model_copy(deep=True)
    offered.activity.append(
        Activity(
            text="Mitigation still in place: ProcessFramework.MaxConcurrentProcesses is 5 "
            "(was 20). Restore?",
            actor="honua-bot",
            offer="undo-halve-concurrency",
            offer_label="Restore MaxConcurrentProcesses to 20",
        )
    )
    await console.notify(offered, Event.UPDATED)
    text = out.getvalue()
    assert text.count("╭") == 1  # the resolved panel once; the offer is a line
    assert (
        "inc-abc123 · Mitigation still in place: ProcessFramework.MaxConcurrentProcesses is 5 "
        "(was 20). Restore? [Restore MaxConcurrentProcesses to 20: honua-bot act inc-abc123 "
        "undo-halve-concurrency] — honua-bot"
    ) in text
