"""The small shared values (nonces, message refs, counters) behave alike in both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.store import MemoryStore, RedisStore, Store
from tests.helpers import wait_for


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else RedisStore(redis_url)
    await s.start()
    yield s
    await s.close()


async def test_set_get_only_if_absent_and_delete(store: Store) -> None:
    assert await store.get_value("k") is None
    assert await store.set_value("k", "one", only_if_absent=True)
    assert not await store.set_value("k", "two", only_if_absent=True)
    assert await store.get_value("k") == "one"
    assert await store.set_value("k", "three")
    assert await store.get_value("k") == "three"
    await store.delete_value("k")
    assert await store.get_value("k") is None


async def test_values_and_counters_expire(store: Store) -> None:
    await store.set_value("short", "x", ttl_seconds=0.2)
    assert await store.incr("count", ttl_seconds=0.2) == 1
    assert await store.incr("count", ttl_seconds=0.2) == 2
    await wait_for(_gone(store, "short"), timeout=5)
    await wait_for(_gone(store, "count"), timeout=5)
    assert await store.incr("count") == 1


def _gone(store: Store, key: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await store.get_value(key) is None

    return check


async def test_an_index_keeps_ids_by_score_once_each(store: Store) -> None:
    assert await store.index_members("idx") == []
    await store.index_add("idx", "b", 2.0)
    await store.index_add("idx", "a", 1.0)
    await store.index_add("idx", "b", 3.0)  # moved, not added twice
    assert await store.index_members("idx") == ["a", "b"]
    await store.index_remove("idx", "a", "missing")
    await store.index_remove("idx")
    assert await store.index_members("idx") == ["b"]
