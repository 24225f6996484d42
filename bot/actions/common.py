"""Small pieces the action modules share: durations for people, the dry-run outcome."""

from __future__ import annotations

from bot.actions.base import ActionContext, Outcome, Plan


def human_seconds(seconds: float) -> str:
    """``0.6s``, ``45s``, ``2m``, ``1h30m``, ``2d3h``: short, for one-line messages."""
    if seconds < 10:
        return f"{round(seconds, 1):g}s"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    text = "".join(f"{n}{unit}" for n, unit in parts if n)
    return text or "0s"


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
