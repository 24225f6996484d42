"""The bot's own state: the alert queue, incidents and short-lived locks.

Two implementations share this protocol: Redis (shared by replicas, survives a
restart of the bot) and memory (zero-config default, and the fallback while the
bot's Redis is unreachable).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from bot.models import Incident, IncidentStatus


class QueueFull(Exception):
    """The notification cannot be queued; the caller answers 503 so it is retried."""


class StoreUnavailable(Exception):
    """The store cannot be reached (the Redis store raises it; memory never does)."""


@dataclass(frozen=True)
class QueueEntry:
    id: str
    payload: bytes
    deliveries: int = 1
    origin: Literal["redis", "memory"] = "memory"


class Store(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None: ...

    async def enqueue(self, payload: bytes) -> str: ...
    async def dequeue(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]: ...
    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]: ...
    async def ack(self, entry: QueueEntry) -> None: ...
    async def dead_letter(self, entry: QueueEntry, reason: str) -> None: ...
    async def queue_depth(self) -> int: ...

    async def get_incident(self, incident_id: str) -> Incident | None: ...
    async def save_incident(self, incident: Incident, ttl_seconds: int) -> None: ...
    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]: ...

    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool: ...
    async def release(self, name: str, owner: str) -> None: ...
