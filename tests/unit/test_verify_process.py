"""Runbook 5 (and 2) validation against the process API, with the rule's own
checks: the cancelled process is "Cancelled" (or 404 after a force cancel) and no
longer listed as Running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bot.actions
import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters.process_api import ProcessNotFound
from bot.registry import actions, probes
from bot.remediation.verify import verify
from bot.remediation.verify_process import with_process_api
from bot.rules import load_rules

RULES = Path(__file__).parents[2] / "rules"


class FakeProcessApi:
    """The runbook's API: GET /api/processes/{id}, GET /api/processes?status=Running."""

    def __init__(self, processes: dict[str, str]) -> None:
        self.processes = processes

    async def get_process(self, pid: str) -> dict[str, Any]:
        if pid not in self.processes:
            raise ProcessNotFound(f"process API: HTTP 404 for /api/processes/{pid}")
        return {"processId": pid, "status": self.processes[pid]}

    async def list_processes(self, status: str | None = None, since: str | None = None) -> list:
        return [{"processId": p, "status": s} for p, s in self.processes.items() if s == status]


async def no_alerts(expr: str) -> list[Any]:
    return [0.0]  # count(ALERTS{…}) or vector(0)


def validations(rule_name: str) -> Any:
    rules = load_rules(RULES, probes, actions)
    rule = rules.get(rule_name)
    assert rule is not None
    return rule.validation


async def run(rule_name: str, api: FakeProcessApi, target: str) -> Any:
    query = with_process_api(no_alerts, lambda: api, target)  # type: ignore[arg-type,return-value]
    checks = [v for v in validations(rule_name) if v.expr.startswith("process-api:")]
    return await verify(checks, query, 0.001)


async def test_runbook5_cancelled_process_verifies() -> None:
    api = FakeProcessApi({"abc-123-def": "Cancelled", "other": "Running"})
    result = await run("emergency-process-cancellation", api, "process/abc-123-def")
    assert result.ok, result.message
    assert "`process-api:status` = Cancelled" in result.message


async def test_runbook5_force_cancelled_and_deleted_is_the_expected_404() -> None:
    api = FakeProcessApi({"other": "Running"})
    result = await run("emergency-process-cancellation", api, "process/abc-123-def")
    assert result.ok, result.message


async def test_runbook5_a_process_still_running_fails_even_when_the_alert_is_quiet() -> None:
    api = FakeProcessApi({"abc-123-def": "Running"})
    checks = validations("emergency-process-cancellation")
    for v in checks:
        object.__setattr__(v, "within_seconds", 0.05)
    query = with_process_api(no_alerts, lambda: api, "process/abc-123-def")  # type: ignore[arg-type,return-value]
    result = await verify([v for v in checks if v.expr.startswith("process-api:")], query, 0.01)
    assert not result.ok
    assert "`process-api:status` = Running" in result.message
    assert "`process-api:listed-running` = 1" in result.message


async def test_an_action_without_a_process_reads_not_applicable() -> None:
    api = FakeProcessApi({})
    result = await run("process-timeout", api, "configmap/honua-process-framework/process-config")
    assert result.ok and "= n/a" in result.message
