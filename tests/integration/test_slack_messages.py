"""The bot's Slack messages, against the fake Slack Web API over real HTTP: one
message per incident updated in place, routing, storms within the rate limit,
429 and 5xx handling, and a Slack outage that loses nothing."""

from __future__ import annotations

import asyncio
import io
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from bot import logs
from bot.models import Incident
from bot.notify import Event
from tests.fakes.slack_api import (
    FakeSlack,
    Posted,
    block_actions,
    channel_id,
    interaction_body,
    sign,
)
from tests.helpers import wait_for
from tests.integration.slack_support import (
    SECRET,
    answer,
    button,
    fire,
    header,
    incident_id,
    incident_of,
    posted_for,
    slack_alert,
    slack_bot,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


async def test_posted_once_updated_in_place_and_resolved_in_place(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(tmp_path, fake) as h:
        firing = slack_alert(1)
        inc = incident_id(firing)
        await fire(h, firing)
        message = await posted_for(fake, inc)
        assert message.channel == fake.posts()[0].channel and not message.thread_ts
        assert (
            header(message)
            == ":rotating_light: P2 SlackTest · redis-connection — Awaiting decision"
        )
        # auth.test answered; the token went as a Bearer header (the fake checks it)
        assert all(c.ok for c in fake.calls)

        # Alertmanager re-sends (repeat_interval, HA peer): no second message
        await fire(h, firing)
        # the notifier itself asked again (a redelivery after a crash): an update, no post
        incident = await h.service.store.get_incident(inc)
        assert incident is not None
        notifier = h.service.slack.notifier  # type: ignore[union-attr]
        await notifier.notify(incident, Event.DIAGNOSED)
        await wait_for(notifier.drained)
        assert message.updates == 0  # the same content is not sent again
        assert len(fake.calls_to("chat.postMessage")) == 1

        await fire(h, slack_alert(1, status="resolved"))
        await wait_for(lambda: "Resolved" in header(message))
        assert header(message) == ":large_green_circle: P2 SlackTest · redis-connection — Resolved"
        assert not [b for b in message.blocks if b["type"] == "actions"]
        [prevention] = [b for b in message.blocks if b.get("block_id") == "honua-prevention"]
        assert prevention["text"]["text"].endswith(
            "\n☐ Redis Health: Monitor Redis availability and connection pool"
        )
        updates = fake.calls_to("chat.update")
        assert {(c.args["channel"], c.args["ts"]) for c in updates} == {
            (message.channel, message.ts)
        }
        assert len(fake.calls_to("chat.postMessage")) == 1  # never a new top-level message
        assert len(fake.posts()) == 1


async def test_routing_by_rule_and_severity(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(
        tmp_path,
        fake,
        slack_channel_by_severity={"P1": "#paging"},
        slack_channel_by_rule={"slack-test": "#redis-team"},
    ) as h:
        await fire(h, slack_alert(1))
        message = await posted_for(fake, incident_id(slack_alert(1)))
        assert message.channel == channel_id("#redis-team")
    fake.messages.clear()
    async with slack_bot(tmp_path, fake, slack_channel_by_severity={"P2": "#paging"}) as h:
        await fire(h, slack_alert(2))
        message = await posted_for(fake, incident_id(slack_alert(2)))
        assert message.channel == channel_id("#paging")


def _storm_lines(fake: FakeSlack, summary: Posted) -> Counter[str]:
    """incident id → how many digest lines show it."""
    seen: Counter[str] = Counter()
    for reply in fake.replies(summary.ts):
        for block in reply.blocks:
            found = re.search(r"`(inc-[0-9a-f]+)`", (block.get("text") or {}).get("text", ""))
            if block.get("block_id", "").startswith("honua-m-") and found:
                seen[found.group(1)] += 1
    return seen


async def test_storm_of_200_incidents_one_summary_within_the_rate_limit(
    tmp_path: Path, fake: FakeSlack
) -> None:
    threshold = 3
    async with slack_bot(
        tmp_path,
        fake,
        slack_storm_threshold=threshold,
        slack_storm_window_seconds=120,
        slack_storm_update_seconds=0.5,
        workers=8,
    ) as h:
        alerts = [slack_alert(n) for n in range(200)]
        ids = {incident_id(a) for a in alerts}
        for i in range(0, 200, 20):
            await fire(h, *alerts[i : i + 20])

        def storm_summary() -> Posted | None:
            return next((m for m in fake.posts(top_level=True) if "Alert storm" in header(m)), None)

        summary: Posted = await wait_for(storm_summary, 15)

        def own() -> set[str]:
            return {incident_of(m) for m in fake.posts(top_level=True) if m is not summary}

        await wait_for(lambda: set(_storm_lines(fake, summary)) | own() == ids, 15)
        own_ids, lines = own(), _storm_lines(fake, summary)
        assert len(own_ids) == threshold and not (set(lines) & own_ids)
        assert set(lines.values()) == {1}  # each incident listed once

        # resolving storm incidents updates the summary and the lines in place
        for a in alerts[-10:]:
            await fire(h, slack_alert(int(a["fingerprint"][-4:]), status="resolved"))
        await wait_for(lambda: header(summary).endswith("(10 resolved)"), 10)

        top_level = fake.posts(top_level=True)
        assert len(top_level) == threshold + 1  # the first few, then one summary
        assert sum(1 for m in top_level if "Alert storm" in header(m)) == 1
        assert header(summary).startswith(
            f":thunder_cloud_and_rain: Alert storm — {200 - threshold}"
        )
        counts = next(b for b in summary.blocks if b.get("block_id") == "honua-storm-counts")
        assert f"`slack-test` · redis-connection — *{200 - threshold}*" in counts["text"]["text"]
        # within Slack's limit: never answered 429, about one post per second per channel
        assert fake.rate_limited == 0
        posts = fake.calls_to("chat.postMessage")
        assert len(posts) <= threshold + 1 + 5  # + one reply per 40 storm incidents
        gaps = [y.at - x.at for x, y in pairwise(posts)]
        assert min(gaps) >= 0.9


async def test_429_retry_after_is_honoured_and_5xx_retried(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(tmp_path, fake) as h:
        fake.fail_next(1, status=429, method="chat.postMessage", retry_after=2)
        fake.fail_next(2, status=502, method="chat.postMessage")
        await fire(h, slack_alert(1))
        await posted_for(fake, incident_id(slack_alert(1)), timeout=15)
        attempts = fake.calls_to("chat.postMessage")
        assert [c.status for c in attempts] == [429, 502, 502, 200]
        assert attempts[1].at - attempts[0].at >= 1.9  # waited Retry-After
        assert len(fake.posts()) == 1


@pytest.fixture
def quiet_logs() -> Iterator[None]:
    """JSON logs to a buffer: the development renderer's tracebacks (every failed
    attempt logs one) cost more time than this test should spend."""
    logs.configure("info", stream=io.StringIO())
    yield
    logs.configure("info")


@pytest.mark.usefixtures("quiet_logs")
async def test_slack_down_then_back_loses_nothing(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(tmp_path, fake, slack_retry_seconds=0.3, claim_idle_seconds=3) as h:
        fake.down = 503
        alerts = [slack_alert(n) for n in range(4)]
        for a in alerts[:2]:
            await fire(h, a)

        # the console stand-in (Recorder in the FanOut) shows them while Slack fails
        def shown() -> set[str]:
            return {i.id for e, i in h.recorder.events if e is Event.DIAGNOSED}

        ids = {incident_id(a) for a in alerts}
        await wait_for(lambda: shown() >= {incident_id(a) for a in alerts[:2]}, 10)

        # the workers recorded them in the outbox and moved on: no entry waits for Slack
        def slack_errors() -> float:  # the chart's HonuaBotSlackFailing alerts on these
            samples = h.service.metrics.slack_errors.collect()[0].samples
            return sum(s.value for s in samples if s.name.endswith("_total"))

        await wait_for(lambda: slack_errors() >= 2, 10)
        assert h.service.metrics.worker_errors.labels("pipeline")._value.get() == 0

        # then no Slack at all: connection refused
        await fake.stop()
        for a in alerts[2:]:
            await fire(h, a)
        await wait_for(lambda: shown() == ids, 15)
        assert not fake.posts()

        fake.down = None
        await fake.start()
        await wait_for(lambda: {incident_of(m) for m in fake.posts()} == ids, 15)
        per_incident = Counter(incident_of(m) for m in fake.posts())
        assert set(per_incident.values()) == {1}  # each posted exactly once
        stored: list[Incident] = [
            i for i in [await h.service.store.get_incident(x) for x in ids] if i is not None
        ]
        assert all(Event.DIAGNOSED.value in i.notified for i in stored)


async def test_two_replicas_on_one_redis_post_once_and_share_buttons(
    tmp_path: Path, fake: FakeSlack, redis_url: str
) -> None:
    async with (
        slack_bot(tmp_path, fake, redis_url=redis_url) as a,
        slack_bot(tmp_path, fake, redis_url=redis_url) as b,
    ):
        firing = slack_alert(1)
        # Alertmanager HA: both replicas get the same notification at once
        await asyncio.gather(fire(a, firing), fire(b, firing))
        message = await posted_for(fake, incident_id(firing))
        await fire(b, firing)  # and a re-send later
        assert len(fake.calls_to("chat.postMessage")) == 1

        # the message came from one replica; its button works on the other
        for harness in (a, b):
            incident = await harness.service.store.get_incident(incident_id(firing))
            assert incident is not None
        payload = block_actions(
            button(message, "honua:ack"),
            channel=message.channel,
            message_ts=message.ts,
            response_url=fake.response_url("ha"),
        )
        body = interaction_body(payload)
        headers = sign(SECRET, body)
        resp = await b.http.post("/slack/events", content=body, headers=headers)
        assert resp.status_code == 200
        assert (await answer(fake, "ha"))["text"].startswith(":white_check_mark: acknowledged")
        # the same signed request replayed to the other replica: refused there too
        replay = await a.http.post("/slack/events", content=body, headers=headers)
        assert replay.status_code == 401
        await fire(a, slack_alert(1, status="resolved"))
        await wait_for(lambda: "Resolved" in header(message))
        # the message + the ack thread reply
        await wait_for(lambda: len(fake.calls_to("chat.postMessage")) == 2)
        assert len(fake.posts(top_level=True)) == 1
