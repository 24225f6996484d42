"""The remediation engine's settings, and what an action's params may template
over (the alert and the findings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.actions.base import Limits
from bot.config import RemediationSettings
from bot.models import Incident
from bot.rules import templates
from bot.safety.state import GateConfig


@dataclass(frozen=True)
class RunnerConfig:
    gates: GateConfig = field(default_factory=GateConfig)
    limits: Limits = field(default_factory=Limits)
    dedup_seconds: float = 120.0
    action_timeout: float = 600.0
    verify_interval: float = 30.0
    poll_interval: float = 1.0


def runner_config(remediation: RemediationSettings) -> RunnerConfig:
    s = remediation
    return RunnerConfig(
        gates=GateConfig(
            paused=s.paused,
            approval_ttl=s.approval_ttl_seconds,
            breaker_failures=s.breaker_failures,
            breaker_window=s.breaker_window_seconds,
            rule_runs_per_hour=s.rule_runs_per_hour,
            default_cooldown=s.default_cooldown_seconds,
        ),
        limits=Limits(s.max_replica_change, s.max_replicas, s.max_processes_per_action),
        dedup_seconds=s.action_dedup_seconds,
        action_timeout=s.action_timeout_seconds,
        verify_interval=s.verify_interval_seconds,
    )


def action_scope(incident: Incident) -> dict[str, Any]:
    """What an action's params may template over: the alert and the findings."""
    scope: dict[str, Any] = {
        "labels": dict(incident.labels),
        "annotations": dict(incident.annotations),
        "incident": {"id": incident.id, "alertname": incident.alertname},
    }
    if incident.diagnosis is not None:
        scope.update({n: f.as_cel_value() for n, f in incident.diagnosis.findings.items()})
    return scope


def render_action_params(
    params: dict[str, Any], scope: dict[str, Any], late: frozenset[str]
) -> dict[str, Any]:
    return {k: v if k in late else templates.render_params(v, scope) for k, v in params.items()}
