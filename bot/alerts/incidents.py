"""Where incidents are kept and how they change: saved with the TTL of their
state, and changed only under the incident's lease (the one the workers take), so
a click and a redelivered alert never overwrite each other."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.metrics import Metrics
from bot.models import Incident, IncidentStatus, Notifier
from bot.polling import poll_until
from bot.rules import RuleSet
from bot.store import Store, keys
from bot.store.lease import leased

LOCK_POLL = 0.05  # seconds between tries for a busy incident


@dataclass(frozen=True)
class IncidentTTL:
    resolved: int = 7 * 86400
    open: int = 30 * 86400


class IncidentBook:
    def __init__(self, store: Store, ttl: IncidentTTL, owner: str, lease: float = 15.0) -> None:
        self.store = store
        self.ttl = ttl
        self.owner = owner
        self.lease = lease

    async def save(self, incident: Incident) -> None:
        incident.updated_at = datetime.now(UTC)
        resolved = incident.status is IncidentStatus.RESOLVED
        await self.store.save_incident(incident, self.ttl.resolved if resolved else self.ttl.open)

    @contextlib.asynccontextmanager
    async def held(self, incident_id: str, wait: float) -> AsyncIterator[None]:
        """Hold the incident's lease, waiting up to ``wait`` s; the owner is unique, so
        a worker of this very process that holds it is waited for too."""
        owner = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        lock = keys.incident_lock(incident_id)

        async def take() -> bool:
            return await self.store.acquire(lock, owner, self.lease)

        if not await poll_until(take, wait, LOCK_POLL):
            raise TimeoutError(f"incident {incident_id} is busy; try again")
        async with leased(self.store, lock, owner, self.lease) as held:  # ours: re-entrant
            if not held:
                raise TimeoutError(f"incident {incident_id} is busy; try again")
            yield

    async def change(
        self, incident_id: str, change: Callable[[Incident], bool], wait: float = 10.0
    ) -> Incident | None:
        """Apply ``change`` to the stored incident under its lease and save it when
        ``change`` returns True. None when there is no such incident."""
        async with self.held(incident_id, wait):
            incident = await self.store.get_incident(incident_id)
            if incident is not None and change(incident):
                await self.save(incident)
            return incident


@dataclass(frozen=True)
class IncidentDesk:
    """What the remediation engine needs of the alert side
    (:class:`bot.remediation.requests.Incidents`): the store, the current rules,
    the notifier, and changes under the incident's lease."""

    book: IncidentBook
    rules: Callable[[], RuleSet]
    notifier: Notifier
    metrics: Metrics

    @property
    def store(self) -> Store:
        return self.book.store

    async def change_incident(
        self, incident_id: str, change: Callable[[Incident], bool], wait: float = 10.0
    ) -> Incident | None:
        return await self.book.change(incident_id, change, wait)
