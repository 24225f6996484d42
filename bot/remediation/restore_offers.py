"""The restore offer: a mitigation still in place ``after_seconds`` after its
incident resolved gets one message in the incident's thread, "Mitigation still in
place: ProcessFramework.MaxConcurrentProcesses is 5 (was 20). Restore?", with a
button running ``undo-NAME`` through the whole remediation path.

A periodic scan rather than a delayed entry scheduled at resolution: everything it
reads is already in the store (the incidents with their runs, a marker per offer),
so a replica that dies mid-scan leaves nothing half-scheduled, the next scan of any
replica picks up where it stopped, and mitigations of incidents that resolved
while the setting was 0 are found too. It reads only the incidents in a small
index (``restore:incidents``: a run there left something to undo), not every
resolved one: parsing thousands of incidents each minute froze the event loop for
a second. The first scan after an upgrade indexes the newest ``SCAN_LIMIT``
incidents once (a marker), so mitigations recorded before the index are offered
too. An incident leaves the index once it is gone, or resolved with every
mitigation in place offered (an undo that succeeds adds it back, for the earlier
run of the same action it may have left in place). One replica scans
at a time (a lease); the marker (``restore:offered:…``) is set only after the offer
is on the incident, and the offer itself is added only if the incident does not
carry it yet, so a replica dying in between neither loses nor repeats it."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from datetime import datetime

from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.models import Activity, Event, Incident, IncidentStatus
from bot.models.incident import utcnow
from bot.remediation.mitigations import UNDO, Mitigation, due, in_place, restore_offer
from bot.remediation.requests import Incidents
from bot.store import keys
from bot.store.lease import leased

log = get_logger("restore")
SCAN_EVERY = 60.0  # seconds between scans (the offer is due within a minute)
SCAN_LIMIT = 1000  # incidents indexed by the one-time backfill, newest first
LOCK_WAIT = 15.0


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
            await self._backfill()
            offered = []
            for incident_id in await self.store.index_members(keys.mitigations_index()):
                offered += await self._scan_incident(incident_id)
            return offered

    async def _backfill(self) -> None:
        """Index, once, the incidents recorded before the index existed."""
        if await self.store.get_value(keys.restore_offers_backfilled()) is not None:
            return
        rules = self.incidents.rules()
        for incident in await self.store.list_incidents(None, SCAN_LIMIT):
            if any(m.undo for m in in_place([incident], rules)):
                at = (incident.ends_at or incident.updated_at).timestamp()
                await self.store.index_add(keys.mitigations_index(), incident.id, at)
        await self.store.set_value(keys.restore_offers_backfilled(), self.owner)

    async def _scan_incident(self, incident_id: str) -> list[Mitigation]:
        """Offer what is due on one incident; drop it from the index once nothing is
        left to offer. One busy or broken incident does not stop the scan."""
        index = keys.mitigations_index()
        incident = await self.store.get_incident(incident_id)
        if incident is None:  # expired
            await self.store.index_remove(index, incident_id)
            return []
        found = [m for m in in_place([incident], self.incidents.rules()) if m.undo]
        offers = due(found, self.clock(), self.after_seconds)
        offered, pending = [], False
        for mitigation in offers:
            marker = keys.restore_offered(mitigation.incident, mitigation.run_id)
            if await self.store.get_value(marker) is not None:
                continue
            try:
                if await self._offer(mitigation):
                    offered.append(mitigation)
            except Exception as exc:  # busy (its lock held) or broken: the next scan retries
                log.warning("restore not offered", incident=incident_id, error=str(exc))
                pending = True
                continue
            await self.store.set_value(marker, self.owner, self.marker_ttl)
        # open, or resolved too recently (none due yet): its offers are still to come
        if incident.status is not IncidentStatus.RESOLVED or (found and not offers):
            pending = True
        if not pending:
            await self.store.index_remove(index, incident_id)
        return offered

    async def _offer(self, m: Mitigation) -> bool:
        """Add the offer to the incident's timeline (once) and show it."""
        offer = restore_offer(m)
        entry = Activity(
            text=offer.text,
            actor="honua-bot",
            offer=UNDO + m.action,
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
                action=UNDO + m.action,
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
