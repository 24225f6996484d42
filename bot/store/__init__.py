"""The bot's own state (never the Redis it monitors)."""

from __future__ import annotations

from bot.store.base import QueueEntry, QueueFull, Store, StoreUnavailable
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore
from bot.store.resilient import ResilientStore


def build_store(redis_url: str | None, max_queue: int, check_interval: float) -> Store:
    memory = MemoryStore(max_queue)
    if not redis_url:
        return memory
    return ResilientStore(RedisStore(redis_url), memory, check_interval)


__all__ = [
    "MemoryStore",
    "QueueEntry",
    "QueueFull",
    "RedisStore",
    "ResilientStore",
    "Store",
    "StoreUnavailable",
    "build_store",
]
