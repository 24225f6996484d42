"""Process API remediation from Runbooks 2 and 5: cancel (graceful, escalating to
force), retry (the process or its current step), cancel a filtered set, mark
cleaned up. Resubmit (cancel, then start again) is in ``process_resubmit``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from bot.actions.base import Action, ActionContext, ActionParams, Change, Outcome, Plan, Refused
from bot.actions.common import dry_run_outcome, human_seconds
from bot.actions.process_cancel import (
    CANCELLABLE,
    ENDED,
    RETRYABLE,
    cancel_and_watch,
    check_process_id,
    fetch,
    process_line,
    select_processes,
    watch_all,
)
from bot.adapters.errors import AdapterError
from bot.adapters.process_api import ProcessConflict, ProcessNotFound
from bot.registry import actions
from bot.rules.durations import Duration

# a bulk cancel waits this long for the processes it asked to reach Cancelled
CANCEL_ALL_WAIT_SECONDS = 60.0
_CONCURRENCY = 8  # process API calls in flight at once during a bulk cancel


class ProcessRef(ActionParams):
    process_id: str = Field(description="process id; usually {{ labels.process_id }}")


class CancelProcess(ProcessRef):
    force: bool = Field(default=False, description="force cancel at once (skips cleanup)")
    force_after: Duration = Field(
        default=120, description="escalate to force when still Cancelling after this"
    )
    reason: str = Field(default="", description="why, for the audit and the message")


class RetryProcess(ProcessRef):
    from_current_step: bool = Field(
        default=False, description="retry only the current step of a Running process"
    )


class CancelAll(ActionParams):
    status: str = Field(default="Running", description="Running or Cancelling")
    process_type: str | None = None
    older_than: Duration | None = Field(default=None, description="started longer ago")
    force: bool = False


def _now() -> datetime:
    return datetime.now(UTC)


def _cancel_plan(params: CancelProcess, proc: dict[str, Any]) -> Plan:
    pid = str(proc.get("processId") or params.process_id)
    if proc.get("status") not in CANCELLABLE:
        raise Refused(
            "conflict", f"process {pid} is {proc.get('status')}, not Running or Cancelling"
        )
    how = (
        "force cancel"
        if params.force
        else f"cancel gracefully, force after {human_seconds(params.force_after)}"
    )
    return Plan(
        summary=f"{how}: {process_line(proc, _now())}",
        target=f"process/{pid}",
        changes=[Change(f"process {pid}", "status", proc.get("status"), "Cancelled")],
        state={"status": proc.get("status"), "process_type": proc.get("processType")},
    )


async def _recheck(ctx: ActionContext, pid: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The process as it is now; Refused("conflict") when it left the planned states."""
    proc = await fetch(ctx.adapters.process_api, pid)
    if proc.get("status") not in allowed:
        raise Refused(
            "conflict", f"process {pid} is {proc.get('status')} now (planned while it was not)"
        )
    return proc


@actions.register("processes.cancel")
class Cancel(Action[CancelProcess]):
    """Cancel a process gracefully, escalating to force cancel when it hangs in Cancelling."""

    destructive = True

    def describe(self, params: CancelProcess) -> str:
        if params.force:
            return f"force-cancel process {params.process_id}"
        return (
            f"cancel process {params.process_id}, force after {human_seconds(params.force_after)}"
        )

    async def plan(self, params: CancelProcess, ctx: ActionContext) -> Plan:
        pid = check_process_id(params.process_id)
        plan = _cancel_plan(params, await fetch(ctx.adapters.process_api, pid))
        if params.reason:
            plan.warnings.append(f"reason: {params.reason}")
        return plan

    async def execute(self, params: CancelProcess, ctx: ActionContext, plan: Plan) -> Outcome:
        pid = check_process_id(params.process_id)
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        before = (await _recheck(ctx, pid, CANCELLABLE)).get("status")
        result = await cancel_and_watch(
            ctx.adapters.process_api, pid, params.force, params.force_after, ctx.poll_interval
        )
        changes = [Change(f"process {pid}", "status", before, result.status or "gone")]
        return Outcome(
            ok=result.ok,
            message=result.message,
            changes=changes if result.how not in ("ended", "stuck") else [],
            details={
                "process_id": pid,
                "how": result.how,
                "status": result.status,
                "seconds": round(result.seconds, 1),
                "reason": params.reason,
            },
        )


@actions.register("processes.retry")
class Retry(Action[RetryProcess]):
    """Retry a failed or cancelled process, or only the current step of a Running one."""

    def describe(self, params: RetryProcess) -> str:
        if params.from_current_step:
            return f"retry the current step of process {params.process_id}"
        return f"retry process {params.process_id}"

    @staticmethod
    def _allowed(params: RetryProcess) -> tuple[str, ...]:
        return ("Running",) if params.from_current_step else RETRYABLE

    async def plan(self, params: RetryProcess, ctx: ActionContext) -> Plan:
        pid = check_process_id(params.process_id)
        proc = await fetch(ctx.adapters.process_api, pid)
        status = proc.get("status")
        if status not in self._allowed(params):
            need = " or ".join(self._allowed(params))
            raise Refused("conflict", f"process {pid} is {status}; retry needs {need}")
        if params.from_current_step:
            step = proc.get("currentStep")
            change = Change(f"process {pid}", "currentStep", step, f"{step} (restarted)")
        else:
            change = Change(f"process {pid}", "status", status, "Running")
        return Plan(
            summary=f"{self.describe(params)}: {process_line(proc, _now())}",
            target=f"process/{pid}",
            changes=[change],
            state={"status": status},
        )

    async def execute(self, params: RetryProcess, ctx: ActionContext, plan: Plan) -> Outcome:
        pid = check_process_id(params.process_id)
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        await _recheck(ctx, pid, self._allowed(params))
        try:
            proc = await ctx.adapters.process_api.retry(pid, params.from_current_step)
        except ProcessConflict as exc:
            raise Refused("conflict", f"process {pid} cannot be retried now: {exc}") from exc
        what = "current step" if params.from_current_step else "process"
        return Outcome(
            ok=True,
            message=f"retried the {what}: {process_line(proc, _now())}",
            changes=plan.changes,
            details={"process_id": pid, "status": proc.get("status")},
        )


@actions.register("processes.cancel_all")
class CancelAllProcesses(Action[CancelAll]):
    """Runbook 5, Option 3: cancel every process a filter names, within the blast-radius cap."""

    destructive = True

    def describe(self, params: CancelAll) -> str:
        return f"{'force-' if params.force else ''}cancel {_filter_text(params)}"

    async def plan(self, params: CancelAll, ctx: ActionContext) -> Plan:
        status = params.status.strip()
        if not status:
            raise Refused(
                "blast_radius",
                "status is empty, which would name every process: set status: Running "
                "and narrow with process_type or older_than",
            )
        if status not in CANCELLABLE:
            raise Refused(
                "input", f"status {status!r}: only Running or Cancelling processes can be cancelled"
            )
        now = _now()
        found = await ctx.adapters.process_api.list_processes(status=status)
        chosen = select_processes(found, status, params.process_type, params.older_than, now)
        cap = ctx.limits.max_processes
        if len(chosen) > cap:
            raise Refused(
                "blast_radius",
                f"{len(chosen)} processes match ({_filter_text(params)}), more than the limit "
                f"of {cap}; narrow the filter with process_type or older_than",
            )
        if not chosen:
            raise Refused("not_found", f"no process matches: {_filter_text(params)}")
        return Plan(
            summary=f"{self.describe(params)}: {len(chosen)} processes",
            target=f"processes/{status}",
            changes=[
                Change(f"process {p['processId']}", "status", p.get("status"), "Cancelled")
                for p in chosen
            ],
            warnings=[process_line(p, now) for p in chosen],
            state={"ids": [p["processId"] for p in chosen]},
        )

    async def execute(self, params: CancelAll, ctx: ActionContext, plan: Plan) -> Outcome:
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        ids: list[str] = list(plan.state.get("ids", []))  # exactly what the plan showed
        if len(ids) > ctx.limits.max_processes:
            raise Refused("blast_radius", f"{len(ids)} processes exceed the limit")
        api, gate = ctx.adapters.process_api, asyncio.Semaphore(_CONCURRENCY)
        errors: dict[str, str] = {}

        async def ask(pid: str) -> str:
            async with gate:
                try:
                    await api.cancel(pid, force=params.force)
                except (ProcessConflict, ProcessNotFound):
                    return "skipped"  # ended or vanished since the plan
                except AdapterError as exc:
                    errors[pid] = str(exc)
                    return "failed"
                return "asked"

        asked = dict(zip(ids, await asyncio.gather(*(ask(p) for p in ids)), strict=True))
        waiting = [p for p, r in asked.items() if r == "asked"]
        final = await watch_all(api, waiting, gate, ctx.poll_interval, CANCEL_ALL_WAIT_SECONDS)
        cancelled = [p for p, s in final.items() if s in ("Cancelled", "gone")]
        pending = [p for p, s in final.items() if s in CANCELLABLE]
        skipped = [p for p, r in asked.items() if r == "skipped"]
        skipped += [p for p, s in final.items() if s in ENDED and s != "Cancelled"]
        counts = {
            "cancelled": len(cancelled),
            "failed": len(errors),
            "skipped": len(skipped),
            "still_cancelling": len(pending),
        }
        message = f"cancelled {len(cancelled)} of {len(ids)} ({_filter_text(params)})"
        if skipped:
            message += f"; {len(skipped)} had already ended"
        if pending:
            message += f"; {len(pending)} still Cancelling after {human_seconds(CANCEL_ALL_WAIT_SECONDS)} (run again with force: true)"
        if errors:
            message += f"; {len(errors)} failed: {next(iter(errors.values()))}"
        return Outcome(
            ok=not errors and not pending,
            message=message,
            changes=[
                Change(f"process {p}", "status", params.status, "Cancelled") for p in cancelled
            ],
            details={**counts, "cancelled_ids": cancelled, "errors": errors, "pending": pending},
        )


def _filter_text(params: CancelAll) -> str:
    words = ["every", params.status or "(any status)", params.process_type, "process"]
    text = " ".join(w for w in words if w)
    if params.older_than is not None:
        text += f" older than {human_seconds(params.older_than)}"
    return text


@actions.register("processes.mark_cleaned")
class MarkCleaned(Action[ProcessRef]):
    """Runbook 5 cleanup: mark a cancelled process's created resources as cleaned up."""

    def describe(self, params: ProcessRef) -> str:
        return f"mark process {params.process_id} cleaned up"

    async def plan(self, params: ProcessRef, ctx: ActionContext) -> Plan:
        pid = check_process_id(params.process_id)
        proc = await fetch(ctx.adapters.process_api, pid)
        if proc.get("status") not in RETRYABLE:
            raise Refused("conflict", f"process {pid} is {proc.get('status')}; cancel it first")
        if proc.get("cleanedUp"):
            raise Refused("conflict", f"process {pid} is already marked cleaned up")
        resources = [str(r) for r in proc.get("createdResources") or []]
        warning = (
            f"remove its {len(resources)} created resources first: {', '.join(resources)}"
            if resources
            else "it created no resources"
        )
        return Plan(
            summary=f"mark cleaned up: {process_line(proc, _now())}",
            target=f"process/{pid}",
            changes=[Change(f"process {pid}", "cleanedUp", False, True)],
            warnings=[warning],
            state={"created_resources": resources},
        )

    async def execute(self, params: ProcessRef, ctx: ActionContext, plan: Plan) -> Outcome:
        pid = check_process_id(params.process_id)
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        await _recheck(ctx, pid, RETRYABLE)
        try:
            proc = await ctx.adapters.process_api.mark_cleaned_up(pid)
        except ProcessConflict as exc:
            raise Refused("conflict", f"process {pid} cannot be marked cleaned up: {exc}") from exc
        resources = [str(r) for r in proc.get("createdResources") or []]
        return Outcome(
            ok=True,
            message=f"marked process {pid} cleaned up ({len(resources)} created resources: {', '.join(resources) or 'none'})",
            changes=plan.changes,
            details={"process_id": pid, "created_resources": resources},
        )
