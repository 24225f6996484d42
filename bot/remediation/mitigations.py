"""Mitigation debt: temporary changes (a concurrency cut, rate limits, a provider
swap, a longer timeout) that worked and are still in place. A run of an action the
rule marks ``mitigation: true`` counts until a later ``undo-<action>`` run of the
same incident succeeded; its undo description says what restoring means
("set ProcessFramework.MaxConcurrentProcesses back to 20").

Once its incident has been resolved for a while, a mitigation is *due*: the
incident's thread offers to restore it (:mod:`bot.remediation.restore_offers`),
naming the values from the run's record ("MaxConcurrentProcesses is 5 (was 20)")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.models import ActionRun, Incident, IncidentStatus
from bot.rules import RuleSet

UNDO = "undo-"  # ``undo-NAME`` reverses a run of NAME
_DONE = ("verified", "done")
ABSENT = "(not set)"  # how a change records a key that did not exist


@dataclass(frozen=True)
class Mitigation:
    incident: str
    rule: str
    action: str
    since: datetime
    restore: str  # the undo's description, or "" when the action has no undo
    run_id: str = ""
    resolved_at: datetime | None = None  # None while the incident is open
    # the run's undo record: {"type", "params", "description", "changes"}
    undo: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def resolved(self) -> bool:
        return self.resolved_at is not None

    def line(self) -> str:
        state = "resolved" if self.resolved else "open"
        how = f"restore: `{UNDO}{self.action}` ({self.restore})" if self.restore else "no undo"
        return (
            f"{self.since:%Y-%m-%d %H:%M} {self.incident} ({state}) {self.rule}/{self.action} "
            f"in place; {how}"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "rule": self.rule,
            "action": self.action,
            "since": self.since.isoformat(),
            "restore": self.restore,
            "resolved": self.resolved,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }

    @property
    def changes(self) -> list[dict[str, Any]]:
        """What the run changed on its target: ``{"field", "before", "after"}`` each."""
        return list((self.undo or {}).get("changes") or [])


def undone_runs(runs: list[ActionRun]) -> set[str]:
    """The ids of the runs a successful ``undo-NAME`` reversed. An undo names its run
    (``undoes``); one recorded before undos did reverses the last run of NAME before
    it that said how to undo it and was not reversed yet."""
    out: set[str] = set()
    for i, run in enumerate(runs):
        if not run.action.startswith(UNDO) or run.state not in _DONE:
            continue
        reversed_id = run.undoes or _last_undoable(runs[:i], run.action, out)
        if reversed_id:
            out.add(reversed_id)
    return out


def _last_undoable(runs: list[ActionRun], undo_name: str, undone: set[str]) -> str:
    original = undo_name.removeprefix(UNDO)
    found = next(
        (r for r in reversed(runs) if r.action == original and r.undo and r.run_id not in undone),
        None,
    )
    return found.run_id if found else ""


def undone_run(runs: list[ActionRun], undo_name: str) -> ActionRun | None:
    """The run ``undo-NAME`` reverses now: the last run of NAME that said how to undo
    it and was not reversed already (two halvings: the second, then the first)."""
    run_id = _last_undoable(runs, undo_name, undone_runs(runs))
    return next((r for r in runs if r.run_id == run_id), None) if run_id else None


def in_place(incidents: Iterable[Incident], rules: RuleSet) -> list[Mitigation]:
    out = []
    for incident in incidents:
        rule = rules.get(incident.rule or "") if incident.rule else None
        if rule is None:
            continue
        resolved = incident.status is IncidentStatus.RESOLVED
        undone = undone_runs(incident.runs)
        for run in incident.runs:
            call = rule.actions.get(run.action)
            if call is None or not call.options.mitigation or run.state not in _DONE:
                continue
            if run.run_id in undone:
                continue
            out.append(
                Mitigation(
                    incident=incident.id,
                    rule=rule.name,
                    action=run.action,
                    since=run.finished_at or run.started_at,
                    restore=str((run.undo or {}).get("description") or ""),
                    run_id=run.run_id,
                    resolved_at=(incident.ends_at or incident.updated_at) if resolved else None,
                    undo=run.undo,
                )
            )
    return sorted(out, key=lambda m: m.since)


def due(mitigations: Iterable[Mitigation], now: datetime, after_seconds: float) -> list[Mitigation]:
    """The mitigations to offer restoring now: undoable, and their incident resolved
    at least ``after_seconds`` ago (0: none ever is). Whether one was offered
    already is the caller's marker, not decided here."""
    if after_seconds <= 0:
        return []
    wait = timedelta(seconds=after_seconds)
    # one per action: the undo reverses the last run; an earlier one is offered after
    last = {(m.incident, m.action): m for m in sorted(mitigations, key=lambda m: m.since)}
    return [
        m
        for m in last.values()
        if m.undo and m.resolved_at is not None and m.resolved_at + wait <= now
    ]


def _short(path: str) -> str:
    """``appsettings.yaml: ProcessFramework.MaxConcurrentProcesses`` → the key's last part."""
    return path.rsplit(": ", 1)[-1].rsplit(".", 1)[-1]


def _key(path: str) -> str:
    return path.rsplit(": ", 1)[-1]


def shown(value: Any) -> str:
    """A config value as YAML writes it; a string quoted, so "5" and 5 differ."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class RestoreOffer:
    text: str  # the thread's message
    label: str  # the button's text


def restore_offer(m: Mitigation) -> RestoreOffer:
    """ "Mitigation still in place: ProcessFramework.MaxConcurrentProcesses is 5 (was
    20). Restore?" with the button "Restore MaxConcurrentProcesses to 20"."""
    changes = m.changes
    if not changes:  # an older record: only the undo's own words
        what = m.restore or f"undo `{m.action}`"
        return RestoreOffer(
            f"Mitigation still in place: `{m.action}` (since {m.since:%Y-%m-%d %H:%M} UTC). "
            f"Restore ({what})?",
            f"Restore: undo {m.action}",
        )
    parts = []
    for c in changes:
        was = "not set" if c.get("before") == ABSENT else shown(c.get("before"))
        parts.append(f"{_key(str(c['field']))} is {shown(c.get('after'))} (was {was})")
    first = changes[0]
    before = first.get("before")
    label = (
        f"Restore {_short(str(first['field']))} to {shown(before)}"
        if before != ABSENT
        else f"Remove {_short(str(first['field']))}"
    )
    if len(changes) > 1:
        label += f" (+{len(changes) - 1} more)"
    return RestoreOffer(
        f"Mitigation still in place: {'; '.join(parts)} (`{m.action}`, since "
        f"{m.since:%Y-%m-%d %H:%M} UTC). Restore?",
        label,
    )
