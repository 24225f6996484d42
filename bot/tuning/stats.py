"""``honua-bot stats``: how each rule and action has fared, from the audit stream.

Every number is a count or a median over audit entries: ``diagnosed`` and
``resolved`` (the pipeline), ``requested`` / ``refused`` / ``would_have_run`` /
``started`` / ``succeeded`` / ``failed`` / ``verified`` / ``verification_failed``
(the remediation engine). An undo (``undo-NAME``) counts against NAME.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.audit import AuditEntry

UNDO = "undo-"


@dataclass
class ActionStats:
    rule: str
    action: str
    incidents: int = 0  # incidents whose diagnosis proposed it
    proposed: int = 0  # diagnoses that proposed it (a re-diagnosis counts again)
    pressed: int = 0  # requests by people (buttons, CLI)
    auto_requests: int = 0  # starts by auto / shadow mode
    refused: Counter[str] = field(default_factory=Counter)  # gate → count
    would_have_run: int = 0  # shadow mode
    executed: int = 0
    verified: int = 0
    failed: int = 0  # failed to execute or failed verification
    undone: int = 0
    to_action: list[float] = field(default_factory=list)  # seconds, alert → started
    to_verified: list[float] = field(default_factory=list)  # seconds, alert → verified
    resolve_with: list[float] = field(default_factory=list)  # incidents where it ran
    resolve_without: list[float] = field(default_factory=list)  # proposed, not run

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": self.action,
            "incidents": self.incidents,
            "proposed": self.proposed,
            "pressed": self.pressed,
            "auto_requests": self.auto_requests,
            "refused": dict(self.refused),
            "would_have_run": self.would_have_run,
            "executed": self.executed,
            "verified": self.verified,
            "failed": self.failed,
            "undone": self.undone,
            "median_alert_to_action_s": median(self.to_action),
            "median_alert_to_verified_s": median(self.to_verified),
            "median_resolve_with_s": median(self.resolve_with),
            "median_resolve_without_s": median(self.resolve_without),
            "resolved_with": len(self.resolve_with),
            "resolved_without": len(self.resolve_without),
        }


@dataclass
class RuleStats:
    rule: str
    incidents: int = 0
    scenarios: Counter[str] = field(default_factory=Counter)
    resolved: list[float] = field(default_factory=list)
    actions: dict[str, ActionStats] = field(default_factory=dict)

    def action(self, name: str) -> ActionStats:
        return self.actions.setdefault(name, ActionStats(self.rule, name))

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "incidents": self.incidents,
            "scenarios": dict(self.scenarios),
            "median_resolve_s": median(self.resolved),
            "actions": [a.as_dict() for a in self.actions.values()],
        }


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _alert_at(entry: AuditEntry) -> datetime | None:
    try:
        return datetime.fromisoformat(entry.alert_at) if entry.alert_at else None
    except ValueError:
        return None


def _position(entry: AuditEntry) -> tuple[int, int]:
    ms, _, seq = entry.id.partition("-")
    return int(ms or 0), int(seq or 0)


@dataclass
class _Incident:
    rule: str = ""
    alert_at: datetime | None = None
    proposed: set[str] = field(default_factory=set)
    ran: set[str] = field(default_factory=set)  # actions that executed successfully
    resolved_ms: float | None = None


def compute(entries: list[AuditEntry], rule_filter: str = "") -> list[RuleStats]:
    rules: dict[str, RuleStats] = {}
    incidents: dict[str, _Incident] = {}

    def rule_of(entry: AuditEntry) -> RuleStats:
        name = entry.rule or incidents.get(entry.incident, _Incident()).rule or "(no rule)"
        return rules.setdefault(name, RuleStats(name))

    for e in sorted(entries, key=_position):
        if rule_filter and e.rule != rule_filter:
            continue
        inc = incidents.setdefault(e.incident, _Incident())
        inc.rule = inc.rule or e.rule
        inc.alert_at = inc.alert_at or _alert_at(e)
        stats = rule_of(e)
        name = e.action.removeprefix(UNDO)
        if e.event == "diagnosed":
            stats.scenarios[e.scenario] += 1
            for line in e.plan:
                action = line.split(" ", 1)[0]
                a = stats.action(action)
                a.proposed += 1
                if action not in inc.proposed:
                    a.incidents += 1
                inc.proposed.add(action)
        elif e.event == "resolved" and e.duration_ms is not None:
            inc.resolved_ms = e.duration_ms
        elif e.action.startswith(UNDO):
            if e.event == "succeeded":
                stats.action(name).undone += 1
        elif e.event == "requested":
            a = stats.action(name)
            if e.actor == "auto":
                a.auto_requests += 1
            else:
                a.pressed += 1
        elif e.event == "refused":
            stats.action(name).refused[e.gate or "?"] += 1
        elif e.event == "would_have_run":
            stats.action(name).would_have_run += 1
        elif e.event == "started":
            a = stats.action(name)
            a.executed += 1
            if inc.alert_at:
                a.to_action.append((e.at - inc.alert_at).total_seconds())
        elif e.event == "succeeded":
            inc.ran.add(name)
        elif e.event in ("failed", "verification_failed"):
            stats.action(name).failed += 1
        elif e.event == "verified":
            a = stats.action(name)
            a.verified += 1
            if inc.alert_at:
                a.to_verified.append((e.at - inc.alert_at).total_seconds())
    # incidents counted once per rule; time to resolve split by whether each action ran
    for inc in incidents.values():
        if not inc.rule or inc.rule not in rules:
            continue
        stats = rules[inc.rule]
        stats.incidents += 1
        if inc.resolved_ms is None:
            continue
        seconds = inc.resolved_ms / 1000
        stats.resolved.append(seconds)
        for action in inc.proposed:
            a = stats.action(action)
            (a.resolve_with if action in inc.ran else a.resolve_without).append(seconds)
    return sorted(rules.values(), key=lambda r: r.rule)


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    value = round(value)
    if value >= 3600:
        return f"{value // 3600}h{(value % 3600) // 60:02d}m"
    if value >= 60:
        return f"{value // 60}m{value % 60:02d}s"
    return f"{value}s"


def report_lines(rules: list[RuleStats], since: str) -> list[str]:
    if not rules:
        return [f"no incidents or actions in the audit of the last {since}"]
    lines = []
    for r in rules:
        scenarios = ", ".join(f"{s} {n}" for s, n in r.scenarios.most_common())
        lines.append(
            f"rule {r.rule}: {r.incidents} incident(s), median time to resolve "
            f"{_secs(median(r.resolved))}" + (f"; scenarios: {scenarios}" if scenarios else "")
        )
        for a in r.actions.values():
            refused = ", ".join(f"{g} {n}" for g, n in a.refused.most_common()) or "0"
            lines.append(
                f"  {a.action}: proposed {a.proposed} (in {a.incidents} incidents), "
                f"pressed {a.pressed}, auto {a.auto_requests}, refused {refused}, "
                f"shadow would-have-run {a.would_have_run}, executed {a.executed}, "
                f"verified {a.verified}, failed {a.failed}, undone {a.undone}"
            )
            lines.append(
                f"    median alert→action {_secs(median(a.to_action))}, "
                f"alert→verified {_secs(median(a.to_verified))}; time to resolve "
                f"with it {_secs(median(a.resolve_with))} (n={len(a.resolve_with)}), "
                f"without {_secs(median(a.resolve_without))} (n={len(a.resolve_without)})"
            )
    return lines
