"""The Slack outbox: workers record, one paced sender per channel sends.

- The sender of a channel is SIGKILLed in the middle of a storm (a real ``serve``
  replica); the other replica takes its lease over within seconds and finishes:
  every incident shown (its own message or a storm line), none twice.
- A post that went out just before its sender died (Slack took it, the reference
  was never saved) is found by its metadata and adopted, not posted again.
- Successive updates of one message queued while Slack was busy cost one call.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from slack_sdk.web.async_client import AsyncWebClient

from bot.models.alertmanager import Alert
from bot.notify.slack.calls import METADATA_EVENT, SlackCalls
from bot.notify.slack.config import SlackConfig
from bot.notify.slack.outbox import Entry, Outbox, Wanted, message_key
from bot.notify.slack.sender import ChannelSender
from bot.notify.slack.state import MessageRef, SlackState
from bot.store import MemoryStore
from bot.store.redis import DEAD, PREFIX
from tests.fakes.slack_api import FakeSlack, Posted
from tests.helpers import RedisServer, alert, notification, wait_for
from tests.integration.serve_support import (  # noqa: F401 - `serve` is a fixture
    StartServe,
    serve,
    write_rules,
)

pytestmark = pytest.mark.integration

CHANNEL = "#storm"
RULE = """\
name: storm
severity: P3
match:
  alertname: Storm
diagnosis:
  - scenario: storm
    when: 'true'
    summary: 'storm alert on {{ alert.labels.instance }}'
"""
_INC = re.compile(r"inc-[0-9a-f]{12}")


def key_of(message: Posted) -> str:
    meta = message.metadata or {}
    return str((meta.get("event_payload") or {}).get("key", ""))


def shown(fake: FakeSlack) -> tuple[Counter[str], Counter[str]]:
    """(own messages per incident, storm digest lines per incident), as Slack shows them."""
    own: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for m in fake.messages:
        key = key_of(m)
        if key.startswith("inc:"):
            own[key[4:]] += 1
        elif re.match(r"storm:.+:d\d+$", key):
            lines.update(set(_INC.findall(json.dumps(m.blocks))))
    return own, lines


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack(rate=20, burst=5).start()
    yield server
    await server.stop()


async def test_sender_killed_mid_storm_is_taken_over_nothing_lost_nothing_twice(
    tmp_path: Path,
    private_redis: RedisServer,
    fake: FakeSlack,
    serve: StartServe,  # noqa: F811
) -> None:
    rules = write_rules(tmp_path / "rules", RULE)
    env = {
        "HONUA_BOT_REDIS_URL": private_redis.url,
        "HONUA_BOT_RULES": str(rules),
        "HONUA_BOT_CLAIM_IDLE_SECONDS": "2",
        "HONUA_BOT_SLACK_BOT_TOKEN": fake.token,
        "HONUA_BOT_SLACK_CHANNEL": CHANNEL,
        "HONUA_BOT_SLACK_API_URL": fake.api_url,
        "HONUA_BOT_SLACK_STORM_THRESHOLD": "10",
        "HONUA_BOT_SLACK_STORM_UPDATE_SECONDS": "1",
        "HONUA_BOT_SLACK_POST_INTERVAL": "0.3",
        "HONUA_BOT_LOG_LEVEL": "warning",
    }
    replicas = [serve(f"replica-{n}", **env) for n in range(2)]
    await asyncio.gather(*(p.wait_ready() for p in replicas))
    alerts = [
        alert("Storm", fingerprint=f"fp-storm-{i:04d}", instance=f"pod-{i}") for i in range(120)
    ]
    ids = {Alert.model_validate(a).incident_id for a in alerts}
    r = aioredis.Redis.from_url(private_redis.url)
    lease = f"{PREFIX}:lock:slack-sender:{CHANNEL}"
    try:
        import httpx

        async with httpx.AsyncClient(timeout=10) as http:
            for i in range(0, len(alerts), 10):
                target = replicas[(i // 10) % 2]
                resp = await http.post(
                    f"{target.url}/alerts", json=notification(*alerts[i : i + 10])
                )
                assert resp.status_code == 200
        # mid-storm: a few incidents posted, the summary and its lines not yet complete
        await wait_for(lambda: len(fake.messages) >= 4, timeout=20)
        holder = (await r.get(lease)).decode()
        leader = next(p for p in replicas if f"-{p.proc.pid}-" in holder)
        survivor = next(p for p in replicas if p is not leader)
        leader.kill()
        killed_at = asyncio.get_running_loop().time()
        shown_before = len(fake.messages)

        async def taken_over() -> bool:
            raw = await r.get(lease)
            return raw is not None and f"-{survivor.proc.pid}-" in raw.decode()

        await wait_for(taken_over, timeout=10)
        took = asyncio.get_running_loop().time() - killed_at
        assert took < 8, took  # the lease is 5 s, renewed every 1.7 s

        def everything_shown() -> bool:
            own, lines = shown(fake)
            return set(own) | set(lines) == ids

        try:
            await wait_for(everything_shown, timeout=60, interval=0.2)
        except AssertionError:
            own, lines = shown(fake)
            missing = ids - set(own) - set(lines)
            keys = [key_of(m) for m in fake.messages]
            raise AssertionError(
                f"{len(missing)} never shown; posted keys {keys}; "
                f"outbox {await r.mget([k async for k in r.scan_iter(f'{PREFIX}:v:slack:ob:*')])}"
                f"\n{survivor.diagnostics()}"
            ) from None
        assert len(fake.messages) > shown_before  # the survivor sent the rest
        own, lines = shown(fake)
        assert set(own.values()) == {1}, own  # no incident's message posted twice
        assert set(lines.values()) == {1}, lines  # each storm incident listed once
        assert not set(own) & set(lines)
        summaries = [m for m in fake.messages if key_of(m).endswith(":summary")]
        assert len(summaries) == 1
        digests = Counter(key_of(m) for m in fake.messages if re.search(r":d\d+$", key_of(m)))
        assert set(digests.values()) == {1}
        assert await r.xlen(DEAD) == 0
        assert survivor.proc.poll() is None
    finally:
        await r.aclose()


def _sender(fake: FakeSlack, store: MemoryStore, **config: Any) -> tuple[ChannelSender, Outbox]:
    cfg = SlackConfig(default_channel=CHANNEL, storm_threshold=0, **config)
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url, retry_handlers=[])
    outbox = Outbox(store, cfg.ttl)
    state = SlackState(store, cfg.ttl)
    sender = ChannelSender(CHANNEL, store, outbox, state, SlackCalls(client, 5), cfg, "me")
    return sender, outbox


async def _run_until_drained(sender: ChannelSender, outbox: Outbox) -> None:
    task = asyncio.create_task(sender.run())
    try:
        await wait_for(lambda: _drained(outbox))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def _drained(outbox: Outbox) -> bool:
    return await outbox.done(CHANNEL) >= await outbox.head(CHANNEL)


async def test_a_post_slack_took_before_its_sender_died_is_adopted_not_repeated(
    fake: FakeSlack,
) -> None:
    store = MemoryStore()
    sender, outbox = _sender(fake, store)
    incident = "inc-0123456789ab"
    key = message_key(incident)
    # what the killed sender left: the attempt recorded, the post accepted by
    # Slack (with its metadata), the reference never saved, the entry not done
    await outbox.want(incident, Wanted(CHANNEL, "old text", [], ""))
    await outbox.add(CHANNEL, Entry("show", incident))
    await outbox.attempt(key)
    client = AsyncWebClient(token=fake.token, base_url=fake.api_url)
    first = await client.chat_postMessage(
        channel=CHANNEL,
        text="old text",
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
    )
    # and a thread reply in the same state
    reply_key = f"act:{incident}:0"
    await outbox.add(CHANNEL, Entry("reply", incident, reply_key, "step 1"))
    await outbox.attempt(reply_key)
    await client.chat_postMessage(
        channel=CHANNEL,
        text="step 1",
        thread_ts=first["ts"],
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": reply_key}},
    )
    await outbox.want(incident, Wanted(CHANNEL, "new text", [], ""))

    await _run_until_drained(sender, outbox)

    assert len(fake.posts(top_level=True)) == 1  # adopted, not posted again
    message = fake.posts(top_level=True)[0]
    assert message.text == "new text" and message.updates == 1  # and brought up to date
    assert [m.text for m in fake.replies(message.ts)] == ["step 1"]
    assert await sender.state.message(incident) == MessageRef(message.channel, message.ts)
    assert fake.calls_to("conversations.history") and fake.calls_to("conversations.replies")


async def test_successive_updates_of_one_message_cost_one_call(fake: FakeSlack) -> None:
    store = MemoryStore()
    sender, outbox = _sender(fake, store, post_interval=0.5)
    incident = "inc-0123456789ab"
    await outbox.want(incident, Wanted(CHANNEL, "v0", [], ""))
    await outbox.add(CHANNEL, Entry("show", incident))
    await _run_until_drained(sender, outbox)
    assert len(fake.calls_to("chat.postMessage")) == 1
    for n in range(1, 6):  # five states recorded before the sender got to them
        await outbox.want(incident, Wanted(CHANNEL, f"v{n}", [], ""))
        await outbox.add(CHANNEL, Entry("show", incident))
    await _run_until_drained(sender, outbox)
    updates = fake.calls_to("chat.update")
    assert [c.args["text"] for c in updates] == ["v5"]
    assert len(fake.calls_to("chat.postMessage")) == 1


async def test_storm_summary_is_at_most_the_update_interval_behind(
    tmp_path: Path, fake: FakeSlack
) -> None:
    """Incidents keep joining a storm while the sender is busy: the summary's
    count catches up within HONUA_BOT_SLACK_STORM_UPDATE_SECONDS (plus the one
    paced call that updates it), not after the whole backlog."""
    from tests.integration.slack_support import fire, header, slack_alert, slack_bot

    update = 1.0
    async with slack_bot(
        tmp_path,
        fake,
        slack_storm_threshold=3,
        slack_storm_update_seconds=update,
        slack_post_interval=0.2,
        workers=4,
    ) as h:
        await fire(h, *[slack_alert(n) for n in range(20)])

        def summary() -> Posted | None:
            return next(
                (m for m in fake.posts(top_level=True) if key_of(m).endswith(":summary")), None
            )

        first: Posted = await wait_for(summary, 15)
        await wait_for(lambda: "17" in header(first), 10)
        loop = asyncio.get_running_loop()
        state = h.service.slack.notifier.state  # type: ignore[union-attr]
        for batch in range(3):
            alerts = [slack_alert(100 + batch * 10 + n) for n in range(10)]
            ids = [Alert.model_validate(a).incident_id for a in alerts]
            await fire(h, *alerts)

            async def joined(ids: list[str] = ids) -> bool:
                return all([await state.member_of(i) is not None for i in ids])

            await wait_for(joined, 10, interval=0.01)
            recorded = loop.time()
            expected = f"Alert storm — {17 + (batch + 1) * 10}"
            await wait_for(lambda e=expected: e in header(first), 10)  # type: ignore[misc]
            lag = loop.time() - recorded
            assert lag <= update + 1.0, (batch, lag)


async def test_slack_keeps_posting_while_the_bots_redis_is_down_and_after_it_returns(
    tmp_path: Path, fake: FakeSlack, private_redis: RedisServer
) -> None:
    """Degraded mode: with its Redis unreachable the bot runs on memory; what it
    records for Slack then goes to the replica's own outbox, so it is posted at
    once and not lost when Redis comes back (empty, as after a crash)."""
    from tests.integration.slack_support import fire, posted_for, slack_alert, slack_bot

    async with slack_bot(
        tmp_path,
        fake,
        redis_url=private_redis.url,
        redis_check_interval=0.2,
        slack_post_interval=0.2,
    ) as h:
        before = slack_alert(1)
        await fire(h, before)
        await posted_for(fake, Alert.model_validate(before).incident_id)

        private_redis.stop()
        during = slack_alert(2)
        await fire(h, during)
        await posted_for(fake, Alert.model_validate(during).incident_id, timeout=15)

        private_redis.start()  # same port, empty
        store = h.service.store

        async def recovered() -> bool:
            return not getattr(store, "degraded", False)

        await wait_for(recovered, timeout=10)
        after = slack_alert(3)
        await fire(h, after)
        await posted_for(fake, Alert.model_validate(after).incident_id, timeout=15)
        await fire(h, slack_alert(2, status="resolved"))  # recorded in memory, resolved now

        def resolved() -> bool:
            return any(
                key_of(m) == f"inc:{Alert.model_validate(during).incident_id}"
                and "Resolved" in m.text
                for m in fake.messages
            )

        await wait_for(resolved, timeout=15)
        own, lines = shown(fake)
        assert set(own.values()) == {1} and len(own) == 3  # each posted once
        assert not lines
