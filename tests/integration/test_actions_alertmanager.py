"""alertmanager.silence and its undo, alertmanager.expire_silence, against a real
Alertmanager (Debian package prometheus-alertmanager) on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.base import ActionContext, Outcome, Plan, Refused
from bot.adapters import Adapters
from bot.adapters.alertmanager import AlertmanagerClient
from bot.adapters.errors import AdapterError
from bot.registry import actions
from tests.helpers import free_port
from tests.realbins import AlertmanagerServer

LABELS = {
    "alertname": "ProcessTimeout",
    "namespace": "honua-process-framework",
    "process_id": "abc-123-def",
    "severity": "P3",
}


@pytest.fixture
def alertmanager() -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer().start()
    yield server
    server.stop()


@pytest.fixture
async def ctx(alertmanager: AlertmanagerServer) -> AsyncIterator[ActionContext]:
    adapters = Adapters(alertmanager_client=AlertmanagerClient(alertmanager.url))
    yield ActionContext(
        adapters=adapters, incident_id="inc-42", labels=dict(LABELS), actor="slack:U123"
    )
    await adapters.aclose()


async def run(name: str, params: dict[str, Any], ctx: ActionContext) -> tuple[Plan, Outcome]:
    entry = actions.get(name)
    assert entry is not None
    model = entry.params_model.model_validate(params)
    plan = await entry.impl.plan(model, ctx)
    return plan, await entry.impl.execute(model, ctx, plan)


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_silence_matches_the_alerts_labels_and_its_undo_expires_it(
    ctx: ActionContext, alertmanager: AlertmanagerServer
) -> None:
    plan, outcome = await run("alertmanager.silence", {"duration": "4h"}, ctx)
    assert plan.summary.startswith(
        'silence {alertname="ProcessTimeout", namespace="honua-process-framework", '
        'process_id="abc-123-def", severity="P3"} for 4h (until about '
    )
    assert plan.target.startswith("alertmanager/ProcessTimeout/")
    assert outcome.ok, outcome.message

    [silence] = alertmanager.silences()
    assert silence["id"] == outcome.details["silence_id"]
    assert outcome.message == f"silenced ProcessTimeout for 4h (silence {silence['id']})"
    assert {
        (m["name"], m["value"], m["isRegex"], m["isEqual"])  # type: ignore[index]
        for m in silence["matchers"]  # type: ignore[attr-defined]
    } == {(k, v, False, True) for k, v in LABELS.items()}
    assert silence["createdBy"] == "slack:U123"
    assert silence["comment"] == "silenced from honua-bot (incident inc-42)"
    assert silence["status"] == {"state": "active"}
    length = _time(str(silence["endsAt"])) - _time(str(silence["startsAt"]))
    assert abs(length.total_seconds() - 4 * 3600) < 5

    assert outcome.undo is not None
    assert (outcome.undo.type, outcome.undo.params) == (
        "alertmanager.expire_silence",
        {"silence_id": silence["id"]},
    )
    undo_plan, undone = await run(outcome.undo.type, outcome.undo.params, ctx)
    assert undo_plan.summary.startswith(f"expire silence {silence['id']} of {{alertname=")
    assert "by slack:U123" in undo_plan.summary
    assert undone.ok and undone.message == f"expired silence {silence['id']}"
    [after] = alertmanager.silences()
    assert after["status"] == {"state": "expired"}

    with pytest.raises(Refused) as caught:
        await run(outcome.undo.type, outcome.undo.params, ctx)
    assert caught.value.gate == "conflict" and "already expired" in caught.value.message


async def test_silence_without_labels_is_refused_and_creates_nothing(
    ctx: ActionContext, alertmanager: AlertmanagerServer
) -> None:
    ctx.labels = {}
    with pytest.raises(Refused) as caught:
        await run("alertmanager.silence", {}, ctx)
    assert caught.value.gate == "blast_radius" and "every alert" in caught.value.message
    assert alertmanager.silences() == []


async def test_expire_of_unknown_or_malformed_silence_is_refused(ctx: ActionContext) -> None:
    with pytest.raises(Refused) as caught:
        await run(
            "alertmanager.expire_silence",
            {"silence_id": "00000000-0000-0000-0000-000000000000"},
            ctx,
        )
    assert caught.value.gate == "not_found" and "has no silence" in caught.value.message
    with pytest.raises(Refused) as caught:
        await run("alertmanager.expire_silence", {"silence_id": "../silences"}, ctx)
    assert caught.value.gate == "input"


async def test_unreachable_alertmanager_is_an_adapter_error_naming_it() -> None:
    port = free_port()
    adapters = Adapters(alertmanager_client=AlertmanagerClient(f"http://127.0.0.1:{port}"))
    ctx = ActionContext(adapters=adapters, labels=dict(LABELS), actor="auto")
    try:
        with pytest.raises(
            AdapterError, match=f"connection refused: alertmanager 127.0.0.1:{port}"
        ):
            await run("alertmanager.silence", {"duration": "1h"}, ctx)
    finally:
        await adapters.aclose()
