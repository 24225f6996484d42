"""How a run shows on its incident: an :class:`ActionRun` whose state moves
running → verifying → verified / failed, plus a timeline line per step, each
change saved under the incident's lock and then notified."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ruamel.yaml.scalarbool import ScalarBoolean

from bot.logs import get_logger
from bot.models import ActionRun, Activity, Event, Incident, IncidentStatus, Notifier
from bot.remediation.mitigations import UNDO, undone_run
from bot.store import keys

if TYPE_CHECKING:
    from bot.actions.base import Outcome, Plan
    from bot.remediation.requests import IncidentChanger
    from bot.store import Store

log = get_logger("runner")
LOCK_WAIT = 15.0


class RunRecorder:
    def __init__(
        self, incidents: IncidentChanger, notifier: Notifier, store: Store | None = None
    ) -> None:
        self.incidents = incidents
        self.notifier = notifier
        self.store = store  # where the restore offers' index is kept (None: not kept)

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
            # an undo names the run it reverses: an earlier run of NAME stays in place
            reverses = undone_run(incident.runs, action) if action.startswith(UNDO) else None
            incident.runs.append(
                ActionRun(
                    action=action,
                    actor=actor,
                    run_id=run_id,
                    target=plan.target,
                    undoes=reverses.run_id if reverses else "",
                )
            )
            text = f"running `{action}`: {plan.summary}"
            changes = [c.text() for c in plan.changes[:10]]
            if changes:
                text += "\n" + "\n".join(f"• {c}" for c in changes)
            incident.activity.append(Activity(text=text, actor=actor))
            return True

        await self._change(incident_id, change)

    async def finished(self, incident_id: str, run_id: str, state: str, outcome: Outcome) -> None:
        undoing = False

        def change(incident: Incident) -> bool:
            nonlocal undoing
            run = _find(incident, run_id)
            if run is None:
                return False
            undoing = run.action.startswith(UNDO)
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
                text += f"\nUndo available: `{UNDO}{run.action}`"
            incident.activity.append(Activity(text=text, actor="honua-bot"))
            _say_restored(incident, run)
            return True

        await self._change(incident_id, change)
        if state != "failed" and (outcome.undo is not None or undoing):
            await self._index(incident_id)

    async def _index(self, incident_id: str) -> None:
        """The restore scan reads this incident: a run left something to undo, or an
        undo may have left an earlier run of the same action in place."""
        if self.store is None:
            return
        try:
            await self.store.index_add(
                keys.mitigations_index(), incident_id, datetime.now(UTC).timestamp()
            )
        except Exception as exc:  # the restore offer is a courtesy; the run is recorded
            log.warning("run not indexed for restore offers", incident=incident_id, error=str(exc))

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
                text += (
                    f"\nUndo available: `{UNDO}{run.action}` ({run.undo.get('description', '')})"
                )
            incident.activity.append(Activity(text=text, actor="honua-bot"))
            _say_restored(incident, run)
            return True

        await self._change(incident_id, change)


def _say_restored(incident: Incident, run: ActionRun) -> None:
    """An undo that succeeded after the incident resolved restored a mitigation
    (the only undo a resolved incident accepts): say so, by whom."""
    if (
        incident.status is IncidentStatus.RESOLVED
        and run.action.startswith(UNDO)
        and run.state in ("done", "verified")
    ):
        original = run.action.removeprefix(UNDO)
        incident.activity.append(
            Activity(text=f"mitigation `{original}` restored; no longer in place", actor=run.actor)
        )


def jsonable(value: Any) -> Any:
    """A config value as JSON keeps it (YAML libraries hand out subclasses of these)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, ScalarBoolean):  # an anchored boolean (`&x false`) is an int
        return bool(value)
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    return str(value)


def _find(incident: Incident, run_id: str) -> ActionRun | None:
    return next((r for r in reversed(incident.runs) if r.run_id == run_id), None)
