"""Process API probes: what the process framework says about its processes."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes
from bot.rules.durations import Duration


class ProcessList(ProbeParams):
    status: str | None = Field(default=None, description="Running, Failed, Completed, …")
    since: str | None = Field(default=None, description="passed to the API, e.g. 1h")
    older_than: Duration | None = Field(
        default=None, description="keep processes started longer ago"
    )
    group_by: str | None = Field(default=None, description="field to count by, e.g. errorMessage")
    top: int = Field(default=5, ge=1, le=50)
    sample: int = Field(default=10, ge=0, le=100)


def _started(process: dict[str, Any]) -> datetime | None:
    raw = process.get("startedAt") or process.get("createdAt")
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def summarise(
    processes: list[dict[str, Any]], params: ProcessList, now: datetime
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
                k: p.get(k)
                for k in (
                    "processId",
                    "processType",
                    "status",
                    "errorMessage",
                    "startedAt",
                    "currentStep",
                )
            }
            for p in processes[: params.sample]
        ],
    }
    if params.group_by:
        counts = Counter(str(p.get(params.group_by) or "") for p in processes)
        groups = [{"key": k, "message": k, "count": n} for k, n in counts.most_common(params.top)]
        result["groups"] = groups
        result["top"] = groups[0] if groups else {"key": "", "message": "", "count": 0}
    return result


@probes.register("processes.list")
async def processes_list(params: ProcessList, ctx: ProbeContext) -> dict[str, Any]:
    """List processes by status and age; optionally group them by a field.

    Returns `count`, a sample of `processes` and, with `group_by`, `groups`
    (key, count; most common first) and `top` (the most common group).
    """
    found = await ctx.adapters.process_api.list_processes(params.status, params.since)
    return summarise(found, params, datetime.now(UTC))
