"""Mitigation debt: Runbook 4 Scenario B's cut (MaxConcurrentProcesses 20 → 5) stays
listed until its undo ran; a non-mitigation action (a restart) is never listed."""

from __future__ import annotations

from datetime import UTC, datetime

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.config import bundled_rules_dir
from bot.models import ActionRun, Incident, IncidentStatus
from bot.registry import actions, probes
from bot.remediation.mitigations import in_place
from bot.rules import load_rules

T0 = datetime(2026, 11, 27, 3, tzinfo=UTC)


def incident(*runs: ActionRun, status: IncidentStatus = IncidentStatus.RESOLVED) -> Incident:
    return Incident(
        id="inc-llm",
        key="fp|t",
        fingerprint="fp",
        alertname="LlmApiRateLimit",
        rule="llm-provider-failover",
        status=status,
        starts_at=T0,
        runs=list(runs),
    )


def run(action: str, state: str = "verified", undo: str = "") -> ActionRun:
    return ActionRun(
        action=action,
        state=state,  # type: ignore[arg-type]
        run_id=action,
        undo={"type": "kubernetes.set_config", "params": {}, "description": undo} if undo else None,
        finished_at=T0,
    )


def test_a_verified_mitigation_stays_listed_until_undone() -> None:
    rules = load_rules(bundled_rules_dir(), probes, actions)
    cut = run("reduce-load", undo="set ProcessFramework.MaxConcurrentProcesses = 20")
    found = in_place([incident(cut, run("restart-app"))], rules)
    assert [(m.action, m.resolved) for m in found] == [("reduce-load", True)]
    assert "restore: `undo-reduce-load` (set ProcessFramework.MaxConcurrentProcesses = 20)" in (
        found[0].line()
    )
    assert in_place([incident(cut, run("undo-reduce-load"))], rules) == []
    # a failed undo leaves it in place; a failed mitigation never was
    assert len(in_place([incident(cut, run("undo-reduce-load", state="failed"))], rules)) == 1
    assert in_place([incident(run("reduce-load", state="failed"))], rules) == []
