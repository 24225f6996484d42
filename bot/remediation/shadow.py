"""Shadow mode: an action with ``mode: shadow`` starts like an ``auto`` one and
passes through every gate and the dry-run plan, then stops. It records "would
have run" with the plan (audit and the incident's thread) and claims no gate
state: no cooldown starts, no hourly count moves, the breaker is not fed. That
is the evidence ``honua-bot stats`` shows before someone makes the action auto."""

from __future__ import annotations

from bot.models import ProposedAction
from bot.remediation.attempt import Attempt, Halt
from bot.remediation.requests import Decision, Verdict
from bot.remediation.stages import NoteTaker

MAX_PLAN_LINES = 10


def is_shadow(action: ProposedAction, mode: str, auto: bool) -> bool:
    """Only the automatic start is shadowed: a person pressing the button runs it."""
    return auto and "shadow" in (action.mode, mode)


class Shadow:
    """The remediation path's stage before *execute*: a shadowed automatic start
    stops here, every gate passed (the loop audits ``would_have_run``)."""

    def __init__(self, records: NoteTaker) -> None:
        self.records = records

    async def exec(self, attempt: Attempt) -> Halt | None:
        action, plan, options = attempt.action, attempt.plan, attempt.options
        assert plan is not None and options is not None
        if not is_shadow(action, options.mode, attempt.auto):
            return None
        lines = plan.lines()
        message = f"shadow mode: {action.name} would have run now (nothing changed): {plan.summary}"
        text = (
            f"shadow mode: `{action.name}` would have run now; nothing was changed. {plan.summary}"
        )
        changes = [c.text() for c in plan.changes[:MAX_PLAN_LINES]]
        if changes:
            text += "\n" + "\n".join(f"• {c}" for c in changes)
        await self.records.note(attempt.incident.id, text, "auto")
        details: dict[str, object] = {"plan": lines, "target": plan.target}
        return Halt(Decision(Verdict.DONE, message, details=details), "would_have_run")
