"""One alert's life cycle, in one place:

    lock → incident (dedup) → match → diagnose → notify        (firing)
    lock → incident → close → notify                           (resolved)

Every step is keyed by the incident (fingerprint + startsAt) and records that it
ran, so a redelivered or re-sent notification finds the work done and does
nothing again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import structlog

from bot.adapters import Adapters
from bot.alerts.diagnose import alert_variables, classify, run_probes
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.models import Alert, Incident, IncidentStatus
from bot.notify import Event, Notifier
from bot.probes.base import ProbeContext
from bot.registry import Registry
from bot.rules import RuleSet
from bot.store import Store
from bot.store.lease import leased

log = get_logger("pipeline")


AUTO_STARTED = "auto-started"


class Outcome(StrEnum):
    DONE = "done"  # nothing left to do for this alert: ack
    BUSY = "busy"  # another worker holds the incident: leave pending, it comes back


@dataclass
class PipelineConfig:
    probe_timeout: float = 5.0
    incident_ttl: int = 7 * 86400
    open_incident_ttl: int = 30 * 86400
    lock_lease: float = 15.0
    diagnosing_notice_after: float = (
        1.5  # renewed while held; frees a dead worker's incident quickly
    )


class Pipeline:
    def __init__(
        self,
        store: Store,
        rules: Callable[[], RuleSet],
        probes: Registry,
        actions: Registry,
        adapters: Adapters,
        notifier: Notifier,
        metrics: Metrics,
        config: PipelineConfig,
        owner: str,
    ) -> None:
        self.store = store
        self.rules = rules
        self.probes = probes
        self.actions = actions
        self.adapters = adapters
        self.notifier = notifier
        self.metrics = metrics
        self.config = config
        self.owner = owner
        # called (outside the incident's lock) after a first diagnosis: auto mode
        self.on_diagnosed: Callable[[Incident], None] | None = None

    async def handle(self, alert: Alert, external_url: str = "") -> Outcome:
        lock = f"incident:{alert.incident_id}"
        # One owner per call, not per process: the store's locks are re-entrant
        # for their owner, and the workers of one process share this pipeline.
        owner = f"{self.owner}/{uuid.uuid4().hex[:12]}"
        auto: Incident | None = None
        async with leased(self.store, lock, owner, self.config.lock_lease) as held:
            if not held:
                return Outcome.BUSY
            with structlog.contextvars.bound_contextvars(
                incident=alert.incident_id, fingerprint=alert.fingerprint, rule=""
            ):
                if alert.status == "resolved":
                    await self._resolve(alert, external_url)
                else:
                    auto = await self._fire(alert, external_url)
        if auto is not None and self.on_diagnosed is not None:
            self.on_diagnosed(auto)  # the engine takes the incident's lock itself
        return Outcome.DONE

    async def _save(self, incident: Incident) -> None:
        incident.updated_at = datetime.now(UTC)
        ttl = (
            self.config.incident_ttl
            if incident.status is IncidentStatus.RESOLVED
            else self.config.open_incident_ttl
        )
        await self.store.save_incident(incident, ttl)

    async def _fire(self, alert: Alert, external_url: str) -> Incident | None:
        """Open, diagnose and notify; the incident when its auto actions should start."""
        incident = await self.store.get_incident(alert.incident_id)
        if incident is None:
            incident = Incident.from_alert(alert, external_url)
            rule = self.rules().match(alert.labels)
            incident.rule = rule.name if rule else None
            await self._save(incident)
            structlog.contextvars.bind_contextvars(rule=incident.rule or "")
            log.info("incident opened", alertname=alert.alertname)
        structlog.contextvars.bind_contextvars(rule=incident.rule or "")
        if incident.status is IncidentStatus.RESOLVED:
            log.info("firing notification for a resolved incident ignored (out of order)")
            return None
        if incident.diagnosis is None:
            await self._diagnose_with_notice(incident, alert)
        if Event.DIAGNOSED.value not in incident.notified:
            await self.notifier.notify(incident, Event.DIAGNOSED)
            incident.notified.append(Event.DIAGNOSED.value)
            await self._save(incident)
        d = incident.diagnosis
        if AUTO_STARTED not in incident.notified and d and any(a.mode == "auto" for a in d.actions):
            incident.notified.append(AUTO_STARTED)  # once per incident, even if redelivered
            await self._save(incident)
            return incident
        return None

    async def _diagnose_with_notice(self, incident: Incident, alert: Alert) -> None:
        """A diagnosis that takes a while shows *Diagnosing* first; a quick one posts
        once, already diagnosed (half the messages in a storm)."""
        task = asyncio.ensure_future(self._diagnose(incident, alert))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.config.diagnosing_notice_after)
        except asyncio.CancelledError:
            task.cancel()  # the worker is being stopped: the diagnosis goes with it
            raise
        if not done:
            try:
                await self.notifier.notify(incident, Event.DIAGNOSING)
            except Exception as exc:
                log.warning("diagnosing notice not shown", error=str(exc))
        await task

    async def _diagnose(self, incident: Incident, alert: Alert, count: bool = True) -> None:
        rule = self.rules().match(alert.labels)
        incident.rule = rule.name if rule else None
        if rule and rule.severity and not incident.severity:
            incident.severity = rule.severity
        variables = alert_variables(alert.labels, alert.annotations)
        with structlog.contextvars.bound_contextvars(rule=incident.rule or ""):
            findings = {}
            if rule is not None:
                ctx = ProbeContext(self.adapters, alert.labels, store=self.store)
                findings = await run_probes(
                    rule,
                    self.probes,
                    ctx,
                    self.config.probe_timeout,
                    variables,
                    self._observe_probe,
                )
            incident.diagnosis = classify(rule, findings, variables, self.actions)
            if count:
                self.metrics.incidents.labels(
                    incident.rule or "", incident.diagnosis.scenario
                ).inc()
            log.info(
                "incident diagnosed",
                scenario=incident.diagnosis.scenario,
                failed_probes=[f.probe for f in incident.diagnosis.failed_probes],
            )
        await self._save(incident)

    def _observe_probe(self, probe: str, outcome: str, seconds: float) -> None:
        self.metrics.probe_seconds.labels(probe, outcome).observe(seconds)

    async def _resolve(self, alert: Alert, external_url: str) -> None:
        incident = await self.store.get_incident(alert.incident_id)
        if incident is None:
            # Resolved before we ever saw it firing (lost or reordered): record it
            # closed so a late firing copy does not open it again.
            incident = Incident.from_alert(alert, external_url)
            incident.status = IncidentStatus.RESOLVED
            incident.ends_at = alert.ends_at
            incident.resolved_before_firing = True
            await self._save(incident)
            log.info("resolved alert with no open incident recorded as closed")
            return
        structlog.contextvars.bind_contextvars(rule=incident.rule or "")
        if incident.status is not IncidentStatus.RESOLVED:
            incident.status = IncidentStatus.RESOLVED
            incident.ends_at = alert.ends_at
            await self._save(incident)
            log.info("incident resolved")
        if (
            Event.RESOLVED.value not in incident.notified
            and Event.DIAGNOSED.value in incident.notified
        ):
            await self.notifier.notify(incident, Event.RESOLVED)
            incident.notified.append(Event.RESOLVED.value)
            await self._save(incident)

    # -- changes people ask for (Slack buttons, CLI): see bot/remediation/incident_requests.py --
    @contextlib.asynccontextmanager
    async def _held(self, incident_id: str, wait: float) -> AsyncIterator[None]:
        """Hold the incident's lease (the one workers take), waiting up to ``wait`` s;
        the owner is unique, so a worker of this very process that holds it is waited for too."""
        owner = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        deadline = time.monotonic() + wait
        while True:
            async with leased(
                self.store, f"incident:{incident_id}", owner, self.config.lock_lease
            ) as held:
                if held:
                    yield
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"incident {incident_id} is busy; try again")
            await asyncio.sleep(0.05)

    async def change_incident(
        self, incident_id: str, change: Callable[[Incident], bool], wait: float = 10.0
    ) -> Incident | None:
        """Apply ``change`` to the stored incident under its lock and save it when
        ``change`` returns True. None when there is no such incident."""
        async with self._held(incident_id, wait):
            incident = await self.store.get_incident(incident_id)
            if incident is not None and change(incident):
                await self._save(incident)
            return incident

    async def rediagnose(self, incident_id: str, wait: float = 10.0) -> Incident | None:
        """Run the rule's probes and the classification again for an open incident
        (the current rules); the caller notifies. None when unknown or closed."""
        async with self._held(incident_id, wait):
            incident = await self.store.get_incident(incident_id)
            if incident is None or incident.status is not IncidentStatus.OPEN:
                return None
            alert = Alert(
                status="firing",
                labels=incident.labels,
                annotations=incident.annotations,
                startsAt=incident.starts_at,
                generatorURL=incident.generator_url,
                fingerprint=incident.fingerprint,
            )
            with structlog.contextvars.bound_contextvars(**incident.log_context):
                await self._diagnose(incident, alert, count=False)
            return incident
