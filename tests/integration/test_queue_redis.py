"""RedisStore against a real Redis: the queue (Stream + consumer group), reclaim of
entries a dead consumer left pending, dead letters, and the SET NX locks.

Each test uses the shared Redis on a database of its own (``redis_url``, emptied
per test) and two RedisStore instances where two replicas are meant.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from bot.store import QueueEntry, RedisStore
from bot.store.redis import DEAD, GROUP, PREFIX, STREAM
from tests.helpers import wait_for


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def store_a(redis_url: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url)
    await store.start()
    yield store
    await store.close()


@pytest.fixture
async def store_b(redis_url: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url)
    await store.start()
    yield store
    await store.close()


async def pending_count(raw: aioredis.Redis) -> int:
    return int((await raw.xpending(STREAM, GROUP))["pending"])


async def pending_detail(raw: aioredis.Redis) -> list[dict]:
    return await raw.xpending_range(STREAM, GROUP, min="-", max="+", count=100)


def _consumer(detail: dict) -> str:
    name = detail["consumer"]
    return name.decode() if isinstance(name, bytes) else name


# --- queue -------------------------------------------------------------------


async def test_enqueue_dequeue_ack_leaves_nothing_behind(
    store_a: RedisStore, raw: aioredis.Redis
) -> None:
    entry_id = await store_a.enqueue(b'{"n": 1}')
    assert await raw.xlen(STREAM) == 1
    assert await store_a.queue_depth() == 1

    got = await store_a.dequeue("consumer-a", count=10, block_ms=500)
    assert [(e.id, e.payload, e.deliveries, e.origin) for e in got] == [
        (entry_id, b'{"n": 1}', 1, "redis")
    ]
    assert await pending_count(raw) == 1

    await store_a.ack(got[0])
    assert await raw.xlen(STREAM) == 0
    assert await pending_count(raw) == 0
    assert await store_a.queue_depth() == 0
    # nothing else to read
    assert await store_a.dequeue("consumer-a", count=10, block_ms=0) == []


async def test_concurrent_enqueues_share_a_round_trip_and_keep_order(
    store_a: RedisStore, raw: aioredis.Redis
) -> None:
    payloads = [f'{{"n": {i}}}'.encode() for i in range(50)]
    ids = await asyncio.gather(*(store_a.enqueue(p) for p in payloads))
    assert len(set(ids)) == 50
    assert await raw.xlen(STREAM) == 50
    got: list[QueueEntry] = []
    while len(got) < 50:
        batch = await store_a.dequeue("consumer-a", count=20, block_ms=500)
        assert batch, "the stream ran dry before every entry was read"
        got.extend(batch)
    assert [e.payload for e in got] == payloads
    assert [e.id for e in got] == list(ids)


async def test_unacked_entry_is_not_redelivered_but_is_reclaimed_once_idle(
    store_a: RedisStore, store_b: RedisStore, raw: aioredis.Redis
) -> None:
    entry_id = await store_a.enqueue(b"work")
    taken = await store_a.dequeue("consumer-a", count=10, block_ms=500)
    assert [e.id for e in taken] == [entry_id]
    # consumer A "dies" here: it never acks.

    # B reading new entries does not get A's pending one
    assert await store_b.dequeue("consumer-b", count=10, block_ms=200) == []
    # and it is not idle long enough to take over yet
    assert await store_b.reclaim("consumer-b", min_idle_ms=60_000, count=10) == []
    [pending] = await pending_detail(raw)
    assert _consumer(pending) == "consumer-a"

    reclaimed = await wait_for(
        lambda: store_b.reclaim("consumer-b", min_idle_ms=100, count=10), timeout=5, interval=0.02
    )
    assert len(reclaimed) == 1
    entry = reclaimed[0]
    assert (entry.id, entry.payload, entry.deliveries, entry.origin) == (
        entry_id,
        b"work",
        2,
        "redis",
    )
    [pending] = await pending_detail(raw)
    assert _consumer(pending) == "consumer-b"
    assert pending["times_delivered"] == 2

    await store_b.ack(entry)
    assert await pending_count(raw) == 0
    assert await raw.xlen(STREAM) == 0
    # gone for everyone
    assert await store_a.reclaim("consumer-a", min_idle_ms=0, count=10) == []
    assert await store_a.dequeue("consumer-a", count=10, block_ms=0) == []


async def test_reclaim_counts_every_delivery(
    store_a: RedisStore, store_b: RedisStore, raw: aioredis.Redis
) -> None:
    await store_a.enqueue(b"flaky")
    await store_a.dequeue("consumer-a", count=1, block_ms=500)
    first = await wait_for(lambda: store_b.reclaim("consumer-b", 50, 10), timeout=5, interval=0.02)
    second = await wait_for(lambda: store_a.reclaim("consumer-a", 50, 10), timeout=5, interval=0.02)
    assert [e.deliveries for e in first] == [2]
    assert [e.deliveries for e in second] == [3]
    await store_a.ack(second[0])
    assert await pending_count(raw) == 0


async def test_concurrent_reclaimers_take_an_entry_once_and_never_drop_it(
    redis_url: str, raw: aioredis.Redis
) -> None:
    """Replicas (and the workers in each) reclaim on the same schedule. The one that
    loses the race for an idle entry must leave it pending, not ack it away."""
    stores = [RedisStore(redis_url) for _ in range(4)]
    try:
        for store in stores:
            await store.start()
        for round_ in range(10):
            entry_id = await stores[0].enqueue(f"round {round_}".encode())
            await stores[0].dequeue("dead-consumer", count=1, block_ms=500)

            async def all_reclaim() -> list[list[QueueEntry]]:
                got = await asyncio.gather(
                    *(
                        s.reclaim(f"consumer-{n}", min_idle_ms=50, count=10)
                        for n, s in enumerate(stores)
                    )
                )
                return got if any(got) else []

            results = await wait_for(all_reclaim, timeout=5, interval=0.02)
            winners = [entries for entries in results if entries]
            assert [[e.id for e in w] for w in winners] == [[entry_id]], results
            assert await pending_count(raw) == 1, "the losing reclaimer acked the entry away"
            await stores[0].ack(winners[0][0])
            assert await pending_count(raw) == 0
    finally:
        for store in stores:
            await store.close()


async def test_reclaim_of_an_entry_whose_data_was_deleted_acks_it_away(
    store_a: RedisStore, store_b: RedisStore, raw: aioredis.Redis
) -> None:
    keep = await store_a.enqueue(b"keep")
    lost = await store_a.enqueue(b"lost")
    taken = await store_a.dequeue("consumer-a", count=10, block_ms=500)
    assert {e.id for e in taken} == {keep, lost}
    assert await raw.xdel(STREAM, lost) == 1
    assert await pending_count(raw) == 2  # XDEL leaves the pending entry behind

    reclaimed = await wait_for(
        lambda: store_b.reclaim("consumer-b", min_idle_ms=100, count=10), timeout=5, interval=0.02
    )
    # only the entry that still has data comes back; the other is acked away
    assert [(e.id, e.payload) for e in reclaimed] == [(keep, b"keep")]
    assert [p["message_id"].decode() for p in await pending_detail(raw)] == [keep]
    await store_b.ack(reclaimed[0])
    assert await pending_count(raw) == 0
    assert await raw.xlen(STREAM) == 0


async def test_reclaim_when_only_deleted_entries_are_pending(
    store_a: RedisStore, store_b: RedisStore, raw: aioredis.Redis
) -> None:
    lost = await store_a.enqueue(b"lost")
    await store_a.dequeue("consumer-a", count=10, block_ms=500)
    await raw.xdel(STREAM, lost)

    async def reclaim_until_clean() -> bool:
        assert await store_b.reclaim("consumer-b", min_idle_ms=100, count=10) == []
        return await pending_count(raw) == 0

    await wait_for(reclaim_until_clean, timeout=5, interval=0.02)


async def test_dead_letter_moves_the_entry_aside_with_its_reason(
    store_a: RedisStore, raw: aioredis.Redis
) -> None:
    entry_id = await store_a.enqueue(b"poison")
    [entry] = await store_a.dequeue("consumer-a", count=1, block_ms=500)
    await store_a.dead_letter(entry, "failed 20 times")
    assert await pending_count(raw) == 0
    assert await raw.xlen(STREAM) == 0
    [(_, fields)] = await raw.xrange(DEAD)
    assert fields == {
        b"payload": b"poison",
        b"reason": b"failed 20 times",
        b"id": entry_id.encode(),
    }


async def test_dequeue_recreates_the_group_when_the_stream_is_deleted(
    store_a: RedisStore, raw: aioredis.Redis
) -> None:
    await raw.flushdb()
    assert await store_a.dequeue("consumer-a", count=10, block_ms=0) == []
    entry_id = await store_a.enqueue(b"after flush")
    got = await store_a.dequeue("consumer-a", count=10, block_ms=500)
    assert [e.id for e in got] == [entry_id]


# --- locks ------------------------------------------------------------------


async def test_lock_is_exclusive_across_instances_and_reentrant_for_its_owner(
    store_a: RedisStore, store_b: RedisStore, raw: aioredis.Redis
) -> None:
    assert await store_a.acquire("incident:x", "owner-a", ttl_seconds=30)
    assert not await store_b.acquire("incident:x", "owner-b", ttl_seconds=30)
    assert await store_a.acquire("incident:x", "owner-a", ttl_seconds=30)  # re-entrant
    assert await store_b.acquire("incident:x", "owner-a", ttl_seconds=30)  # same owner, any client
    assert await raw.get(f"{PREFIX}:lock:incident:x") == b"owner-a"
    # other names are independent
    assert await store_b.acquire("incident:y", "owner-b", ttl_seconds=30)

    await store_a.release("incident:x", "owner-a")
    assert await raw.exists(f"{PREFIX}:lock:incident:x") == 0
    assert await store_b.acquire("incident:x", "owner-b", ttl_seconds=30)


async def test_lock_expires_after_its_ttl(store_a: RedisStore, store_b: RedisStore) -> None:
    assert await store_a.acquire("incident:ttl", "owner-a", ttl_seconds=0.3)
    assert not await store_b.acquire("incident:ttl", "owner-b", ttl_seconds=30)
    started = time.monotonic()
    await wait_for(
        lambda: store_b.acquire("incident:ttl", "owner-b", ttl_seconds=30), timeout=5, interval=0.02
    )
    assert time.monotonic() - started >= 0.15
    assert not await store_a.acquire("incident:ttl", "owner-a", ttl_seconds=30)


async def test_release_by_a_non_owner_does_nothing(
    store_a: RedisStore, store_b: RedisStore, raw: aioredis.Redis
) -> None:
    assert await store_a.acquire("incident:z", "owner-a", ttl_seconds=30)
    await store_b.release("incident:z", "owner-b")
    assert await raw.get(f"{PREFIX}:lock:incident:z") == b"owner-a"
    assert not await store_b.acquire("incident:z", "owner-b", ttl_seconds=30)
    # releasing a lock nobody holds is harmless too
    await store_b.release("incident:none", "owner-b")
