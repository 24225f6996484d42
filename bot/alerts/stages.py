"""The stages of the alert path. Each is a small class behind one method,
``exec(work) -> bool`` (False: nothing more to do for this alert);
:mod:`bot.alerts.pipeline` assembles them into the two lists, firing and
resolved, and walks them.

Every stage is keyed by the incident (fingerprint + startsAt) and records what it
did (``Incident.notified``, a typed set of :class:`~bot.models.Milestone`), so a
redelivered or re-sent notification finds the work done and does nothing again.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import structlog

from bot.adapters import Adapters
from bot.alerts.diagnose import alert_variables, run_probes
from bot.alerts.evaluation import classify_within
from bot.alerts.evidence import bound_findings
from bot.alerts.incidents import IncidentBook
from bot.alerts.preview import preview_actions
from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.models import Alert, Event, Incident, IncidentStatus, Milestone, Notifier
from bot.probes.base import ProbeContext
from bot.registry import Registry
from bot.rules import RuleSet
from bot.rules.sample import DEFAULT_LIMITS, Limits
from bot.store import keys
from bot.store.lease import leased

log = get_logger("pipeline")
PREVIEW_TIMEOUT = 3.0  # seconds for the dry-run plans of the proposed buttons


@dataclass
class AlertWork:
    """One alert on its way through the stages."""

    alert: Alert
    external_url: str = ""
    owner: str = ""
    held: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    busy: bool = False  # another worker holds the incident: it comes back later
    incident: Incident | None = None
    after: list[Callable[[], None]] = field(default_factory=list)  # once the lease is gone
    # the incident this alert belongs to: its own, or the one a variant of it opened
    # (same labels but ``severity``; see :mod:`bot.alerts.variants`)
    incident_id: str = ""

    def __post_init__(self) -> None:
        self.incident_id = self.incident_id or self.alert.incident_id


class AlertStage(Protocol):
    async def exec(self, work: AlertWork) -> bool: ...


class Lease:
    """Hold the incident's lease (renewed while held) for the rest of the stages."""

    def __init__(self, book: IncidentBook) -> None:
        self.book = book

    async def exec(self, work: AlertWork) -> bool:
        # One owner per alert, not per process: the store's locks are re-entrant
        # for their owner, and the workers of one process share this pipeline.
        owner = f"{work.owner}/{uuid.uuid4().hex[:12]}"
        lock = keys.incident_lock(work.incident_id)
        held = await work.held.enter_async_context(
            leased(self.book.store, lock, owner, self.book.lease)
        )
        work.busy = not held
        a = work.alert
        if held:
            work.held.enter_context(
                structlog.contextvars.bound_contextvars(
                    incident=work.incident_id, fingerprint=a.fingerprint, rule=""
                )
            )
        return held


class OpenIncident:
    """Open the incident, or find the one this alert already opened (dedup)."""

    def __init__(self, book: IncidentBook, rules: Callable[[], RuleSet]) -> None:
        self.book = book
        self.rules = rules

    async def exec(self, work: AlertWork) -> bool:
        alert = work.alert
        incident = await self.book.store.get_incident(work.incident_id)
        if incident is None:
            incident = Incident.from_alert(alert, work.external_url)
            incident.id = work.incident_id
            rule = self.rules().match(alert.labels)
            incident.rule = rule.name if rule else None
            await self.book.save(incident)
            structlog.contextvars.bind_contextvars(rule=incident.rule or "")
            log.info("incident opened", alertname=alert.alertname)
        structlog.contextvars.bind_contextvars(rule=incident.rule or "")
        work.incident = incident
        if incident.status is IncidentStatus.RESOLVED:
            log.info("firing notification for a resolved incident ignored (out of order)")
            return False
        return True


class Diagnose:
    """Match the rule, run its probes, classify the findings (once per incident).
    A diagnosis that takes a while shows *Diagnosing* first; a quick one posts
    once, already diagnosed (half the messages in a storm)."""

    def __init__(
        self,
        book: IncidentBook,
        rules: Callable[[], RuleSet],
        probes: Registry,
        actions: Registry,
        adapters: Adapters,
        notifier: Notifier,
        metrics: Metrics,
        probe_timeout: float,
        notice_after: float,
        audit: AuditLog,
        eval_budget: float = 2.0,
        data_limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.audit = audit
        self.eval_budget = eval_budget  # seconds classify may take (CEL + templates)
        self.data_limits = data_limits  # the probe data conditions and templates see
        self.book = book
        self.rules = rules
        self.probes = probes
        self.actions = actions
        self.adapters = adapters
        self.notifier = notifier
        self.metrics = metrics
        self.probe_timeout = probe_timeout
        self.notice_after = notice_after

    async def exec(self, work: AlertWork) -> bool:
        incident = work.incident
        assert incident is not None
        if incident.diagnosis is not None:
            return True
        task = asyncio.ensure_future(self.diagnose(incident, work.alert))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.notice_after)
        except asyncio.CancelledError:
            task.cancel()  # the worker is being stopped: the diagnosis goes with it
            raise
        if not done:
            try:
                await self.notifier.notify(incident, Event.DIAGNOSING)
            except Exception as exc:
                log.warning("diagnosing notice not shown", error=str(exc))
        await task
        return True

    async def diagnose(self, incident: Incident, alert: Alert, count: bool = True) -> None:
        """match → probes → classify, then save."""
        rule = self.rules().match(alert.labels)
        incident.rule = rule.name if rule else None
        if rule and rule.severity and not incident.severity:
            incident.severity = rule.severity
        variables = alert_variables(alert.labels, alert.annotations)
        with structlog.contextvars.bound_contextvars(rule=incident.rule or ""):
            findings = {}
            if rule is not None:
                ctx = ProbeContext(self.adapters, alert.labels, store=self.book.store)
                findings = await run_probes(
                    rule, self.probes, ctx, self.probe_timeout, variables, self._observe
                )
            incident.diagnosis = await classify_within(
                rule, findings, variables, self.actions, self.eval_budget, self.data_limits
            )
            # what each button would change (dry-run plans), before the findings are bounded
            await preview_actions(incident, self.actions, self.adapters, PREVIEW_TIMEOUT)
            bound_findings(incident.diagnosis)  # kept for `rules replay`, bounded
            if count:
                self.metrics.incidents.labels(
                    incident.rule or "", incident.diagnosis.scenario
                ).inc()
            log.info(
                "incident diagnosed",
                scenario=incident.diagnosis.scenario,
                failed_probes=[f.probe for f in incident.diagnosis.failed_probes],
            )
        await self.book.save(incident)
        d = incident.diagnosis
        await self.audit.record(  # what `honua-bot stats` counts
            AuditEntry(
                event="diagnosed",
                incident=incident.id,
                rule=incident.rule or "",
                scenario=d.scenario,
                alert_at=incident.starts_at.isoformat(),
                plan=[f"{a.name} ({a.mode})" for a in d.actions],
                message=d.summary[:300],
            )
        )

    def _observe(self, probe: str, outcome: str, seconds: float) -> None:
        self.metrics.probe_seconds.labels(probe, outcome).observe(seconds)


class NotifyOnce:
    """Tell the notifier ``event`` once per incident (``milestone`` records it),
    and only after ``shown_after`` when that is set."""

    event: Event
    milestone: Milestone
    shown_after: Milestone | None = None

    def __init__(self, book: IncidentBook, notifier: Notifier) -> None:
        self.book = book
        self.notifier = notifier

    async def exec(self, work: AlertWork) -> bool:
        incident = work.incident
        assert incident is not None
        due = self.shown_after is None or incident.reached(self.shown_after)
        if due and not incident.reached(self.milestone):
            await self.notifier.notify(incident, self.event)
            incident.mark(self.milestone)
            await self.book.save(incident)
        return True


class NotifyDiagnosed(NotifyOnce):
    """Show the diagnosis, once per incident."""

    event = Event.DIAGNOSED
    milestone = Milestone.DIAGNOSED


AutoStart = Callable[[Incident], None]  # start its mode: auto actions in the background


class StartAuto:
    """Start the ``mode: auto`` (and ``shadow``) actions, once per incident even if redelivered,
    after the lease is released (the engine takes the incident's lease itself)."""

    def __init__(self, book: IncidentBook, starter: Callable[[], AutoStart | None]) -> None:
        self.book = book
        self.starter = starter

    async def exec(self, work: AlertWork) -> bool:
        incident = work.incident
        assert incident is not None
        d = incident.diagnosis
        if incident.reached(Milestone.AUTO_STARTED) or not (
            d and any(a.mode in ("auto", "shadow") for a in d.actions)
        ):
            return True
        incident.mark(Milestone.AUTO_STARTED)
        await self.book.save(incident)
        starter = self.starter()
        if starter is not None:
            work.after.append(lambda: starter(incident))
        return True


class CloseIncident:
    """Mark the incident resolved; a resolved alert never seen firing (lost or
    reordered) is recorded closed so a late firing copy does not open it again."""

    def __init__(self, book: IncidentBook, audit: AuditLog) -> None:
        self.book = book
        self.audit = audit

    async def exec(self, work: AlertWork) -> bool:
        alert = work.alert
        incident = await self.book.store.get_incident(work.incident_id)
        if incident is None:
            incident = Incident.from_alert(alert, work.external_url)
            incident.id = work.incident_id
            incident.status = IncidentStatus.RESOLVED
            incident.ends_at = alert.ends_at
            incident.resolved_before_firing = True
            await self.book.save(incident)
            log.info("resolved alert with no open incident recorded as closed")
            return False
        structlog.contextvars.bind_contextvars(rule=incident.rule or "")
        work.incident = incident
        if incident.status is not IncidentStatus.RESOLVED:
            incident.status = IncidentStatus.RESOLVED
            incident.ends_at = alert.ends_at
            await self.book.save(incident)
            log.info("incident resolved")
            lasted = (incident.ends_at or datetime.now(UTC)) - incident.starts_at
            await self.audit.record(
                AuditEntry(
                    event="resolved",
                    incident=incident.id,
                    rule=incident.rule or "",
                    alert_at=incident.starts_at.isoformat(),
                    duration_ms=round(lasted.total_seconds() * 1000, 1),
                )
            )
        return True


class NotifyResolved(NotifyOnce):
    """Say it is resolved, once, and only where the diagnosis was shown."""

    event = Event.RESOLVED
    milestone = Milestone.RESOLVED
    shown_after = Milestone.DIAGNOSED
