"""Runbook 2, Option 1 (with Runbook 5's cleanup first): cancel a stuck process
gracefully, then start the same type with the same input.

It never forces. A force cancel skips the process's own cleanup (Runbook 5,
Option 2), so it is its own button, offered once the process has been Cancelling
for 2 minutes. The new process starts only once the old one is Cancelled (or had
already stopped) and nothing it created is left uncleaned: a second run would
create those resources again (orphans, duplicates).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from bot.actions.base import Action, ActionContext, ActionParams, Change, Outcome, Plan, Refused
from bot.actions.common import dry_run_outcome, human_seconds
from bot.actions.process_cancel import (
    CANCELLABLE,
    RETRYABLE,
    cancel_and_watch,
    check_process_id,
    fetch,
    process_line,
    refuse_uncleaned_resources,
    uncleaned_resources,
)
from bot.registry import actions
from bot.rules.durations import Duration


class ResubmitProcess(ActionParams):
    process_id: str = Field(description="process id; usually {{ labels.process_id }}")
    cancel_wait: Duration = Field(
        default=120,
        description="how long to wait for Cancelled after the graceful cancel (never forces)",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _cleanup_text(pid: str, created: list[str]) -> str:
    return (
        f"it created {', '.join(created)}: delete them and mark process {pid} cleaned up "
        "(Runbook 5, Post-Cancellation Cleanup), then resubmit"
    )


@actions.register("processes.resubmit")
class Resubmit(Action[ResubmitProcess]):
    """Cancel a stuck process gracefully, then start the same type with the same input."""

    destructive = True

    def describe(self, params: ResubmitProcess) -> str:
        return f"cancel process {params.process_id} and start it again with the same input"

    async def plan(self, params: ResubmitProcess, ctx: ActionContext) -> Plan:
        pid = check_process_id(params.process_id)
        proc = await fetch(ctx.adapters.process_api, pid)
        if not isinstance(proc.get("processType"), str) or "input" not in proc:
            raise Refused("not_found", f"process {pid} has no processType and input to resubmit")
        refuse_uncleaned_resources(proc, pid)
        status = proc.get("status")
        plan = Plan(summary="", target=f"process/{pid}")
        if status in RETRYABLE:  # already stopped: only the new process
            plan.summary = f"resubmit (start again: {process_line(proc, _now())})"
        elif status in CANCELLABLE:
            plan.summary = (
                f"resubmit (cancel gracefully, wait up to {human_seconds(params.cancel_wait)} "
                f"for Cancelled, no force: {process_line(proc, _now())})"
            )
            plan.changes.append(Change(f"process {pid}", "status", status, "Cancelled"))
        else:
            raise Refused("conflict", f"process {pid} is {status}: nothing to resubmit")
        plan.changes.append(Change("processes", f"new {proc['processType']}", None, proc["input"]))
        plan.state.update(status=status, process_type=proc["processType"], input=proc["input"])
        return plan

    async def execute(self, params: ResubmitProcess, ctx: ActionContext, plan: Plan) -> Outcome:
        pid = check_process_id(params.process_id)
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        api = ctx.adapters.process_api
        proc = await fetch(api, pid)
        status = proc.get("status")
        if status not in (*CANCELLABLE, *RETRYABLE):
            raise Refused("conflict", f"process {pid} is {status} now (planned while it was not)")
        cancel_text = f"process {pid} was already {status}"
        changes: list[Change] = []
        details: dict[str, Any] = {"process_id": pid, "resubmitted": False}
        if status in CANCELLABLE:
            result = await cancel_and_watch(
                api, pid, False, params.cancel_wait, ctx.poll_interval, escalate=False
            )
            details.update(how=result.how, status=result.status)
            if result.how == "still-cancelling":
                return Outcome(
                    False,
                    f"{result.message}; not resubmitted and not forced: a force cancel skips its "
                    f"cleanup. Force-cancel is its own button (Runbook 5: honua-bot emergency {pid}, "
                    "or /honua cancel in Slack, offers it after 2 minutes in Cancelling); "
                    "clean up what it created, then resubmit",
                    changes=[Change(f"process {pid}", "status", status, "Cancelling")],
                    details=details,
                )
            if not result.ok or result.how == "gone":
                return Outcome(
                    False,
                    f"{result.message}; not resubmitted: its createdResources cannot be checked",
                    details=details,
                )
            if result.status == "Completed":
                return Outcome(
                    True,
                    f"{result.message}; not resubmitted: it finished its work",
                    details=details,
                )
            cancel_text = result.message
            changes.append(Change(f"process {pid}", "status", status, result.status))
            proc = await fetch(api, pid)  # what it created up to the moment it stopped
        if created := uncleaned_resources(proc):
            return Outcome(
                True,
                f"{cancel_text}; not resubmitted: {_cleanup_text(pid, created)}",
                changes=changes,
                details={**details, "created_resources": created},
            )
        # type and input as the API has them now, which is what the runbook's step 3 reads
        ptype = str(proc.get("processType") or plan.state["process_type"])
        payload = proc.get("input", plan.state.get("input"))
        new_id = (await api.create(ptype, payload))["processId"]
        changes.append(Change("processes", f"new {ptype}", None, new_id))
        return Outcome(
            ok=True,
            message=f"{cancel_text}; started {ptype} {new_id} with the same input",
            changes=changes,
            details={**details, "resubmitted": True, "new_process_id": new_id, "input": payload},
        )
