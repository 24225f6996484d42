"""The pure parts of the process, Alertmanager, Redis and PostgreSQL actions: id
checks, filters, plan text, the cancel escalation state machine (with a clock the
test moves and an in-memory process API), params validation and registration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.alertmanager import matchers_text, silence_comment, silence_target
from bot.actions.base import ActionContext, Limits, Refused
from bot.actions.common import human_seconds
from bot.actions.process_cancel import (
    FORCE_CONFIRM_SECONDS,
    cancel_and_watch,
    check_process_id,
    process_line,
    select_processes,
)
from bot.actions.redis import save_finished
from bot.adapters import Adapters
from bot.adapters.process_api import ProcessConflict
from bot.registry import actions

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def proc(pid: str, status: str = "Running", ptype: str = "DeploymentProcess", age_min: float = 90):
    return {
        "processId": pid,
        "processType": ptype,
        "status": status,
        "startTime": (NOW - timedelta(minutes=age_min)).isoformat().replace("+00:00", "Z"),
        "currentStep": "GenerateInfrastructure",
        "completionPercentage": 45,
    }


# -- ids -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["", "   ", "*", "abc*", "?", "all"])
def test_empty_or_wildcard_process_id_is_a_blast_radius_refusal(raw: str) -> None:
    with pytest.raises(Refused) as caught:
        check_process_id(raw)
    assert caught.value.gate == "blast_radius"
    assert "process_id" in caught.value.message


@pytest.mark.parametrize("raw", ["../_sim/cancel", "a b", "x/y", "{{ labels.process_id }}"])
def test_malformed_process_id_is_an_input_refusal(raw: str) -> None:
    with pytest.raises(Refused) as caught:
        check_process_id(raw)
    assert caught.value.gate == "input" and repr(raw.strip()) in caught.value.message


def test_real_ids_pass_trimmed() -> None:
    assert check_process_id(" abc-123-def ") == "abc-123-def"
    assert check_process_id("6f1c2a4e-8d0b-4b43-9a51-0f2f8f0d9c11")


# -- filters and text ----------------------------------------------------------------------------
def test_select_processes_applies_status_type_and_age() -> None:
    procs = [
        proc("old-deploy"),
        proc("old-upgrade", ptype="UpgradeProcess"),
        proc("young-upgrade", ptype="UpgradeProcess", age_min=5),
        proc("failed-upgrade", status="Failed", ptype="UpgradeProcess"),
        {**proc("no-start", ptype="UpgradeProcess"), "startTime": None},
    ]
    chosen = select_processes(procs, "Running", "UpgradeProcess", 1800, NOW)
    assert [p["processId"] for p in chosen] == ["old-upgrade"]
    everyone = select_processes(procs, "Running", None, None, NOW)
    assert {p["processId"] for p in everyone} == {
        "old-deploy",
        "old-upgrade",
        "young-upgrade",
        "no-start",
    }


def test_process_line_says_type_status_age_and_step() -> None:
    assert process_line(proc("abc"), NOW) == (
        "DeploymentProcess abc: Running for 1h30m, step GenerateInfrastructure (45%)"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.6, "0.6s"), (45, "45s"), (120, "2m"), (5400, "1h30m"), (90061, "1d1h1m1s"), (0, "0s")],
)
def test_human_seconds(seconds: float, text: str) -> None:
    assert human_seconds(seconds) == text


def test_silence_matchers_target_and_comment() -> None:
    labels = {"namespace": "hpf", "alertname": "ProcessTimeout"}
    assert matchers_text(labels) == '{alertname="ProcessTimeout", namespace="hpf"}'
    assert silence_target(labels).startswith("alertmanager/ProcessTimeout/")
    assert silence_target(labels) != silence_target({**labels, "process_id": "x"})
    assert silence_comment("why", "inc-1") == "why (incident inc-1)"


def test_save_finished_when_lastsave_moves_or_the_save_ends() -> None:
    assert save_finished(100, 101, True)
    assert save_finished(100, 100, False)  # same-second save: the child is gone
    assert not save_finished(100, 100, True)


# -- the cancel state machine --------------------------------------------------------------------
class FakeApi:
    """Process API in memory: graceful cancel moves to Cancelling and, unless it
    hangs, to Cancelled after ``settle`` reads; force cancels at once."""

    def __init__(self, status: str = "Running", hangs: bool = False, settle: int = 2) -> None:
        self.status, self.hangs, self.settle = status, hangs, settle
        self.calls: list[tuple[str, bool]] = []
        self.reads = 0
        self.clock = 0.0

    async def cancel(self, pid: str, force: bool = False) -> dict[str, Any]:
        self.calls.append(("cancel", force))
        if self.status not in ("Running", "Cancelling"):
            raise ProcessConflict(f"process is {self.status}")
        self.status = "Cancelled" if force else "Cancelling"
        self.reads = 0
        return {}

    async def get_process(self, pid: str) -> dict[str, Any]:
        self.clock += 1.0  # every read takes a second of the fake clock
        self.reads += 1
        if self.status == "Cancelling" and not self.hangs and self.reads >= self.settle:
            self.status = "Cancelled"
        return {"processId": pid, "status": self.status}

    async def list_processes(self, status: str | None = None, since: str | None = None):
        return [
            proc(f"p{i}", ptype="UpgradeProcess" if i % 2 else "DeploymentProcess")
            for i in range(7)
        ]


async def test_graceful_cancel_settles_without_force() -> None:
    api = FakeApi()
    result = await cancel_and_watch(api, "p", False, 120, 0, clock=lambda: api.clock)  # type: ignore[arg-type]
    assert (result.ok, result.how, result.status) == (True, "graceful", "Cancelled")
    assert api.calls == [("cancel", False)]
    assert "cancelled gracefully in 2s" in result.message


async def test_hanging_cancel_escalates_to_force_after_force_after() -> None:
    api = FakeApi(hangs=True)
    result = await cancel_and_watch(api, "p", False, 5, 0, clock=lambda: api.clock)  # type: ignore[arg-type]
    assert (result.ok, result.how) == (True, "escalated")
    assert api.calls == [("cancel", False), ("cancel", True)]
    assert "still Cancelling after 5s; force-cancelled" in result.message


async def test_without_escalate_a_hanging_cancel_is_never_forced() -> None:
    api = FakeApi(hangs=True)
    result = await cancel_and_watch(api, "p", False, 5, 0, clock=lambda: api.clock, escalate=False)  # type: ignore[arg-type]
    assert (result.ok, result.how, result.status) == (False, "still-cancelling", "Cancelling")
    assert api.calls == [("cancel", False)]
    assert "still Cancelling" in result.message and "after a graceful cancel" in result.message


async def test_force_that_does_not_take_is_reported_not_ok() -> None:
    api = FakeApi(hangs=True)

    async def ignored(pid: str, force: bool = False) -> dict[str, Any]:
        api.calls.append(("cancel", force))
        api.status = "Cancelling"
        return {}

    api.cancel = ignored  # type: ignore[method-assign]
    result = await cancel_and_watch(api, "p", True, 5, 0, clock=lambda: api.clock)  # type: ignore[arg-type]
    assert not result.ok and result.how == "stuck"
    assert result.seconds >= FORCE_CONFIRM_SECONDS
    assert "still Cancelling" in result.message and "after a force cancel" in result.message


async def test_cancel_of_a_finished_process_is_a_conflict() -> None:
    api = FakeApi(status="Completed")
    with pytest.raises(Refused) as caught:
        await cancel_and_watch(api, "p", False, 5, 0, clock=lambda: api.clock)  # type: ignore[arg-type]
    assert caught.value.gate == "conflict"


# -- plans over the in-memory API ----------------------------------------------------------------
def ctx_with(api: Any, max_processes: int = 50) -> ActionContext:
    return ActionContext(
        adapters=Adapters(process_api_client=api),
        limits=Limits(max_processes=max_processes),
        poll_interval=0,
    )


async def test_cancel_all_plan_refuses_past_the_cap_and_says_how_to_narrow() -> None:
    entry = actions.get("processes.cancel_all")
    assert entry is not None
    params = entry.params_model.model_validate({"older_than": "30m"})
    with pytest.raises(Refused) as caught:
        await entry.impl.plan(params, ctx_with(FakeApi(), max_processes=5))
    assert caught.value.gate == "blast_radius"
    assert "7 processes match" in caught.value.message and "process_type" in caught.value.message
    narrow = entry.params_model.model_validate({"process_type": "UpgradeProcess"})
    plan = await entry.impl.plan(narrow, ctx_with(FakeApi(), max_processes=5))
    assert plan.state["ids"] == ["p1", "p3", "p5"] and plan.target == "processes/Running"


@pytest.mark.parametrize(("status", "gate"), [("", "blast_radius"), ("Failed", "input")])
async def test_cancel_all_plan_refuses_empty_or_uncancellable_status(
    status: str, gate: str
) -> None:
    entry = actions.get("processes.cancel_all")
    assert entry is not None
    with pytest.raises(Refused) as caught:
        await entry.impl.plan(
            entry.params_model.model_validate({"status": status}), ctx_with(FakeApi())
        )
    assert caught.value.gate == gate and "status" in caught.value.message


# -- params and registration ---------------------------------------------------------------------
def test_types_params_and_destructive_flags_are_the_contract() -> None:
    expected = {
        "processes.cancel": ({"process_id", "force", "force_after", "reason"}, True),
        "processes.retry": ({"process_id", "from_current_step"}, False),
        "processes.resubmit": ({"process_id", "cancel_wait"}, True),
        "processes.cancel_all": ({"status", "process_type", "older_than", "force"}, True),
        "processes.mark_cleaned": ({"process_id"}, False),
        "alertmanager.silence": ({"duration", "comment"}, False),
        "alertmanager.expire_silence": ({"silence_id"}, False),
        "redis.bgsave": ({"wait"}, False),
        "postgres.terminate_idle": ({"older_than", "database", "user", "state"}, True),
    }
    for name, (fields, destructive) in expected.items():
        entry = actions.get(name)
        assert entry is not None, name
        assert set(entry.params_model.model_fields) == fields, name
        assert bool(entry.extra.get("destructive")) is destructive, name


def test_durations_parse_and_bad_values_name_the_field() -> None:
    cancel = actions.get("processes.cancel")
    assert cancel is not None
    assert (
        cancel.params_model.model_validate({"process_id": "a", "force_after": "2m"}).force_after
        == 120
    )
    silence = actions.get("alertmanager.silence")
    assert silence is not None
    with pytest.raises(ValidationError, match="duration"):
        silence.params_model.model_validate({"duration": "8d"})
    with pytest.raises(ValidationError, match="duration"):
        silence.params_model.model_validate({"duration": 0})
    pg = actions.get("postgres.terminate_idle")
    assert pg is not None
    with pytest.raises(ValidationError, match="state must be one of idle"):
        pg.params_model.model_validate({"state": "active"})


def test_describe_is_one_line() -> None:
    for name, params in {
        "processes.cancel": {"process_id": "{{ labels.process_id }}"},
        "processes.cancel_all": {"process_type": "UpgradeProcess", "older_than": "1h"},
        "alertmanager.silence": {"duration": "4h"},
        "postgres.terminate_idle": {"state": "idle in transaction", "user": "app"},
    }.items():
        entry = actions.get(name)
        assert entry is not None
        text = entry.func(entry.params_model.model_validate(params))
        assert text and "\n" not in text
    entry = actions.get("processes.cancel_all")
    assert entry is not None
    assert entry.func(entry.params_model.model_validate({"older_than": "1h"})) == (
        "cancel every Running process older than 1h"
    )
