"""Shadow mode: an action with ``mode: shadow`` starts like an ``auto`` one and
passes through every gate and the dry-run plan, then stops. It records "would
have run" with the plan (audit and the incident's thread) and claims no gate
state: no cooldown starts, no hourly count moves, the breaker is not fed. That
is the evidence ``honua-bot stats`` shows before someone makes the action auto."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.engine.audit import AuditEntry
from bot.engine.requests import Decision, Verdict
from bot.models import Incident, ProposedAction

if TYPE_CHECKING:
    from bot.actions.base import Plan
    from bot.engine.runner import ActionEngine

MAX_PLAN_LINES = 10


def is_shadow(action: ProposedAction, mode: str, auto: bool) -> bool:
    """Only the automatic start is shadowed: a person pressing the button runs it."""
    return auto and "shadow" in (action.mode, mode)


async def would_have_run(
    engine: ActionEngine, incident: Incident, action: ProposedAction, plan: Plan, base: AuditEntry
) -> Decision:
    lines = plan.lines()
    message = f"shadow mode: {action.name} would have run now (nothing changed): {plan.summary}"
    await engine.audit.record(
        base.model_copy(
            update={
                "event": "would_have_run",
                "target": plan.target,
                "plan": lines,
                "message": message,
            }
        )
    )
    text = f"shadow mode: `{action.name}` would have run now; nothing was changed. {plan.summary}"
    changes = [c.text() for c in plan.changes[:MAX_PLAN_LINES]]
    if changes:
        text += "\n" + "\n".join(f"• {c}" for c in changes)
    await engine.records.note(incident.id, text, "auto")
    return Decision(Verdict.DONE, message, details={"plan": lines, "target": plan.target})
