"""Mitigation debt, end to end over a real Redis, the Kubernetes API fake and the
Slack Web API fake: Runbook 4 Scenario B's cut (MaxConcurrentProcesses 20 → 5) is
pressed in Slack and done; the incident resolves; half an hour later (the scan's
clock moved on, no waiting) the thread offers "Mitigation still in place: … is 5
(was 20). Restore?" with a button; a signed click puts 20 back through the whole
remediation path, the thread says who restored it, `honua-bot audit
--mitigations` no longer lists it and the button does not run twice. A value
someone changed by hand meanwhile is never overwritten."""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.ops import _mitigations
from bot.models import Incident, IncidentStatus
from tests.fakes.kube_api import FakeKube, KubeFakeServer, seed_honua
from tests.fakes.slack_api import FakeSlack, Posted
from tests.helpers import BotHarness, alert, notification, wait_for
from tests.integration.slack_support import (
    answer,
    button,
    click,
    header,
    incident_id,
    posted_for,
    slack_bot,
    write_rules,
)

pytestmark = pytest.mark.integration
NS = "honua-process-framework"
KEY = "ProcessFramework.MaxConcurrentProcesses"
RULE = """
name: llm-rate-limit
match: {alertname: LlmRateLimited}
diagnosis:
  - scenario: all-providers-rate-limited
    when: 'true'
    summary: 'Every provider is rate limiting us: cut MaxConcurrentProcesses to 5'
    actions: [reduce-load]
actions:
  reduce-load:
    kubernetes.set_config:
      configmap: process-config
      edits:
        - {key: ProcessFramework.MaxConcurrentProcesses, value: "5", only_if: lower}
    description: "MaxConcurrentProcesses 5"
    mode: manual
    mitigation: true
    confirm: true
"""
RESTORE_BUTTON = "honua:restore:undo-reduce-load"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
def kube() -> Iterator[KubeFakeServer]:
    server = KubeFakeServer(seed_honua(FakeKube())).start()
    yield server
    server.stop()


def concurrency(kube: KubeFakeServer) -> Any:
    cm = kube.fake.get("configmaps", NS, "process-config")
    return yaml.safe_load(cm["data"]["appsettings.yaml"])["ProcessFramework"][
        "MaxConcurrentProcesses"
    ]


def edit_by_hand(kube: KubeFakeServer, value: int) -> None:
    cm = kube.fake.get("configmaps", NS, "process-config")
    text = cm["data"]["appsettings.yaml"]
    cm["data"]["appsettings.yaml"] = text.replace(
        f"MaxConcurrentProcesses: {concurrency(kube)}", f"MaxConcurrentProcesses: {value}", 1
    )
    kube.fake.apply(cm)


async def audit_mitigations(h: BotHarness, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert await _mitigations(h.service, as_json=False) == 0
    return capsys.readouterr().out


async def mitigate_then_resolve(
    h: BotHarness, fake: FakeSlack, kube: KubeFakeServer
) -> tuple[Incident, Posted]:
    """The cut pressed in Slack and done, then the alert resolved."""
    raw = alert("LlmRateLimited", fingerprint="fp-llm")
    assert (await h.post(notification(raw))).status_code == 200
    iid = incident_id(raw)
    message = await posted_for(fake, iid)
    await wait_for(lambda: "Awaiting decision" in header(fake.message(message.ts)), 15)  # type: ignore[arg-type]
    shown = fake.message(message.ts)
    assert shown is not None
    _, key = await click(h, fake, shown, "honua:action:reduce-load")
    await answer(fake, key)
    await wait_for(lambda: concurrency(kube) == 5, 15)

    async def done() -> bool:
        found = await h.service.store.get_incident(iid)
        return found is not None and bool(found.runs) and found.runs[-1].state == "done"

    await wait_for(done, 15)
    assert (
        await h.post(notification(alert("LlmRateLimited", "resolved", fingerprint="fp-llm")))
    ).status_code == 200

    async def resolved() -> Incident | None:
        found = await h.service.store.get_incident(iid)
        return found if found is not None and found.status is IncidentStatus.RESOLVED else None

    incident: Incident = await wait_for(resolved, 15)
    return incident, message


@contextlib.asynccontextmanager
async def restore_bot(
    tmp_path: Path, fake: FakeSlack, kube: KubeFakeServer, redis_url: str
) -> AsyncIterator[BotHarness]:
    """The bot with the mitigation rule, Slack and the Kubernetes fake, on Redis."""
    rules = write_rules(tmp_path, textwrap.dedent(RULE))
    async with slack_bot(
        tmp_path,
        fake,
        rules=rules,
        redis_url=redis_url,
        kubernetes_host=kube.url,
        default_cooldown_seconds=0,
    ) as h:
        yield h


async def offered(h: BotHarness, fake: FakeSlack, incident: Incident, message: Posted) -> Posted:
    """Move the scan's clock past the wait and scan: the offer reaches the thread."""
    offers = h.service.restore_offers
    resolved_at = incident.ends_at
    assert resolved_at is not None
    offers.clock = lambda: resolved_at + timedelta(seconds=1799)
    assert await offers.scan() == []  # not yet due
    offers.clock = lambda: resolved_at + timedelta(seconds=1801)
    assert [m.action for m in await offers.scan()] == ["reduce-load"]
    assert await offers.scan() == []  # offered once

    def reply() -> Posted | None:
        return next(
            (r for r in fake.replies(message.ts) if "Mitigation still in place" in r.text), None
        )

    found: Posted = await wait_for(reply, 15)
    return found


async def test_a_resolved_incidents_mitigation_is_offered_then_restored_by_a_click(
    tmp_path: Path,
    fake: FakeSlack,
    kube: KubeFakeServer,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with restore_bot(tmp_path, fake, kube, redis_url) as h:
        incident, message = await mitigate_then_resolve(h, fake, kube)
        assert "llm-rate-limit/reduce-load in place" in await audit_mitigations(h, capsys)
        reply = await offered(h, fake, incident, message)
        assert f"{KEY} is 5 (was 20)" in reply.text and "Restore?" in reply.text, reply.text
        pressed = button(reply, RESTORE_BUTTON)
        assert pressed["text"]["text"] == "Restore MaxConcurrentProcesses to 20"
        assert pressed["confirm"]["confirm"]["text"] == "Restore"

        _, key = await click(h, fake, reply, RESTORE_BUTTON, user="U0BOB", user_name="bob")
        said = await answer(fake, key)
        assert "undo-reduce-load" in said["text"] and "Did not" not in said["text"], said
        await wait_for(lambda: concurrency(kube) == 20, 15)

        def restored_in_thread() -> bool:
            return any(
                "mitigation `reduce-load` restored" in r.text and "<@U0BOB>" in r.text
                for r in fake.replies(message.ts)
            )

        await wait_for(restored_in_thread, 15)
        stored = await h.service.store.get_incident(incident.id)
        assert stored is not None and stored.status is IncidentStatus.RESOLVED
        assert [(r.action, r.actor, r.state) for r in stored.runs] == [
            ("reduce-load", "slack:U0ALICE", "done"),
            ("undo-reduce-load", "slack:U0BOB", "done"),
        ]
        assert "no mitigations in place" in await audit_mitigations(h, capsys)

        # the same button again (another person, past the click de-duplication): nothing runs
        edit_by_hand(kube, 7)
        _, key = await click(h, fake, reply, RESTORE_BUTTON, user="U0CAROL", user_name="carol")
        again = await answer(fake, key)
        assert "Did not" in again["text"] and "restored already" in again["text"], again
        assert concurrency(kube) == 7
        # and the message itself stays resolved
        assert "Resolved" in header(fake.message(message.ts))  # type: ignore[arg-type]


async def test_a_restore_never_overwrites_a_value_changed_by_hand_since(
    tmp_path: Path,
    fake: FakeSlack,
    kube: KubeFakeServer,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with restore_bot(tmp_path, fake, kube, redis_url) as h:
        incident, message = await mitigate_then_resolve(h, fake, kube)
        reply = await offered(h, fake, incident, message)
        edit_by_hand(kube, 8)  # someone tuned it while the offer waited
        _, key = await click(h, fake, reply, RESTORE_BUTTON, user="U0BOB", user_name="bob")
        said = await answer(fake, key)
        assert "changed_since" in said["text"], said
        assert f"{KEY} is 8 now, not the 5 `reduce-load` left" in said["text"], said
        assert concurrency(kube) == 8
        assert "llm-rate-limit/reduce-load in place" in await audit_mitigations(h, capsys)
        audit = await h.service.engine.audit.read("1h", incident=incident.id)
        assert [e.gate for e in audit if e.event == "refused"] == ["changed_since"]
