"""Mitigation debt: temporary changes (a concurrency cut, rate limits, a provider
swap, a longer timeout) that worked and are still in place. A run of an action the
rule marks ``mitigation: true`` counts until a later ``undo-<action>`` run of the
same incident succeeded; its undo description says what restoring means
("set ProcessFramework.MaxConcurrentProcesses back to 20")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.models import Incident
from bot.rules import RuleSet

UNDO_PREFIX = "undo-"
_DONE = ("verified", "done")


@dataclass(frozen=True)
class Mitigation:
    incident: str
    rule: str
    action: str
    since: datetime
    restore: str  # the undo's description, or "" when the action has no undo
    resolved: bool

    def line(self) -> str:
        state = "resolved" if self.resolved else "open"
        how = (
            f"restore: `{UNDO_PREFIX}{self.action}` ({self.restore})" if self.restore else "no undo"
        )
        return (
            f"{self.since:%Y-%m-%d %H:%M} {self.incident} ({state}) {self.rule}/{self.action} "
            f"in place; {how}"
        )


def in_place(incidents: Iterable[Incident], rules: RuleSet) -> list[Mitigation]:
    out = []
    for incident in incidents:
        rule = rules.get(incident.rule or "") if incident.rule else None
        if rule is None:
            continue
        for i, run in enumerate(incident.runs):
            call = rule.actions.get(run.action)
            if call is None or not call.options.mitigation or run.state not in _DONE:
                continue
            undone = any(
                later.action == UNDO_PREFIX + run.action and later.state in _DONE
                for later in incident.runs[i + 1 :]
            )
            if undone:
                continue
            out.append(
                Mitigation(
                    incident=incident.id,
                    rule=rule.name,
                    action=run.action,
                    since=run.finished_at or run.started_at,
                    restore=str((run.undo or {}).get("description") or ""),
                    resolved=incident.status.value == "resolved",
                )
            )
    return sorted(out, key=lambda m: m.since)
