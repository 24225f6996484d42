"""Verification you can watch: while a run is verified, one reply in the
incident's thread shows each validation's value against its target and how long
it held, edited in place at each poll (never a reply per poll), ending Verified."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.models import ActionRun, Diagnosis, Incident
from bot.notify import Event
from bot.notify.slack.notifier import SlackConfig, SlackNotifier
from bot.store.memory import MemoryStore
from tests.fakes.slack_api import FakeSlack
from tests.helpers import wait_for


@pytest.fixture
async def world() -> AsyncIterator[tuple[FakeSlack, SlackNotifier]]:
    fake = await FakeSlack(rate=100, burst=100).start()
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
    notifier = SlackNotifier(
        client, MemoryStore(), SlackConfig(default_channel="#incidents", post_interval=0)
    )
    try:
        await notifier.start()  # the outbox's senders
        yield fake, notifier
    finally:
        await notifier.aclose()
        await fake.stop()


def _incident(run: ActionRun | None = None) -> Incident:
    return Incident(
        id="inc-verify01",
        key="fp|t",
        fingerprint="fp",
        alertname="HighProcessFailureRate",
        starts_at=datetime(2026, 11, 27, 3, tzinfo=UTC),
        diagnosis=Diagnosis(rule="r", scenario="llm-rate-limit", priority="P2"),
        runs=[run] if run else [],
    )


def _run(state: str, *lines: str, detail: str = "") -> ActionRun:
    return ActionRun(
        action="halve-concurrency",
        actor="slack:U0ALICE",
        run_id="run-1",
        state=state,  # type: ignore[arg-type]
        progress=list(lines),
        detail=detail,
    )


def _text(fake: FakeSlack, ts: str) -> str:
    message = fake.message(ts)
    assert message is not None
    return str(message.blocks[0]["text"]["text"])


async def test_one_reply_edited_in_place_from_first_poll_to_verified(
    world: tuple[FakeSlack, SlackNotifier],
) -> None:
    fake, notifier = world
    await notifier.notify(_incident(), Event.DIAGNOSED)
    await wait_for(lambda: fake.posts(top_level=True))  # the outbox's sender posts it
    [top] = fake.posts(top_level=True)
    await notifier.notify(_incident(_run("verifying")), Event.UPDATED)
    assert not fake.replies(top.ts)  # nothing polled yet: no reply

    polls = [
        "`failure_rate` = 8.1 (target value < 5.0): not holding yet",
        "`failure_rate` = 3.2 (target value < 5.0): held 4 min of 10 min",
        "`failure_rate` = 2.9 (target value < 5.0): held 6 min of 10 min",
    ]
    for line in polls:
        await notifier.notify(_incident(_run("verifying", line)), Event.UPDATED)
    [reply] = fake.replies(top.ts)
    assert reply.updates == 2  # posted at the first poll, edited at the next two
    assert _text(fake, reply.ts) == (
        "*:hourglass_flowing_sand: Verifying `halve-concurrency` with the runbook's validation*\n"
        "• `failure_rate` = 2.9 (target value &lt; 5.0): held 6 min of 10 min"
    )
    done = _run(
        "verified",
        "`failure_rate` = 2.1 (target value < 5.0): held 10 min of 10 min",
        detail="validation held",
    )
    await notifier.notify(_incident(done), Event.UPDATED)
    assert [r.ts for r in fake.replies(top.ts)] == [reply.ts]
    assert _text(fake, reply.ts).startswith(
        "*:white_check_mark: Verified `halve-concurrency` with the runbook's validation*"
    )
    assert "held 10 min of 10 min" in _text(fake, reply.ts)
