"""The remediation engine's gates, approvals, once-only lock, audit, undo and
crash recovery, over the memory store (the Redis store runs the same checks
across two instances in tests/integration/test_runner_redis.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.audit import AuditEntry
from bot.models import ProposedAction
from bot.remediation.config import RunnerConfig
from bot.remediation.requests import Actor, Verdict
from bot.safety.state import Approval, GateConfig, cooldown_remaining, valid_approvals
from bot.store import MemoryStore
from tests.helpers import wait_for
from tests.runner_support import EFFECTS, EngineKit, write_rule


@pytest.fixture(autouse=True)
def _clean_effects() -> None:
    EFFECTS.clear()


def kit(tmp_path: Path, **gates: object) -> EngineKit:
    return EngineKit(
        MemoryStore(), write_rule(tmp_path / "rules"), RunnerConfig(gates=GateConfig(**gates))
    )


async def test_a_click_runs_the_action_records_it_and_audits_every_step(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    decision = await k.act(incident.id, "touch")
    assert decision.verdict is Verdict.DONE, decision
    assert EFFECTS == {"a": ["cli:alice"]}
    stored = await k.store.get_incident(incident.id)
    assert stored is not None
    run = stored.runs[-1]
    assert (run.action, run.actor, run.state, run.target) == (
        "touch",
        "cli:alice",
        "done",
        "thing/a",
    )
    assert run.undo == {
        "type": "test.touch",
        "params": {"target": "a-undone"},
        "description": "untouch",
    }
    events = [e.event for e in await k.engine.audit.read("1h", incident=incident.id)]
    assert events == ["diagnosed", "requested", "started", "succeeded"]
    assert any("running `touch`" in a.text for a in stored.activity)


async def test_cooldown_refuses_a_second_run_on_the_same_target_and_says_how_long(
    tmp_path: Path,
) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    assert (await k.act(incident.id, "touch")).verdict is Verdict.DONE
    again = await k.act(incident.id, "touch", who="bob")
    assert again.verdict is Verdict.REFUSED and again.gate == "cooldown"
    assert "thing/a" in again.message
    assert re.search(r"cooldown_remaining (10m00s|9m5\ds)", again.message), again.message
    assert EFFECTS == {"a": ["cli:alice"]}
    refused = [e for e in await k.engine.audit.read("1h") if e.event == "refused"]
    assert refused[0].gate == "cooldown" and refused[0].actor == "cli:bob"


async def test_a_double_click_runs_once(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    first, second = await asyncio.gather(
        k.act(incident.id, "touch", nonce="n1"), k.act(incident.id, "touch", nonce="n1")
    )
    verdicts = sorted([first.verdict, second.verdict])
    assert verdicts == sorted([Verdict.DONE, Verdict.DUPLICATE]), (first, second)
    assert EFFECTS == {"a": ["cli:alice"]}


async def test_a_slow_action_is_not_started_twice_while_it_runs(tmp_path: Path) -> None:
    extra = "  slow:\n    test.touch: {target: s, hold: 0.5}\n    cooldown: 0s\n"
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules", extra))
    # the scenario lists its actions; add the slow one to it
    incident = await k.incident()
    assert incident.diagnosis is not None
    from bot.models import ProposedAction

    slow = ProposedAction(name="slow", type="test.touch", params={"target": "s", "hold": 0.5})
    a, b = await asyncio.gather(
        k.engine.run(incident, slow, Actor(id="alice")),
        k.engine.run(incident, slow, Actor(id="bob")),
    )
    assert sorted([a.verdict, b.verdict]) == sorted([Verdict.DONE, Verdict.DUPLICATE])
    assert len(EFFECTS["s"]) == 1


async def test_two_approvals_from_different_people_are_needed(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    first = await k.act(incident.id, "guarded", who="alice", source="slack")
    assert first.verdict is Verdict.NEEDS_APPROVAL and first.gate == "approvals"
    assert "1 so far (slack:alice)" in first.message
    again = await k.act(
        incident.id, "guarded", who="alice", source="slack"
    )  # the requester alone: not enough
    assert again.verdict is Verdict.NEEDS_APPROVAL
    assert "b" not in EFFECTS
    done = await k.act(incident.id, "guarded", who="bob", source="slack")
    assert done.verdict is Verdict.DONE, done
    assert EFFECTS == {"b": ["slack:bob"]}
    # approvals are spent: the next run needs two people again
    assert (
        await k.act(incident.id, "guarded", who="carol", source="slack")
    ).verdict is Verdict.NEEDS_APPROVAL


async def test_expired_approvals_do_not_count(tmp_path: Path) -> None:
    k = kit(tmp_path, approval_ttl=0.3)
    incident = await k.incident()
    assert (
        await k.act(incident.id, "guarded", who="alice", source="slack")
    ).verdict is Verdict.NEEDS_APPROVAL
    await wait_for(lambda: _no_approvals(k, incident.id), timeout=5)
    late = await k.act(incident.id, "guarded", who="bob", source="slack")
    assert late.verdict is Verdict.NEEDS_APPROVAL and "1 so far (slack:bob)" in late.message
    assert "b" not in EFFECTS


async def _no_approvals(k: EngineKit, incident_id: str) -> bool:
    return not await k.engine.safety.approvals(incident_id, "guarded")


def test_valid_approvals_keeps_distinct_people_within_the_ttl() -> None:
    got = valid_approvals(
        [Approval("a", 100), Approval("b", 10), Approval("a", 150), Approval("c", 160)], 200, 60
    )
    assert [(a.who, a.at) for a in got] == [("a", 150), ("c", 160)]
    assert cooldown_remaining(None, 5) == 0 and cooldown_remaining(10, 4) == 6


async def test_auto_mode_stops_on_the_kill_switch_and_says_who_paused(tmp_path: Path) -> None:
    k = kit(tmp_path)
    await k.engine.safety.pause("cli:ops", "deploy freeze")
    incident = await k.incident()
    action = next(a for a in incident.diagnosis.actions if a.name == "auto-touch")  # type: ignore[union-attr]
    decision = await k.engine.run(incident, action, Actor(id="auto", source="auto"))
    assert decision.gate == "paused"
    assert "paused by cli:ops: deploy freeze" in decision.message
    assert "d" not in EFFECTS
    # a human may still act while automatic actions are paused
    assert (await k.act(incident.id, "auto-touch")).verdict is Verdict.DONE
    await k.engine.safety.resume()
    assert await k.engine.safety.paused() == ""


async def test_auto_actions_start_after_the_diagnosis(tmp_path: Path) -> None:
    k = kit(tmp_path)
    k.pipeline.on_diagnosed = k.engine.run_auto
    await k.incident()
    await wait_for(lambda: EFFECTS.get("d") == ["auto"], timeout=5)
    await k.engine.wait_background(5)


async def test_max_per_hour(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    assert (await k.act(incident.id, "limited")).verdict is Verdict.DONE
    again = await k.act(incident.id, "limited", who="bob")
    assert again.gate == "rate_limit" and "max_per_hour 1" in again.message


async def test_the_rule_wide_hourly_cap(tmp_path: Path) -> None:
    k = kit(tmp_path, rule_runs_per_hour=2)
    incident = await k.incident()
    assert (await k.act(incident.id, "limited")).ok
    assert (await k.act(incident.id, "auto-touch")).ok
    third = await k.act(incident.id, "templated")
    assert third.gate == "rate_limit" and "rule touchy already ran 2 actions" in third.message


async def test_failed_runs_open_the_breaker_for_auto_mode_only(tmp_path: Path) -> None:
    k = kit(tmp_path, breaker_failures=2)
    incident = await k.incident()
    for who in ("alice", "bob"):
        failed = await k.act(incident.id, "broken", who=who)
        assert failed.verdict is Verdict.REFUSED and failed.gate == "execution"
        assert "the target refused" in failed.message
    from bot.models import ProposedAction

    broken = ProposedAction(name="broken", type="test.touch", params={"target": "e", "fail": True})
    auto = await k.engine.run(incident, broken, Actor(id="auto", source="auto"))
    assert auto.gate == "circuit_breaker" and "a human must decide" in auto.message
    # the chart's HonuaBotBreakerOpen alert: counted once, when it opened
    opened = k.pipeline.metrics.breaker_opened.labels("test.touch")
    assert opened._value.get() == 1
    human = await k.act(incident.id, "broken", who="carol")
    assert human.gate == "execution"  # a person may still try
    assert opened._value.get() == 1  # still the same open breaker
    stored = await k.store.get_incident(incident.id)
    assert stored is not None and stored.runs[-1].state == "failed"


async def test_dry_run_changes_nothing_and_shows_the_plan(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    preview = await k.act(incident.id, "touch", dry_run=True)
    assert (
        preview.verdict is Verdict.DONE and "Dry run, nothing changed: touch a" in preview.message
    )
    assert preview.details["target"] == "thing/a"
    assert EFFECTS == {}
    assert (await k.act(incident.id, "touch")).verdict is Verdict.DONE  # no cooldown from a preview
    events = [e.event for e in await k.engine.audit.read("1h")]
    assert events == ["diagnosed", "dry_run", "requested", "started", "succeeded"]


async def test_params_are_templated_from_the_alert(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    assert (await k.act(incident.id, "templated")).verdict is Verdict.DONE
    assert EFFECTS == {"pod-1": ["cli:alice"]}


async def test_an_empty_templated_target_is_refused_naming_the_field(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    stored = await k.store.get_incident(incident.id)
    assert stored is not None
    stored.labels.pop("pod")
    await k.store.save_incident(stored, 3600)
    refused = await k.act(incident.id, "templated")
    assert refused.gate == "input" and "target" in refused.message
    assert EFFECTS == {}


async def test_undo_runs_the_reverse_action_of_the_last_run(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    await k.act(incident.id, "touch")
    undone = await k.act(incident.id, "undo-touch", who="bob")
    assert undone.verdict is Verdict.DONE, undone
    assert EFFECTS["a-undone"] == ["cli:bob"]
    nothing = await k.act(incident.id, "undo-limited")
    assert nothing.gate == "stale"


async def test_a_run_interrupted_by_a_crash_is_reported_as_outcome_unknown(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    # what a replica leaves behind when it dies between "started" and the outcome
    await k.engine.audit.record(
        AuditEntry(event="started", incident=incident.id, action="touch", run="r1", actor="cli:x")
    )
    reported = await k.engine.recover()
    assert [e.run for e in reported] == ["r1"]
    entries = await k.engine.audit.read("1h")
    assert (
        entries[-1].event == "outcome_unknown" and "started, outcome unknown" in entries[-1].message
    )
    assert await k.engine.recover() == []  # reported once


async def test_a_refused_request_on_a_resolved_incident_is_stale(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    stored = await k.store.get_incident(incident.id)
    assert stored is not None
    from bot.models import IncidentStatus

    stored.status = IncidentStatus.RESOLVED
    await k.store.save_incident(stored, 3600)
    refused = await k.act(incident.id, "touch")
    assert refused.gate == "stale" and EFFECTS == {}


async def test_a_verification_cut_short_by_shutdown_is_recorded_not_left_running(
    tmp_path: Path,
) -> None:
    from bot.adapters.prometheus import PrometheusClient
    from tests.helpers import free_port

    validation = 'validation:\n  - {expr: "up", holds: "value == 1.0", for: 1m, within: 10m}\n'
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules", validation))
    # a Prometheus that refuses connections: the verification keeps polling
    k.engine.adapters.prometheus_client = PrometheusClient(f"http://127.0.0.1:{free_port()}")
    incident = await k.incident()
    decision = await k.act(incident.id, "touch")
    assert decision.verdict is Verdict.ACCEPTED and "Verifying" in decision.message
    stored = await k.store.get_incident(incident.id)
    assert stored is not None and stored.runs[-1].state == "verifying"
    await k.engine.aclose()
    stored = await k.store.get_incident(incident.id)
    assert stored is not None
    assert stored.runs[-1].state == "done"
    assert "not followed to the end" in stored.runs[-1].detail
    events = [e.event for e in await k.engine.audit.read("1h")]
    assert events[-1] == "verification_abandoned"
    assert await k.engine.recover() == []  # not mistaken for a crash mid-action


def _touch(target: str, **params: object) -> ProposedAction:
    return ProposedAction(name="touch", type="test.touch", params={"target": target, **params})


async def test_two_incidents_cannot_both_pass_one_targets_cooldown(tmp_path: Path) -> None:
    k = kit(tmp_path)
    first = await k.incident()
    second = await k.incident(
        fingerprint="fp-0002", instance="other"
    )  # another alert about the same target
    assert first.id != second.id
    a, b = await asyncio.gather(
        k.engine.run(first, _touch("a", hold=0.3), Actor(id="auto", source="auto")),
        k.engine.run(second, _touch("a", hold=0.3), Actor(id="auto", source="auto")),
    )
    assert sorted(d.verdict for d in (a, b)) == sorted([Verdict.DONE, Verdict.REFUSED])
    refused = a if a.verdict is Verdict.REFUSED else b
    assert refused.gate in ("busy", "cooldown"), refused
    assert EFFECTS == {"a": ["auto"]}


async def test_auto_mode_stops_while_the_store_is_degraded(tmp_path: Path) -> None:
    class Degraded(MemoryStore):
        degraded = True

    k = EngineKit(Degraded(), write_rule(tmp_path / "rules"))
    incident = await k.incident()
    auto = await k.engine.run(incident, _touch("d"), Actor(id="auto", source="auto"))
    assert auto.gate == "paused" and "degraded" in auto.message
    guarded = await k.act(incident.id, "guarded")
    assert guarded.gate == "approvals" and "shared store" in guarded.message
    assert (await k.act(incident.id, "touch")).verdict is Verdict.DONE  # people still may
    assert EFFECTS == {"a": ["cli:alice"]}


async def test_one_person_through_two_channels_is_one_approval(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    slack = Actor(id="U0ALICE", source="slack")
    cli = Actor(id="U0ALICE", source="cli")
    d = await k.requests.request_action(incident.id, "guarded", slack)
    assert d.verdict is Verdict.NEEDS_APPROVAL, d
    d = await k.requests.request_action(incident.id, "guarded", cli)
    assert d.verdict is Verdict.REFUSED and d.gate == "approvals", d  # not a person
    assert "b" not in EFFECTS


async def test_cli_names_cannot_make_up_several_approvers(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    for who in ("alice", "bob"):  # one shell, two --as names
        d = await k.act(incident.id, "guarded", who=who)
        assert d.verdict is Verdict.REFUSED and "Slack button" in d.message, d
    assert "b" not in EFFECTS
    await k.act(incident.id, "guarded", who="U0ALICE", source="slack")
    assert (
        await k.act(incident.id, "guarded", who="U0BOB", source="slack")
    ).verdict is Verdict.DONE
    entries = await k.engine.audit.read("1h", incident=incident.id)
    assert {e.auth for e in entries} >= {"unauthenticated-cli", "slack-signed-request"}
    assert any("auth=slack-signed-request" in e.line() for e in entries)


async def test_undo_of_an_approved_action_needs_the_same_approvals(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    await k.act(incident.id, "guarded", who="alice", source="slack")
    assert (await k.act(incident.id, "guarded", who="bob", source="slack")).verdict is Verdict.DONE
    undo = await k.act(incident.id, "undo-guarded", who="mallory", source="slack")
    assert undo.verdict is Verdict.NEEDS_APPROVAL
    assert "b-undone" not in EFFECTS


async def test_a_crash_while_planning_leaves_the_button_usable(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    crash = _touch("a", crash=True)
    failed = await k.engine.run(incident, crash, Actor(id="alice", source="slack"), "n-1")
    assert failed.gate == "engine" and "KeyError" in failed.message
    retry = await k.engine.run(incident, _touch("a"), Actor(id="bob", source="slack"), "n-1")
    assert retry.verdict is Verdict.DONE, retry


async def test_an_action_interrupted_by_shutdown_is_recorded_as_unknown(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    task = asyncio.create_task(k.engine.run(incident, _touch("z", hold=30), Actor(id="alice")))

    async def running() -> bool:
        stored = await k.store.get_incident(incident.id)
        return bool(stored and stored.runs and stored.runs[-1].state == "running")

    await wait_for(running, timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await k.store.get_incident(incident.id)
    assert stored is not None and stored.runs[-1].state == "unknown"
    assert "interrupted" in stored.runs[-1].detail
    assert [e.event for e in await k.engine.audit.read("1h")][-1] == "outcome_unknown"
