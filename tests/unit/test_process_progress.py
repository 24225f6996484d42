"""Runbook 2 stuck vs slow with the runbook's process API, which has no
lastProgressAt: a long run alone is not a stuck run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.probes.processes import ProcessList, moved_between, summarise

NOW = datetime(2025, 10, 17, 10, 0, tzinfo=UTC)


def proc(pid: str, minutes: int, pct: int, step: str, **extra: Any) -> dict[str, Any]:
    # the fields Runbook 2 and 5 show: processId, processType, status, startTime,
    # currentStep, completionPercentage
    start = (NOW - timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {
        "processId": pid,
        "processType": "DeploymentProcess",
        "status": "Running",
        "startTime": start,
        "currentStep": step,
        "completionPercentage": pct,
        **extra,
    }


PARAMS = ProcessList(status="Running", older_than="1h", stalled_after="30m")


def test_without_last_progress_a_long_run_is_unknown_not_stalled() -> None:
    first = [proc("abc-123-def", 120, 45, "DeployInfrastructure")]
    result = summarise(first, PARAMS, NOW)
    assert (result["stalled"], result["progressing"], result["unknown"]) == (0, 0, 1)
    assert result["unknown_ids"] == ["abc-123-def"] and result["stalled_ids"] == []


def test_two_reads_tell_progress() -> None:
    first = [
        proc("moving", 120, 45, "DeployInfrastructure"),
        proc("still", 120, 45, "DeployInfrastructure"),
        proc("finished", 90, 90, "Validate"),
    ]
    second = [
        proc("moving", 121, 50, "DeployInfrastructure"),
        proc("still", 121, 45, "DeployInfrastructure"),
    ]
    moved = moved_between(first, second)
    assert moved == {"moving", "finished"}
    result = summarise(first, PARAMS, NOW, moved)
    assert (result["stalled"], result["progressing"], result["unknown"]) == (0, 2, 1)
    assert result["unknown_ids"] == ["still"]


def test_an_api_that_reports_last_progress_is_believed() -> None:
    old = (NOW - timedelta(minutes=45)).isoformat()
    recent = (NOW - timedelta(minutes=2)).isoformat()
    first = [
        proc("stuck", 120, 45, "DeployInfrastructure", lastProgressAt=old),
        proc("slow", 120, 45, "DeployInfrastructure", lastProgressAt=recent),
    ]
    result = summarise(first, PARAMS, NOW)
    assert result["stalled_ids"] == ["stuck"] and result["progressing"] == 1
