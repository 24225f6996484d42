"""An undo never overwrites a later edit: after the plan, an ``undo-NAME`` whose
target no longer holds what NAME left there (someone changed it since, by hand or
another tool) is refused, its plan saying which value differs. A restore offered
hours after a mitigation meets this most: people tune a cut concurrency by hand."""

from __future__ import annotations

from typing import Any

from bot.remediation.attempt import Attempt, Halt, refuse
from bot.remediation.mitigations import UNDO, undone_run
from bot.remediation.mitigations import shown as _shown
from bot.remediation.run_records import jsonable

GATE = "changed_since"


def later_edits(
    action: str, left: list[dict[str, Any]], target: str, plan_changes: list[Any]
) -> list[str]:
    """Each change the undo's plan would make on ``target`` that does not start from
    what the run left there (``left``: its ``{"field", "before", "after"}``)."""
    expected = {str(c["field"]): c.get("after") for c in left}
    # the workload's restart, say, is not a value being put back
    mine = [c for c in plan_changes if c.target == target]
    if not any(c.field in expected for c in mine):
        return []  # not a value put back (a silence expired, a rollout undone)
    out = []
    for change in mine:
        if change.field not in expected:
            out.append(
                f"{change.field} is {_shown(jsonable(change.before))} now and `{action}` did "
                "not change it"
            )
            continue
        now, want = jsonable(change.before), expected[change.field]
        if now != want or type(now) is not type(want):
            out.append(
                f"{change.field} is {_shown(now)} now, not the {_shown(want)} `{action}` left"
            )
    return out


class Unchanged:
    """Refuse an undo whose target changed since the run it reverses."""

    async def exec(self, attempt: Attempt) -> Halt | None:
        if not attempt.action.name.startswith(UNDO) or attempt.plan is None:
            return None
        run = undone_run(attempt.incident.runs, attempt.action.name)
        if run is None or not run.undo or "changes" not in run.undo:
            return None  # recorded before runs kept their changes: nothing to compare
        edits = later_edits(run.action, list(run.undo["changes"]), run.target, attempt.plan.changes)
        if not edits:
            return None
        return refuse(
            GATE,
            f"not undoing `{run.action}`: {'; '.join(edits)}. It was changed after "
            f"`{run.action}` ran, and undoing would overwrite that edit: check the value "
            "and change it by hand if the original is still wanted.",
        )
