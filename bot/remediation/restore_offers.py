"""The restore offer: a mitigation still in place ``after_seconds`` after its
incident resolved gets one message in the incident's thread, "Mitigation still in
place: ProcessFramework.MaxConcurrentProcesses is 5 (was 20). Restore?", with a
button running ``undo-NAME`` through the whole remediation path.

A periodic scan rather than a delayed entry scheduled at resolution: everything it
reads is already in the store (the incidents with their runs, a marker per offer),
so a replica that dies mid-scan leaves nothing half-scheduled, the next scan of any
replica picks up where it stopped, and mitigations of incidents that resolved
before this code ran (or while the setting was 0) are found too. One replica scans
at a time (a lease); the marker (``restore:offered:…``) is set only after the offer
is on the incident, and the offer itself is added only if the incident does not
carry it yet, so a replica dying in between neither loses nor repeats it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.models import Activity, Event, Incident, IncidentStatus
from bot.remediation.mitigations import UNDO_PREFIX, Mitigation, due, in_place, restore_offer
from bot.remediation.requests import Incidents
from bot.store import keys
from bot.store.lease import leased

log = get_logger("restore")
SCAN_EVERY = 60.0  # seconds between scans (the offer is due within a minute)
SCAN_LIMIT = 1000  # resolved incidents read per scan, newest first
LOCK_WAIT = 15.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class RestoreOffers:
    def __init__(
        self,
        incidents: Incidents,
        owner: str,
        after_seconds: float,
        marker_ttl: float,
        clock: Callable[[], datetime] = utcnow,
        every: float = SCAN_EVERY,
    ) -> None:
        self.incidents = incidents
        self.store = incidents.store
        self.owner = owner
        self.after_seconds = after_seconds
        self.marker_ttl = marker_ttl  # as long as a resolved incident is kept
        self.clock = clock
        self.every = every

    @property
    def enabled(self) -> bool:
        return self.after_seconds > 0

    async def run(self, stopping: asyncio.Event) -> None:
        """Scan every ``every`` seconds until ``stopping`` is set (disabled: return)."""
        if not self.enabled:
            return
        while not stopping.is_set():
            try:
                await self.scan()
            except Exception as exc:  # a scan that failed is retried by the next one
                log.warning("mitigations not checked for restore offers", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.every)

    async def scan(self) -> list[Mitigation]:
        """Offer every due mitigation not offered yet; the ones offered now."""
        if not self.enabled:
            return []
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        async with leased(self.store, keys.restore_offers_lock(), owner) as held:
            if not held:
                return []  # another replica is scanning
            resolved = await self.store.list_incidents(IncidentStatus.RESOLVED, SCAN_LIMIT)
            found = in_place(resolved, self.incidents.rules())
            offered = []
            for mitigation in due(found, self.clock(), self.after_seconds):
                marker = keys.restore_offered(mitigation.incident, mitigation.run_id)
                if await self.store.get_value(marker) is not None:
                    continue
                if await self._offer(mitigation):
                    offered.append(mitigation)
                await self.store.set_value(marker, self.owner, self.marker_ttl)
            return offered

    async def _offer(self, m: Mitigation) -> bool:
        """Add the offer to the incident's timeline (once) and show it."""
        offer = restore_offer(m)
        entry = Activity(
            text=offer.text,
            actor="honua-bot",
            offer=UNDO_PREFIX + m.action,
            offer_label=offer.label,
            offer_run=m.run_id,
        )

        def change(incident: Incident) -> bool:
            if any(a.offer_run == m.run_id for a in incident.activity):
                return False  # offered before a replica died without its marker
            incident.activity.append(entry)
            return True

        incident = await self.incidents.change_incident(m.incident, change, LOCK_WAIT)
        if incident is None or entry not in incident.activity:
            return False
        await AuditLog(self.store).record(
            AuditEntry(
                event="restore_offered",
                incident=m.incident,
                rule=m.rule,
                action=UNDO_PREFIX + m.action,
                run=m.run_id,
                message=offer.text,
            )
        )
        log.info("restore offered", incident=m.incident, action=m.action, run=m.run_id)
        try:
            await self.incidents.notifier.notify(incident, Event.UPDATED)
        except Exception as exc:  # recorded; a later notification shows it
            log.warning("restore offer not shown", incident=m.incident, error=str(exc))
        return True
