"""Process actions (Runbooks 2 and 5) against the Honua simulator over real HTTP,
with its background traffic running: plan, then execute, then what the process
API says afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.base import ActionContext, Limits, Outcome, Plan, Refused
from bot.adapters import Adapters
from bot.adapters.errors import AdapterError
from bot.adapters.process_api import ProcessApiClient
from bot.registry import actions
from tests.helpers import free_port, wait_for
from tests.integration.conftest import RunningSim


@pytest.fixture
async def ctx(honua_sim: RunningSim) -> AsyncIterator[ActionContext]:
    adapters = Adapters(process_api_client=ProcessApiClient(honua_sim.url))
    yield ActionContext(
        adapters=adapters,
        incident_id="inc-1",
        actor="cli:alice",
        limits=Limits(max_processes=5),
        poll_interval=0.05,
    )
    await adapters.aclose()


@pytest.fixture
async def api(honua_sim: RunningSim) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=honua_sim.url, timeout=5) as client:
        yield client


async def add(
    api: httpx.AsyncClient, count: int = 1, ptype: str = "DeploymentProcess", **knobs: Any
) -> list[str]:
    body = {"state": "stuck", "count": count, "age_minutes": 90, "processType": ptype, **knobs}
    resp = await api.post("/_sim/processes", json=body)
    resp.raise_for_status()
    return [p["processId"] for p in resp.json()]


async def status(api: httpx.AsyncClient, pid: str) -> str:
    return str((await api.get(f"/api/processes/{pid}")).json()["status"])


async def run(name: str, params: dict[str, Any], ctx: ActionContext) -> tuple[Plan, Outcome]:
    entry = actions.get(name)
    assert entry is not None
    model = entry.params_model.model_validate(params)
    plan = await entry.impl.plan(model, ctx)
    return plan, await entry.impl.execute(model, ctx, plan)


async def refusal(name: str, params: dict[str, Any], ctx: ActionContext) -> Refused:
    with pytest.raises(Refused) as caught:
        await run(name, params, ctx)
    return caught.value


# -- processes.cancel ----------------------------------------------------------------------------
async def test_graceful_cancel_goes_through_cancelling_to_cancelled(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    [pid] = await add(api)
    plan, outcome = await run("processes.cancel", {"process_id": pid}, ctx)
    assert plan.target == f"process/{pid}"
    assert plan.summary.startswith("cancel gracefully, force after 2m: DeploymentProcess")
    assert "Running for 1h30m" in plan.summary
    assert [c.text() for c in plan.changes] == [f"process {pid}: status: 'Running' → 'Cancelled'"]
    assert outcome.ok, outcome.message
    assert outcome.details["how"] == "graceful"
    assert outcome.message.startswith(f"process {pid} cancelled gracefully in ")
    assert await status(api, pid) == "Cancelled"
    assert honua_sim.sim.cancel_requests == [(pid, False)]


async def test_cancel_hanging_in_cancelling_escalates_to_force(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    (await api.post("/_sim/cancel", json={"hangs": True})).raise_for_status()
    [pid] = await add(api)
    _, outcome = await run("processes.cancel", {"process_id": pid, "force_after": "0.4s"}, ctx)
    assert outcome.ok, outcome.message
    assert outcome.details["how"] == "escalated" and outcome.details["seconds"] >= 0.4
    assert "still Cancelling after 0.4s; force-cancelled, Cancelled after" in outcome.message
    assert await status(api, pid) == "Cancelled"
    assert honua_sim.sim.cancel_requests == [(pid, False), (pid, True)]


async def test_force_cancel_goes_straight_to_force(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    [pid] = await add(api)
    plan, outcome = await run("processes.cancel", {"process_id": pid, "force": True}, ctx)
    assert plan.summary.startswith("force cancel: ")
    assert outcome.ok and outcome.details["how"] == "force"
    assert honua_sim.sim.cancel_requests == [(pid, True)]


async def test_cancel_refuses_unknown_empty_and_finished_processes(
    ctx: ActionContext, api: httpx.AsyncClient
) -> None:
    assert (
        await refusal("processes.cancel", {"process_id": "no-such-id"}, ctx)
    ).gate == "not_found"
    assert (await refusal("processes.cancel", {"process_id": ""}, ctx)).gate == "blast_radius"
    [pid] = await add(api)
    await run("processes.cancel", {"process_id": pid, "force": True}, ctx)
    refused = await refusal("processes.cancel", {"process_id": pid}, ctx)
    assert refused.gate == "conflict" and "is Cancelled, not Running" in refused.message


async def test_cancel_planned_while_running_refuses_when_it_finished_since(
    ctx: ActionContext, api: httpx.AsyncClient
) -> None:
    [pid] = await add(api)
    entry = actions.get("processes.cancel")
    assert entry is not None
    params = entry.params_model.model_validate({"process_id": pid})
    plan = await entry.impl.plan(params, ctx)
    (await api.post(f"/api/processes/{pid}/cancel", params={"force": "true"})).raise_for_status()
    with pytest.raises(Refused) as caught:
        await entry.impl.execute(params, ctx, plan)
    assert caught.value.gate == "conflict" and "Cancelled now" in caught.value.message


async def test_unreachable_process_api_is_an_adapter_error_naming_it() -> None:
    port = free_port()
    adapters = Adapters(process_api_client=ProcessApiClient(f"http://127.0.0.1:{port}"))
    try:
        with pytest.raises(AdapterError, match=f"connection refused: process API 127.0.0.1:{port}"):
            await run("processes.cancel", {"process_id": "abc"}, ActionContext(adapters))
    finally:
        await adapters.aclose()


# -- processes.resubmit --------------------------------------------------------------------------
async def test_resubmit_cancels_and_starts_the_same_type_with_the_same_input(
    ctx: ActionContext, api: httpx.AsyncClient
) -> None:
    [pid] = await add(api, ptype="UpgradeProcess")
    old = (await api.get(f"/api/processes/{pid}")).json()
    plan, outcome = await run("processes.resubmit", {"process_id": pid}, ctx)
    assert plan.summary.startswith("resubmit (cancel gracefully")
    assert plan.changes[-1].field == "new UpgradeProcess" and plan.changes[-1].after == old["input"]
    assert outcome.ok, outcome.message
    new_id = outcome.details["new_process_id"]
    assert (
        new_id != pid and f"started UpgradeProcess {new_id} with the same input" in outcome.message
    )
    assert await status(api, pid) == "Cancelled"
    new = (await api.get(f"/api/processes/{new_id}")).json()
    assert (new["processType"], new["input"]) == ("UpgradeProcess", old["input"])


async def test_resubmit_refuses_a_process_that_created_resources(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    # Runbook 5's example: vpc-…, subnet-456 created; resubmitting would create them again
    [pid] = await add(api, state="runaway")
    with pytest.raises(Refused) as exc:
        await run("processes.resubmit", {"process_id": pid}, ctx)
    assert exc.value.gate == "input" and "subnet-456" in exc.value.message
    assert "Post-Cancellation" in exc.value.message
    assert await status(api, pid) == "Running"  # nothing was cancelled


async def test_resubmit_of_a_failed_process_only_starts_the_new_one(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    failed = await wait_for(
        lambda: [p for p in list(honua_sim.sim.processes.values()) if p["status"] == "Failed"]
    )
    pid = failed[0]["processId"]
    _, outcome = await run("processes.resubmit", {"process_id": pid}, ctx)
    assert outcome.ok and outcome.message.startswith(f"process {pid} was already Failed; started")
    assert (pid, False) not in honua_sim.sim.cancel_requests


async def test_resubmit_never_forces_a_process_hanging_in_cancelling(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    (await api.post("/_sim/cancel", json={"hangs": True})).raise_for_status()
    [pid] = await add(api)
    plan, outcome = await run("processes.resubmit", {"process_id": pid, "cancel_wait": "0.4s"}, ctx)
    assert "no force" in plan.summary
    assert not outcome.ok and outcome.details["how"] == "still-cancelling"
    assert (
        "still Cancelling" in outcome.message
        and "not resubmitted and not forced" in outcome.message
    )
    assert f"honua-bot emergency {pid}" in outcome.message
    assert honua_sim.sim.cancel_requests == [(pid, False)]  # no force request was sent
    assert await status(api, pid) == "Cancelling"
    assert outcome.details["resubmitted"] is False and "new_process_id" not in outcome.details


async def test_resubmit_waits_for_cleanup_of_what_it_created_while_cancelling(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    [pid] = await add(api)
    entry = actions.get("processes.resubmit")
    assert entry is not None
    params = entry.params_model.model_validate({"process_id": pid})
    plan = await entry.impl.plan(params, ctx)  # nothing created yet: the plan passes
    honua_sim.sim.processes[pid]["createdResources"].append("vpc-777")  # created since
    outcome = await entry.impl.execute(params, ctx, plan)
    assert await status(api, pid) == "Cancelled"
    assert outcome.details["resubmitted"] is False and "new_process_id" not in outcome.details
    assert "not resubmitted: it created vpc-777" in outcome.message
    assert "mark process" in outcome.message and "cleaned up" in outcome.message
    # cleaned up and marked: now the same button starts the new process
    (await api.post(f"/api/processes/{pid}/mark-cleaned-up")).raise_for_status()
    _, again = await run("processes.resubmit", {"process_id": pid}, ctx)
    assert again.ok and again.details["resubmitted"] is True
    assert again.message.startswith(f"process {pid} was already Cancelled; started")


# -- processes.cancel_all ------------------------------------------------------------------------
async def test_cancel_all_refuses_beyond_the_cap_and_cancels_exactly_the_filtered_set(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    deploys = await add(api, count=4)
    upgrades = await add(api, count=2, ptype="UpgradeProcess")
    young = await add(api, ptype="UpgradeProcess", age_minutes=5)

    # six old processes (and the simulator's young traffic): more than max_processes=5
    refused = await refusal("processes.cancel_all", {"older_than": "30m"}, ctx)
    assert refused.gate == "blast_radius"
    assert "6 processes match" in refused.message and "limit of 5" in refused.message
    assert "narrow the filter with process_type or older_than" in refused.message

    entry = actions.get("processes.cancel_all")
    assert entry is not None
    params = entry.params_model.model_validate(
        {"process_type": "UpgradeProcess", "older_than": "30m"}
    )
    plan = await entry.impl.plan(params, ctx)
    assert sorted(plan.state["ids"]) == sorted(upgrades) and plan.target == "processes/Running"
    assert len(plan.warnings) == 2 and all("UpgradeProcess" in w for w in plan.warnings)
    late = await add(api, ptype="UpgradeProcess")  # matches, but was not in the plan
    outcome = await entry.impl.execute(params, ctx, plan)

    assert outcome.ok, outcome.message
    assert outcome.details["cancelled"] == 2 and outcome.details["failed"] == 0
    assert sorted(outcome.details["cancelled_ids"]) == sorted(upgrades)
    assert outcome.message.startswith("cancelled 2 of 2 (every Running UpgradeProcess process")
    for pid in upgrades:
        assert await status(api, pid) == "Cancelled"
    for pid in [*deploys, *young, *late]:
        assert await status(api, pid) == "Running"
    assert {p for p, _ in honua_sim.sim.cancel_requests} == set(upgrades)


async def test_cancel_all_with_nothing_matching_is_not_found(ctx: ActionContext) -> None:
    refused = await refusal("processes.cancel_all", {"process_type": "NoSuchProcess"}, ctx)
    assert refused.gate == "not_found" and "NoSuchProcess" in refused.message


# -- processes.retry and processes.mark_cleaned -------------------------------------------------
async def test_retry_restarts_a_failed_process_and_refuses_a_running_one(
    ctx: ActionContext, api: httpx.AsyncClient, honua_sim: RunningSim
) -> None:
    failed = await wait_for(
        lambda: [p for p in list(honua_sim.sim.processes.values()) if p["status"] == "Failed"]
    )
    pid = failed[0]["processId"]
    plan, outcome = await run("processes.retry", {"process_id": pid}, ctx)
    assert [c.text() for c in plan.changes] == [f"process {pid}: status: 'Failed' → 'Running'"]
    assert outcome.ok and outcome.details["status"] == "Running"
    [running] = await add(api)
    refused = await refusal("processes.retry", {"process_id": running}, ctx)
    assert refused.gate == "conflict" and "retry needs Failed or Cancelled" in refused.message


async def test_retry_current_step_of_a_stuck_process(
    ctx: ActionContext, api: httpx.AsyncClient
) -> None:
    [pid] = await add(api)
    before = (await api.get(f"/api/processes/{pid}")).json()["lastProgressAt"]
    plan, outcome = await run(
        "processes.retry", {"process_id": pid, "from_current_step": True}, ctx
    )
    assert plan.changes[0].field == "currentStep"
    assert plan.changes[0].after == "GenerateInfrastructure (restarted)"
    assert outcome.ok and outcome.message.startswith("retried the current step: ")
    assert (await api.get(f"/api/processes/{pid}")).json()["lastProgressAt"] > before


async def test_mark_cleaned_lists_created_resources_then_marks(
    ctx: ActionContext, api: httpx.AsyncClient
) -> None:
    [pid] = await add(api, state="runaway")
    refused = await refusal("processes.mark_cleaned", {"process_id": pid}, ctx)
    assert refused.gate == "conflict" and "cancel it first" in refused.message
    await run("processes.cancel", {"process_id": pid, "force": True}, ctx)
    resources = (await api.get(f"/api/processes/{pid}")).json()["createdResources"]
    plan, outcome = await run("processes.mark_cleaned", {"process_id": pid}, ctx)
    assert "subnet-456" in resources
    assert plan.warnings == [
        f"remove its {len(resources)} created resources first: {', '.join(resources)}"
    ]
    assert outcome.ok and outcome.details["created_resources"] == resources
    assert (await api.get(f"/api/processes/{pid}")).json()["cleanedUp"] is True
    again = await refusal("processes.mark_cleaned", {"process_id": pid}, ctx)
    assert again.gate == "conflict" and "already marked cleaned up" in again.message
