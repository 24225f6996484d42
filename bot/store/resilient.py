"""Degraded mode: Redis when it answers, memory when it does not, and back.

Intake and processing never stop because the bot's own Redis is down: work
queued in memory meanwhile is still drained by the workers after Redis returns,
and incidents, markers and audit entries written to memory meanwhile are copied
to Redis as it comes back (:mod:`bot.store.flush`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from bot.logs import get_logger
from bot.models import Incident, IncidentStatus
from bot.store.base import QueueEntry, StoreUnavailable
from bot.store.flush import flush_memory
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore

T = TypeVar("T")
log = get_logger("store")


class ResilientStore:
    def __init__(
        self, primary: RedisStore, fallback: MemoryStore, check_interval: float = 2.0
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.check_interval = check_interval
        self.degraded_reason: str | None = None
        self._monitor: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        return self.degraded_reason is not None

    def _degrade(self, exc: Exception) -> None:
        if self.degraded_reason is None:
            log.error("store degraded: using memory until redis answers", error=str(exc))
        self.degraded_reason = f"redis unreachable, working in memory: {exc}"

    async def _try(
        self, primary: Callable[[], Awaitable[T]], fallback: Callable[[], Awaitable[T]]
    ) -> T:
        if not self.degraded:
            try:
                return await primary()
            except StoreUnavailable as exc:
                self._degrade(exc)
        return await fallback()

    async def start(self) -> None:
        try:
            await self.primary.start()
        except StoreUnavailable as exc:
            self._degrade(exc)
        self._monitor = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.check_interval)
            if not self.degraded:
                continue
            try:
                await self.primary.ping()
                await self.primary.start()
                await flush_memory(self.fallback, self.primary)
            except StoreUnavailable:
                continue
            log.warning("store recovered: back on redis")
            self.degraded_reason = None

    async def close(self) -> None:
        if self._monitor:
            self._monitor.cancel()
        await self.primary.close()

    async def ping(self) -> None:
        if self.degraded:
            raise StoreUnavailable(self.degraded_reason or "degraded")
        await self.primary.ping()

    # queue -----------------------------------------------------------------
    async def enqueue(self, payload: bytes) -> str:
        return await self._try(
            lambda: self.primary.enqueue(payload), lambda: self.fallback.enqueue(payload)
        )

    async def dequeue(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]:
        if self.fallback.has_ready() or self.degraded:
            got = await self.fallback.dequeue(consumer, count, 0 if not self.degraded else block_ms)
            if got or self.degraded:
                return got
        try:
            return await self.primary.dequeue(consumer, count, block_ms)
        except StoreUnavailable as exc:
            self._degrade(exc)
            return []

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]:
        local = await self.fallback.reclaim(consumer, min_idle_ms, count)
        if self.degraded:
            return local
        try:
            return local + await self.primary.reclaim(consumer, min_idle_ms, count)
        except StoreUnavailable as exc:
            self._degrade(exc)
            return local

    def _for(self, entry: QueueEntry) -> Any:
        return self.primary if entry.origin == "redis" else self.fallback

    async def ack(self, entry: QueueEntry) -> None:
        await self._for(entry).ack(entry)

    async def dead_letter(self, entry: QueueEntry, reason: str) -> None:
        await self._for(entry).dead_letter(entry, reason)

    async def queue_depth(self) -> int:
        local = await self.fallback.queue_depth()
        if self.degraded:
            return local
        try:
            return local + await self.primary.queue_depth()
        except StoreUnavailable as exc:
            self._degrade(exc)
            return local

    # incidents -------------------------------------------------------------
    async def get_incident(self, incident_id: str) -> Incident | None:
        async def primary() -> Incident | None:
            found = await self.primary.get_incident(incident_id)
            return found or await self.fallback.get_incident(incident_id)

        return await self._try(primary, lambda: self.fallback.get_incident(incident_id))

    async def save_incident(self, incident: Incident, ttl_seconds: int) -> None:
        async def primary() -> None:
            await self.primary.save_incident(incident, ttl_seconds)
            self.fallback.pop_incident(incident.id)

        await self._try(primary, lambda: self.fallback.save_incident(incident, ttl_seconds))

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        local = await self.fallback.list_incidents(status, limit)
        remote = await self._try(lambda: self.primary.list_incidents(status, limit), _empty)
        merged = {i.id: i for i in [*remote, *local]}
        return sorted(merged.values(), key=lambda i: i.created_at, reverse=True)[:limit]

    # locks -----------------------------------------------------------------
    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        return await self._try(
            lambda: self.primary.acquire(name, owner, ttl_seconds),
            lambda: self.fallback.acquire(name, owner, ttl_seconds),
        )

    async def release(self, name: str, owner: str) -> None:
        await self.fallback.release(name, owner)
        await self._try(lambda: self.primary.release(name, owner), _none)

    # values ----------------------------------------------------------------
    async def get_value(self, key: str) -> str | None:
        async def primary() -> str | None:
            found = await self.primary.get_value(key)
            return found if found is not None else await self.fallback.get_value(key)

        return await self._try(primary, lambda: self.fallback.get_value(key))

    async def set_value(
        self, key: str, value: str, ttl_seconds: float | None = None, only_if_absent: bool = False
    ) -> bool:
        return await self._try(
            lambda: self.primary.set_value(key, value, ttl_seconds, only_if_absent),
            lambda: self.fallback.set_value(key, value, ttl_seconds, only_if_absent),
        )

    async def delete_value(self, key: str) -> None:
        await self.fallback.delete_value(key)
        await self._try(lambda: self.primary.delete_value(key), _none)

    async def incr(self, key: str, ttl_seconds: float | None = None) -> int:
        return await self._try(
            lambda: self.primary.incr(key, ttl_seconds),
            lambda: self.fallback.incr(key, ttl_seconds),
        )

    async def index_add(self, key: str, member: str, score: float) -> None:
        await self._try(
            lambda: self.primary.index_add(key, member, score),
            lambda: self.fallback.index_add(key, member, score),
        )

    async def index_remove(self, key: str, *members: str) -> None:
        await self.fallback.index_remove(key, *members)
        await self._try(lambda: self.primary.index_remove(key, *members), _none)

    async def index_members(self, key: str) -> list[str]:
        # what was added in memory while degraded stays visible to this replica
        local = await self.fallback.index_members(key)
        remote = await self._try(lambda: self.primary.index_members(key), _empty)
        return list(dict.fromkeys([*remote, *local]))

    async def append_audit(self, fields: dict[str, str]) -> str:
        return await self._try(
            lambda: self.primary.append_audit(fields), lambda: self.fallback.append_audit(fields)
        )

    async def read_audit(self, since_ms: int, count: int) -> list[tuple[str, dict[str, str]]]:
        return await self._try(
            lambda: self.primary.read_audit(since_ms, count),
            lambda: self.fallback.read_audit(since_ms, count),
        )


async def _empty() -> list[Any]:
    return []


async def _none() -> None:
    return None
