"""Degraded mode and back-pressure.

When the bot's own Redis goes away the bot keeps taking and processing alerts in
memory, says so in /readyz and /metrics, and goes back to Redis when it returns
(a redis-server restarted on the same port). When it cannot queue at all (the
bounded in-memory queue is full) it answers 503 so Alertmanager retries, and
nothing it answered 200 for is ever lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from bot.models.alertmanager import Alert
from bot.notify import Event
from bot.store.redis import PREFIX, STREAM
from tests.helpers import BotHarness, GatedNotifier, RedisServer, alert, notification, wait_for


def incident_id(a: dict[str, Any]) -> str:
    return Alert.model_validate(a).incident_id


def restart(server: RedisServer) -> None:
    """Kill the redis-server and start a fresh one on the same port (empty, as a
    Redis without persistence comes back after a crash)."""
    port = server.port
    server.stop()
    server.start()
    assert server.port == port


def metric(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return None


async def readyz(bot: BotHarness) -> dict[str, Any]:
    resp = await bot.http.get("/readyz")
    assert resp.status_code == 200, resp.text  # degraded is still ready: it keeps working
    return resp.json()


async def degraded_gauge(bot: BotHarness) -> float | None:
    return metric((await bot.http.get("/metrics")).text, "honua_bot_degraded")


def notified(bot: BotHarness, inc_id: str) -> list[Event]:
    return [event for event, incident in bot.recorder.events if incident.id == inc_id]


@pytest.fixture
async def raw(private_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


async def in_redis(raw: aioredis.Redis, inc_id: str) -> bool:
    try:
        return bool(await raw.exists(f"{PREFIX}:incident:{inc_id}"))
    except (aioredis.ConnectionError, OSError):
        return False


async def _eq(value: Any, expected: float) -> bool:
    return (await value) == expected


async def _degraded_cleared(bot: BotHarness) -> bool:
    return (await readyz(bot))["degraded"] == []


# --- degraded mode ----------------------------------------------------------------


async def test_redis_down_bot_works_in_memory_says_so_and_returns_to_redis(
    private_redis: RedisServer, raw: aioredis.Redis
) -> None:
    before, during, after = (alert(fingerprint=f"fp-{n}") for n in ("before", "during", "after"))
    async with BotHarness(
        redis_url=private_redis.url, redis_check_interval=0.2, claim_idle_seconds=0.5
    ) as bot:
        # healthy: on Redis
        assert (await bot.post(notification(before))).status_code == 200
        await wait_for(lambda: notified(bot, incident_id(before)))
        assert await in_redis(raw, incident_id(before))
        assert (await readyz(bot))["degraded"] == []
        await wait_for(lambda: _eq(degraded_gauge(bot), 0))

        private_redis.stop()  # SIGKILL

        resp = await bot.post(notification(during))
        assert resp.status_code == 200, resp.text
        await wait_for(lambda: notified(bot, incident_id(during)), timeout=10)
        [(event, incident)] = [
            (e, i) for e, i in bot.recorder.events if i.id == incident_id(during)
        ]
        assert event is Event.DIAGNOSED and incident.diagnosis is not None

        body = await readyz(bot)
        assert body["ready"] is True
        [reason] = body["degraded"]
        assert reason.startswith("store: ") and "redis unreachable" in reason, reason
        await wait_for(lambda: _eq(degraded_gauge(bot), 1), timeout=5)
        # the incident is readable from memory meanwhile
        got = await bot.http.get(f"/incidents/{incident_id(during)}")
        assert got.status_code == 200 and got.json()["diagnosis"] is not None

        restart(private_redis)

        await wait_for(lambda: _degraded_cleared(bot), timeout=10)
        await wait_for(lambda: _eq(degraded_gauge(bot), 0), timeout=5)
        assert (await bot.post(notification(after))).status_code == 200
        await wait_for(lambda: in_redis(raw, incident_id(after)), timeout=10)
        await wait_for(lambda: notified(bot, incident_id(after)))
        assert await raw.xinfo_groups(STREAM)  # the consumer group was recreated
        # every alert was notified exactly once, whichever store held it
        for a in (before, during, after):
            assert notified(bot, incident_id(a)) == [Event.DIAGNOSED]


async def test_work_queued_in_memory_while_degraded_is_drained_after_redis_returns(
    private_redis: RedisServer, raw: aioredis.Redis
) -> None:
    gate = GatedNotifier()
    queued = [alert(fingerprint=f"fp-held-{i}") for i in range(3)]
    async with BotHarness(
        notifier=gate, redis_url=private_redis.url, redis_check_interval=0.2, workers=1
    ) as bot:
        try:
            private_redis.stop()
            for a in queued:
                assert (await bot.post(notification(a))).status_code == 200
            await asyncio.wait_for(gate.entered.wait(), 10)  # the only worker is held
            assert (await readyz(bot))["degraded"]

            restart(private_redis)
            await wait_for(lambda: _degraded_cleared(bot), timeout=10)
        finally:
            gate.release.set()
        await wait_for(lambda: len(gate.events) == 3, timeout=10)
        assert sorted(i.id for _, i in gate.events) == sorted(incident_id(a) for a in queued)
        assert {e for e, _ in gate.events} == {Event.DIAGNOSED}
        late = alert(fingerprint="fp-late")
        assert (await bot.post(notification(late))).status_code == 200
        await wait_for(lambda: in_redis(raw, incident_id(late)), timeout=10)


async def test_bot_starts_degraded_when_its_redis_is_down_and_moves_to_it_later(
    private_redis: RedisServer, raw: aioredis.Redis
) -> None:
    private_redis.stop()
    early, later = alert(fingerprint="fp-early"), alert(fingerprint="fp-later")
    async with BotHarness(redis_url=private_redis.url, redis_check_interval=0.2) as bot:
        assert (await readyz(bot))["degraded"]
        assert (await bot.post(notification(early))).status_code == 200
        await wait_for(lambda: notified(bot, incident_id(early)))

        private_redis.start()
        await wait_for(lambda: _degraded_cleared(bot), timeout=10)
        assert (await bot.post(notification(later))).status_code == 200
        await wait_for(lambda: in_redis(raw, incident_id(later)), timeout=10)
        await wait_for(lambda: notified(bot, incident_id(later)))


# --- back-pressure ------------------------------------------------------------------


async def test_full_memory_queue_answers_503_and_loses_nothing_it_accepted() -> None:
    gate = GatedNotifier()
    burst = [alert(fingerprint=f"fp-burst-{i:02d}") for i in range(20)]
    async with BotHarness(notifier=gate, memory_queue_size=1) as bot:
        try:
            first = await bot.post(notification(burst[0]))
            assert first.status_code == 200, first.text
            await asyncio.wait_for(gate.entered.wait(), 10)  # a worker holds it, unacked

            resps = await asyncio.gather(*(bot.post(notification(a)) for a in burst[1:]))
            codes = [r.status_code for r in resps]
            assert set(codes) <= {200, 503}, codes
            refused = [a for a, r in zip(burst[1:], resps, strict=True) if r.status_code == 503]
            assert refused, codes
            for resp in resps:
                if resp.status_code == 503:
                    body = resp.json()
                    assert body["status"] == "error"
                    assert "queue is full" in body["error"], body
            text = (await bot.http.get("/metrics")).text
            rejected = metric(text, "honua_bot_notifications_rejected_total", reason="queue_full")
            assert rejected == len(refused)
        finally:
            gate.release.set()

        # Alertmanager retries what got a 503; every alert ends as one incident
        for a in refused:

            async def accepted(a: dict[str, Any] = a) -> bool:
                return (await bot.post(notification(a))).status_code == 200

            await wait_for(accepted, timeout=10)
        await wait_for(lambda: len(gate.events) == len(burst), timeout=10)
        ids = [i.id for _, i in gate.events]
        assert sorted(ids) == sorted(incident_id(a) for a in burst)
        assert {e for e, _ in gate.events} == {Event.DIAGNOSED}
        listed = (await bot.http.get("/incidents", params={"limit": 100})).json()
        assert {i["id"] for i in listed} == set(ids)


async def test_connections_pooled_before_a_redis_restart_are_redone_not_reported_down(
    private_redis: RedisServer,
) -> None:
    """Connections pooled before Redis restarted are closed by the server: their
    next command (plain, pipelined or a script) is redone once on a fresh
    connection instead of raising StoreUnavailable, which would put the whole
    store back in degraded mode right after it recovered."""
    from bot.store.redis import RedisStore

    store = RedisStore(private_redis.url)
    try:
        await store.start()

        async def busy() -> None:  # several connections in the pool at once
            await store.set_value("k", "v")
            await store.get_value("k")

        await asyncio.gather(*(busy() for _ in range(6)))
        assert await store.acquire("lock", "me", 5)
        restart(private_redis)
        await asyncio.gather(*(store.set_value(f"k{i}", "v") for i in range(6)))
        assert await store.get_value("k0") == "v"
        assert await store.acquire("lock", "me", 5)  # Lua script
        await store.start()  # xgroup_create on the empty Redis
        await store.enqueue(b"payload")  # the batcher's script
        assert await store.queue_depth() == 1
    finally:
        await store.close()
