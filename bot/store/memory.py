"""In-process store: the zero-config default and the degraded-mode fallback."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import OrderedDict

from bot.models import Incident, IncidentStatus
from bot.store.base import QueueEntry, QueueFull


class MemoryStore:
    degraded = False  # see Store.degraded

    def __init__(self, max_queue: int = 10_000) -> None:
        self.max_queue = max_queue
        self._ids = itertools.count(1)
        self._ready: OrderedDict[str, QueueEntry] = OrderedDict()
        self._pending: dict[str, tuple[QueueEntry, float]] = {}
        self._wakeup = asyncio.Event()
        self._incidents: dict[str, tuple[Incident, float]] = {}
        self._locks: dict[str, tuple[str, float]] = {}
        self._values: dict[str, tuple[str, float | None]] = {}
        self._indexes: dict[str, dict[str, float]] = {}
        self.dead: list[tuple[QueueEntry, str]] = []
        self._audit: list[tuple[str, dict[str, str]]] = []
        self._audit_last = (0, -1)
        self._audit_max = 10_000

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    # queue -----------------------------------------------------------------
    async def enqueue(self, payload: bytes) -> str:
        if len(self._ready) + len(self._pending) >= self.max_queue:
            raise QueueFull(f"in-memory queue is full ({self.max_queue} notifications)")
        entry_id = f"m-{next(self._ids)}"
        self._ready[entry_id] = QueueEntry(entry_id, payload, 1, "memory")
        self._wakeup.set()
        return entry_id

    def has_ready(self) -> bool:
        return bool(self._ready)

    async def dequeue(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]:
        if not self._ready and block_ms > 0:
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), block_ms / 1000)
            except TimeoutError:
                return []
        out: list[QueueEntry] = []
        now = time.monotonic()
        while self._ready and len(out) < count:
            _, entry = self._ready.popitem(last=False)
            self._pending[entry.id] = (entry, now)
            out.append(entry)
        return out

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]:
        now = time.monotonic()
        out: list[QueueEntry] = []
        for entry_id, (entry, since) in list(self._pending.items()):
            if len(out) >= count:
                break
            if (now - since) * 1000 >= min_idle_ms:
                again = QueueEntry(entry.id, entry.payload, entry.deliveries + 1, "memory")
                self._pending[entry_id] = (again, now)
                out.append(again)
        return out

    async def ack(self, entry: QueueEntry) -> None:
        self._pending.pop(entry.id, None)

    async def dead_letter(self, entry: QueueEntry, reason: str) -> None:
        self.dead.append((entry, reason))
        await self.ack(entry)

    async def queue_depth(self) -> int:
        return len(self._ready) + len(self._pending)

    # incidents -------------------------------------------------------------
    async def get_incident(self, incident_id: str) -> Incident | None:
        found = self._incidents.get(incident_id)
        if found is None:
            return None
        incident, expires = found
        if expires < time.time():
            del self._incidents[incident_id]
            return None
        return incident.model_copy(deep=True)

    async def save_incident(self, incident: Incident, ttl_seconds: int) -> None:
        self._incidents[incident.id] = (incident.model_copy(deep=True), time.time() + ttl_seconds)

    def pending_writes(
        self,
    ) -> tuple[
        list[tuple[Incident, int]], list[tuple[str, str, float | None]], list[dict[str, str]]
    ]:
        """What was written here while Redis was away, for the flush on recovery:
        (incident, seconds left), (key, value, seconds left or None), audit fields."""
        now, mono = time.time(), time.monotonic()
        incidents = [
            (i.model_copy(deep=True), int(exp - now))
            for i, exp in self._incidents.values()
            if exp > now
        ]
        values = [
            (k, v, None if exp is None else exp - mono)
            for k, (v, exp) in self._values.items()
            if exp is None or exp > mono
        ]
        return incidents, values, [dict(f) for _, f in self._audit]

    def forget_flushed(self, incident_ids: list[str], keys: list[str], audit: int) -> None:
        for incident_id in incident_ids:
            self._incidents.pop(incident_id, None)
        for key in keys:
            self._values.pop(key, None)
        del self._audit[:audit]

    def pending_index_entries(self) -> list[tuple[str, str, float]]:
        """(index key, member, score) written here while Redis was away."""
        return [(k, m, score) for k, found in self._indexes.items() for m, score in found.items()]

    def forget_index_entries(self, entries: list[tuple[str, str, float]]) -> None:
        for key, member, _ in entries:
            self._indexes.get(key, {}).pop(member, None)

    def pop_incident(self, incident_id: str) -> None:
        self._incidents.pop(incident_id, None)

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        now = time.time()
        live = [
            i
            for i, exp in self._incidents.values()
            if exp >= now and (status is None or i.status == status)
        ]
        live.sort(key=lambda i: i.created_at, reverse=True)
        return [i.model_copy(deep=True) for i in live[:limit]]

    # locks -----------------------------------------------------------------
    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        now = time.monotonic()
        held = self._locks.get(name)
        if held and held[1] > now and held[0] != owner:
            return False
        self._locks[name] = (owner, now + ttl_seconds)
        return True

    async def release(self, name: str, owner: str) -> None:
        held = self._locks.get(name)
        if held and held[0] == owner:
            del self._locks[name]

    # values ----------------------------------------------------------------
    def _live(self, key: str) -> str | None:
        found = self._values.get(key)
        if found is None:
            return None
        value, expires = found
        if expires is not None and expires < time.monotonic():
            del self._values[key]
            return None
        return value

    async def get_value(self, key: str) -> str | None:
        return self._live(key)

    async def set_value(
        self, key: str, value: str, ttl_seconds: float | None = None, only_if_absent: bool = False
    ) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self._values[key] = (value, time.monotonic() + ttl_seconds if ttl_seconds else None)
        return True

    async def delete_value(self, key: str) -> None:
        self._values.pop(key, None)

    async def index_add(self, key: str, member: str, score: float) -> None:
        self._indexes.setdefault(key, {})[member] = score

    async def index_remove(self, key: str, *members: str) -> None:
        for member in members:
            self._indexes.get(key, {}).pop(member, None)

    async def index_members(self, key: str) -> list[str]:
        found = self._indexes.get(key, {})
        return sorted(found, key=lambda m: (found[m], m))

    async def append_audit(self, fields: dict[str, str]) -> str:
        now = int(time.time() * 1000)
        last_ms, last_seq = self._audit_last
        seq = last_seq + 1 if now <= last_ms else 0
        now = max(now, last_ms)
        self._audit_last = (now, seq)
        entry_id = f"{now}-{seq}"
        self._audit.append((entry_id, dict(fields)))
        del self._audit[: -self._audit_max]
        return entry_id

    async def read_audit(self, since_ms: int, count: int) -> list[tuple[str, dict[str, str]]]:
        rows = [(i, f) for i, f in self._audit if int(i.split("-")[0]) >= since_ms]
        return rows[:count]

    async def incr(self, key: str, ttl_seconds: float | None = None) -> int:
        current = self._live(key)
        value = int(current or 0) + 1
        expires = self._values[key][1] if current is not None else None
        if expires is None and ttl_seconds:
            expires = time.monotonic() + ttl_seconds
        self._values[key] = (str(value), expires)
        return value
