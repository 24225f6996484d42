"""How a run shows on its incident: an :class:`ActionRun` whose state moves
running → verifying → verified / failed, plus a timeline line per step, each
change saved under the incident's lock and then notified."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.logs import get_logger
from bot.models import ActionRun, Activity, Event, Incident, IncidentStatus, Notifier

if TYPE_CHECKING:
    from bot.actions.base import Outcome, Plan
    from bot.remediation.requests import IncidentChanger

log = get_logger("runner")
LOCK_WAIT = 15.0


class RunRecorder:
    def __init__(self, incidents: IncidentChanger, notifier: Notifier) -> None:
        self.incidents = incidents
        self.notifier = notifier

    async def _change(self, incident_id: str, change: Callable[[Incident], bool]) -> None:
        try:
            incident = await self.incidents.change_incident(incident_id, change, LOCK_WAIT)
        except TimeoutError as exc:
            log.warning("run not recorded on the incident", incident=incident_id, error=str(exc))
            return
        if incident is None:
            return
        try:
            await self.notifier.notify(incident, Event.UPDATED)
        except Exception as exc:  # recorded; only the display lags
            log.warning("run not shown by the notifier", incident=incident_id, error=str(exc))

    async def note(self, incident_id: str, text: str, actor: str) -> None:
        def change(incident: Incident) -> bool:
            incident.activity.append(Activity(text=text, actor=actor))
            return True

        await self._change(incident_id, change)

    async def started(
        self, incident_id: str, action: str, actor: str, run_id: str, plan: Plan
    ) -> None:
        def change(incident: Incident) -> bool:
            incident.runs.append(
                ActionRun(action=action, actor=actor, run_id=run_id, target=plan.target)
            )
            text = f"running `{action}`: {plan.summary}"
            changes = [c.text() for c in plan.changes[:10]]
            if changes:
                text += "\n" + "\n".join(f"• {c}" for c in changes)
            incident.activity.append(Activity(text=text, actor=actor))
            return True

        await self._change(incident_id, change)

    async def finished(self, incident_id: str, run_id: str, state: str, outcome: Outcome) -> None:
        def change(incident: Incident) -> bool:
            run = _find(incident, run_id)
            if run is None:
                return False
            run.state = state  # type: ignore[assignment]
            run.detail = outcome.message
            if outcome.undo is not None:
                run.undo = {
                    "type": outcome.undo.type,
                    "params": outcome.undo.params,
                    "description": outcome.undo.description,
                }
                # what the run left on its target: a restore offer names the values,
                # and the undo refuses when someone changed them since
                left = [
                    {"field": c.field, "before": jsonable(c.before), "after": jsonable(c.after)}
                    for c in outcome.changes
                    if c.target == run.target
                ]
                if left:
                    run.undo["changes"] = left
            if state != "verifying":
                run.finished_at = datetime.now(UTC)
            verb = {"failed": "failed", "verifying": "done; verifying", "done": "done"}[state]
            text = f"`{run.action}` {verb}: {outcome.message}"
            if state == "failed" and run.undo:
                text += f"\nUndo available: `undo-{run.action}`"
            incident.activity.append(Activity(text=text, actor="honua-bot"))
            _say_restored(incident, run)
            return True

        await self._change(incident_id, change)

    async def progress(self, incident_id: str, run_id: str, lines: list[str]) -> None:
        """The validation's latest reading, shown while the run is verified."""

        def change(incident: Incident) -> bool:
            run = _find(incident, run_id)
            if run is None or run.state != "verifying" or run.progress == lines:
                return False
            run.progress = list(lines)
            return True

        await self._change(incident_id, change)

    async def verified(self, incident_id: str, run_id: str, state: str, message: str) -> None:
        def change(incident: Incident) -> bool:
            run = _find(incident, run_id)
            if run is None:
                return False
            run.state = state  # type: ignore[assignment]
            run.detail = message
            run.finished_at = datetime.now(UTC)
            icon = {
                "verified": "verified",
                "failed": "NOT verified",
                "unknown": "outcome unknown",
                "done": "done, not verified",
            }
            text = f"`{run.action}` {icon.get(state, state)}: {message}"
            if state == "failed" and run.undo:
                text += f"\nUndo available: `undo-{run.action}` ({run.undo.get('description', '')})"
            incident.activity.append(Activity(text=text, actor="honua-bot"))
            _say_restored(incident, run)
            return True

        await self._change(incident_id, change)


def _say_restored(incident: Incident, run: ActionRun) -> None:
    """An undo that succeeded after the incident resolved restored a mitigation
    (the only undo a resolved incident accepts): say so, by whom."""
    if (
        incident.status is IncidentStatus.RESOLVED
        and run.action.startswith("undo-")
        and run.state in ("done", "verified")
    ):
        original = run.action.removeprefix("undo-")
        incident.activity.append(
            Activity(text=f"mitigation `{original}` restored; no longer in place", actor=run.actor)
        )


def jsonable(value: Any) -> Any:
    """A config value as JSON keeps it (YAML libraries hand out subclasses of these)."""
    if value is None or isinstance(value, bool):
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def _find(incident: Incident, run_id: str) -> ActionRun | None:
    return next((r for r in reversed(incident.runs) if r.run_id == run_id), None)
