"""Cancelling a process the way Runbook 5 does, and the pure reading of a process
the process actions share.

Graceful cancellation moves a process Running → Cancelling → Cancelled; when it
stays in Cancelling longer than ``force_after`` the runbook escalates to
``/cancel?force=true``. :func:`cancel_and_watch` does exactly that and says which
happened and how long it took; with ``escalate=False`` (cancel-and-resubmit) it only
waits, and says the process is still Cancelling: forcing skips the process's own
cleanup, so it is a separate, separately confirmed decision.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.actions.base import Refused
from bot.actions.common import human_seconds
from bot.adapters.errors import AdapterError
from bot.adapters.process_api import ProcessApiClient, ProcessConflict, ProcessNotFound
from bot.polling import poll_until

CANCELLABLE = ("Running", "Cancelling")
RETRYABLE = ("Failed", "Cancelled")
ENDED = ("Completed", "Failed", "Cancelled")
# how long a force cancel may take to show as Cancelled before the action says it did not
FORCE_CONFIRM_SECONDS = 30.0

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
_WILDCARDS = ("*", "?", "%", "all", "ALL")


def check_process_id(raw: str) -> str:
    """The id to act on, or Refused: an empty or wildcard id (an alert without the
    label, a careless rule) would not name one process."""
    pid = raw.strip()
    if not pid:
        raise Refused(
            "blast_radius",
            "process_id is empty: the alert has no process_id label, so no single process is named",
        )
    if pid in _WILDCARDS or any(c in pid for c in "*?"):
        raise Refused(
            "blast_radius",
            f"process_id {pid!r} is a wildcard; use processes.cancel_all with a filter",
        )
    if not _ID.fullmatch(pid):
        raise Refused("input", f"process_id {pid!r} is not a process id")
    return pid


def started_at(proc: dict[str, Any]) -> datetime | None:
    raw = next(
        (proc[f] for f in ("startTime", "startedAt", "createdAt") if isinstance(proc.get(f), str)),
        None,
    )
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def age_seconds(proc: dict[str, Any], now: datetime) -> float | None:
    at = started_at(proc)
    return None if at is None else max(0.0, (now - at).total_seconds())


def process_line(proc: dict[str, Any], now: datetime) -> str:
    """``DeploymentProcess abc-123: Running for 1h30m, step GenerateInfrastructure (45%)``."""
    age = age_seconds(proc, now)
    text = f"{proc.get('processType') or 'process'} {proc.get('processId')}: {proc.get('status')}"
    if age is not None:
        text += f" for {human_seconds(age)}"
    if proc.get("currentStep"):
        text += f", step {proc['currentStep']}"
        if proc.get("completionPercentage") is not None:
            text += f" ({proc['completionPercentage']}%)"
    return text


def select_processes(
    processes: list[dict[str, Any]],
    status: str,
    process_type: str | None,
    older_than: float | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The processes a bulk cancel's filter names: this status, this type, started
    longer ago than ``older_than`` seconds (a process without a start time never
    counts as old)."""
    out = []
    for proc in processes:
        if proc.get("status") != status or not isinstance(proc.get("processId"), str):
            continue
        if process_type is not None and proc.get("processType") != process_type:
            continue
        if older_than is not None:
            age = age_seconds(proc, now)
            if age is None or age <= older_than:
                continue
        out.append(proc)
    return out


async def fetch(api: ProcessApiClient, pid: str) -> dict[str, Any]:
    """The process, or Refused("not_found") naming it."""
    try:
        return await api.get_process(pid)
    except ProcessNotFound as exc:
        raise Refused("not_found", f"process {pid} not found: {exc}") from exc


@dataclass(frozen=True)
class CancelResult:
    ok: bool
    how: str  # graceful | force | escalated | ended | gone | stuck | still-cancelling
    status: str  # the last status seen ("" when the process disappeared)
    seconds: float
    message: str


async def cancel_and_watch(
    api: ProcessApiClient,
    pid: str,
    force: bool,
    force_after: float,
    poll: float,
    clock: Callable[[], float] = time.monotonic,
    escalate: bool = True,
) -> CancelResult:
    """Ask for the cancel, then watch until Cancelled: escalate a graceful cancel
    to force after ``force_after`` seconds (or, without ``escalate``, stop there,
    not ok, "still-cancelling"); give up ``FORCE_CONFIRM_SECONDS`` after the force
    cancel. A process that disappears (404) once cancelled is gone, as the
    runbook's force cancel expects."""
    started = clock()
    escalated = force
    try:
        await api.cancel(pid, force=force)
    except ProcessConflict as exc:
        raise Refused("conflict", f"process {pid} can no longer be cancelled: {exc}") from exc
    last_status = ""

    async def final() -> CancelResult | None:
        """The result once the process reached a final state; None while it has not."""
        nonlocal last_status
        try:
            status = str((await api.get_process(pid)).get("status"))
        except ProcessNotFound:
            took = clock() - started
            return CancelResult(
                True, "gone", "", took, f"process {pid} is gone after {human_seconds(took)}"
            )
        took, last_status = clock() - started, status
        if status == "Cancelled":
            how = "graceful" if not escalated else ("force" if force else "escalated")
            return CancelResult(
                True, how, status, took, _cancelled_text(pid, how, took, force_after)
            )
        if status in ENDED:
            return CancelResult(
                True,
                "ended",
                status,
                took,
                f"process {pid} ended {status} before the cancel took effect ({human_seconds(took)})",
            )
        return None

    # phase one: the cancel asked for (graceful, or force when forced from the start)
    result = await poll_until(final, FORCE_CONFIRM_SECONDS if force else force_after, poll, clock)
    if result is not None:
        return result
    if not escalated and not escalate:
        took = clock() - started
        return CancelResult(
            False,
            "still-cancelling",
            last_status,
            took,
            f"process {pid} is still {last_status} {human_seconds(took)} after a graceful cancel",
        )
    if not escalated:
        # phase two: the runbook's escalation, ``/cancel?force=true``
        escalated = True
        try:
            await api.cancel(pid, force=True)
        except ProcessConflict:
            pass  # it reached a final state meanwhile: the next read says which
        result = await poll_until(final, FORCE_CONFIRM_SECONDS, poll, clock)
        if result is not None:
            return result
    took = clock() - started
    return CancelResult(
        False,
        "stuck",
        last_status,
        took,
        f"process {pid} is still {last_status} {human_seconds(took)} after a force cancel",
    )


def _cancelled_text(pid: str, how: str, took: float, force_after: float) -> str:
    if how == "graceful":
        return f"process {pid} cancelled gracefully in {human_seconds(took)}"
    if how == "force":
        return f"process {pid} force-cancelled in {human_seconds(took)}"
    return (
        f"process {pid} was still Cancelling after {human_seconds(force_after)}; "
        f"force-cancelled, Cancelled after {human_seconds(took)}"
    )


async def watch_all(
    api: ProcessApiClient, ids: list[str], gate: asyncio.Semaphore, poll: float, wait: float
) -> dict[str, str]:
    """A bulk cancel's processes, read until none is Cancelling any more or ``wait``
    seconds passed: each one's last status ("gone" when it disappeared)."""
    status = dict.fromkeys(ids, "Cancelling")

    async def read(pid: str) -> None:
        async with gate:
            try:
                status[pid] = str((await api.get_process(pid)).get("status"))
            except ProcessNotFound:
                status[pid] = "gone"
            except AdapterError:
                pass  # read again next round

    async def settled() -> bool:
        waiting = [p for p, s in status.items() if s in CANCELLABLE]
        await asyncio.gather(*(read(p) for p in waiting))
        return all(status[p] not in CANCELLABLE for p in waiting)

    await poll_until(settled, wait, poll)
    return status


def uncleaned_resources(proc: dict[str, Any]) -> list[str]:
    """What the process created and nobody has marked cleaned up yet."""
    created = [str(r) for r in proc.get("createdResources") or []]
    return [] if proc.get("cleanedUp") else created


def refuse_uncleaned_resources(proc: dict[str, Any], pid: str) -> None:
    """Starting a process again while what it created is still there makes orphans
    or duplicates: Runbook 5's Post-Cancellation Cleanup comes first."""
    created = uncleaned_resources(proc)
    if created:
        raise Refused(
            "input",
            f"process {pid} created {', '.join(created)}: resubmitting would create them again. "
            "Cancel it, delete what it created, mark it cleaned up (Runbook 5, Post-Cancellation "
            "Cleanup), then resubmit",
        )
