"""Process API probes: what the process framework says about its processes."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes
from bot.rules.durations import Duration

_SAMPLE_FIELDS = (
    "processId",
    "processType",
    "status",
    "errorMessage",
    "startTime",
    "currentStep",
    "completionPercentage",
    "user",
)


class ProcessList(ProbeParams):
    status: str | None = Field(default=None, description="Running, Failed, Completed, …")
    since: str | None = Field(default=None, description="passed to the API, e.g. 1h")
    older_than: Duration | None = Field(
        default=None, description="keep processes started longer ago"
    )
    stalled_after: Duration | None = Field(
        default=None,
        description="count processes with no progress for this long as stalled (needs the "
        "API's lastProgressAt; without it a process is `unknown` unless the second read moved)",
    )
    recheck_after: Duration | None = Field(
        default=None,
        description="read the list again after this long: a process whose completionPercentage "
        "or currentStep changed is progressing (the runbook's `watch`)",
    )
    group_by: str | None = Field(default=None, description="field to count by, e.g. errorMessage")
    top: int = Field(default=5, ge=1, le=50)
    sample: int = Field(default=10, ge=0, le=100)


class ProcessGet(ProbeParams):
    id: str = Field(min_length=1, description="process id; usually a template over alert labels")


def _time(process: dict[str, Any], *fields: str) -> datetime | None:
    raw = next((process[f] for f in fields if isinstance(process.get(f), str)), None)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _started(process: dict[str, Any]) -> datetime | None:
    # the seed's API says startTime; older builds said startedAt/createdAt
    return _time(process, "startTime", "startedAt", "createdAt")


def _age(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else round((now - at).total_seconds(), 1)


def _progress(
    processes: list[dict[str, Any]], limit: float, now: datetime, moved: set[str]
) -> dict[str, Any]:
    """stalled: the API's lastProgressAt is older than ``limit`` (Runbook 2: "if last
    activity > 30 minutes ago, process is stuck"); progressing: it is recent, or the
    process moved between two reads; unknown: neither can be told (the runbook's API
    has no lastProgressAt: a long run is not evidence of a stuck one)."""
    stalled, progressing, unknown = [], [], []
    for p in processes:
        pid = str(p.get("processId"))
        last = _time(p, "lastProgressAt")
        if pid in moved or (last is not None and (now - last).total_seconds() <= limit):
            progressing.append(pid)
        elif last is not None:
            stalled.append(pid)
        else:
            unknown.append(pid)
    return {
        "stalled": len(stalled),
        "progressing": len(progressing),
        "unknown": len(unknown),
        "stalled_ids": stalled,
        "unknown_ids": unknown,
        "moved_ids": sorted(moved),
    }


def moved_between(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> set[str]:
    """Processes whose completionPercentage or currentStep changed between two reads,
    or that are no longer in the list (finished)."""
    later = {str(p.get("processId")): p for p in second}
    out = set()
    for p in first:
        pid = str(p.get("processId"))
        again = later.get(pid)
        if again is None or any(
            again.get(k) != p.get(k) for k in ("completionPercentage", "currentStep")
        ):
            out.add(pid)
    return out


def summarise(
    processes: list[dict[str, Any]],
    params: ProcessList,
    now: datetime,
    moved: set[str] | None = None,
) -> dict[str, Any]:
    """Pure shaping of an API answer into the finding rules read."""
    if params.older_than is not None:
        cutoff = params.older_than
        processes = [
            p
            for p in processes
            if (s := _started(p)) is not None and (now - s).total_seconds() > cutoff
        ]
    result: dict[str, Any] = {
        "count": len(processes),
        "processes": [
            {
                **{k: p.get(k) for k in _SAMPLE_FIELDS},
                "running_seconds": _age(_started(p), now),
                "since_progress_seconds": _age(_time(p, "lastProgressAt"), now),
            }
            for p in processes[: params.sample]
        ],
    }
    if params.group_by:
        counts = Counter(str(p.get(params.group_by) or "") for p in processes)
        groups = [{"key": k, "message": k, "count": n} for k, n in counts.most_common(params.top)]
        result["groups"] = groups
        result["top"] = groups[0] if groups else {"key": "", "message": "", "count": 0}
    if params.stalled_after is not None:
        result.update(_progress(processes, params.stalled_after, now, moved or set()))
    return result


@probes.register("processes.list")
async def processes_list(params: ProcessList, ctx: ProbeContext) -> dict[str, Any]:
    """List processes by status and age; optionally group them by a field.

    Returns `count`, a sample of `processes` (with running_seconds and
    since_progress_seconds); with `group_by`, `groups` (key, count; most common
    first) and `top`; with `stalled_after`, `stalled`, `progressing`, `unknown` and
    `stalled_ids` / `unknown_ids`; with `recheck_after`, `moved_ids`.
    """
    found = await ctx.adapters.process_api.list_processes(params.status, params.since)
    moved: set[str] = set()
    if params.recheck_after is not None:
        await asyncio.sleep(params.recheck_after)
        again = await ctx.adapters.process_api.list_processes(params.status, params.since)
        moved = moved_between(found, again)
    return summarise(found, params, datetime.now(UTC), moved)


def describe_process(process: dict[str, Any], now: datetime) -> dict[str, Any]:
    resources = process.get("createdResources") or []
    return {
        **{k: process.get(k) for k in _SAMPLE_FIELDS},
        "createdResources": resources,
        "created_resources": len(resources),
        "running_seconds": _age(_started(process), now),
        "since_progress_seconds": _age(_time(process, "lastProgressAt"), now),
    }


@probes.register("processes.get")
async def processes_get(params: ProcessGet, ctx: ProbeContext) -> dict[str, Any]:
    """One process: status, currentStep, completionPercentage, createdResources.

    Also `running_seconds` and `since_progress_seconds` (time since its last
    progress), which tell a stuck process from a slow one.
    """
    found = await ctx.adapters.process_api.get_process(params.id)
    return describe_process(found, datetime.now(UTC))
