"""Small pieces the action modules share: the dry-run outcome (and, re-exported,
how durations are said: :mod:`bot.durations`)."""

from __future__ import annotations

from bot.actions.base import ActionContext, Outcome, Plan
from bot.durations import human_seconds

__all__ = ["dry_run_outcome", "human_seconds"]


def dry_run_outcome(ctx: ActionContext, plan: Plan) -> Outcome | None:
    """In a dry run ``execute`` changes nothing and reports the plan instead."""
    if not ctx.dry_run:
        return None
    return Outcome(
        ok=True,
        message=f"dry run, nothing changed: {plan.summary}",
        changes=list(plan.changes),
        details={"dry_run": True},
    )
