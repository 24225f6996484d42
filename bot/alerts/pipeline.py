"""One alert's life cycle, as two lists of stages (read them in ``__init__``)::

    firing:   find → lease → open/dedup → join variant → match → probes → classify
              → notify → start auto
    resolved: find → lease → resolve variant → close → notify

Each stage (:mod:`bot.alerts.stages`) is keyed by the incident (fingerprint +
startsAt) and records that it ran, so a redelivered or re-sent notification finds
the work done and does nothing again. The ``mode: auto`` actions start after the
lease is released (the remediation engine takes the incident's lease itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog

from bot.adapters import Adapters
from bot.alerts.incidents import IncidentBook, IncidentTTL
from bot.alerts.stages import (
    AlertStage,
    AlertWork,
    AutoStart,
    CloseIncident,
    Diagnose,
    Lease,
    NotifyDiagnosed,
    NotifyResolved,
    OpenIncident,
    StartAuto,
)
from bot.alerts.variants import FindIncident, JoinVariant, ResolveVariant
from bot.audit import AuditLog
from bot.metrics import Metrics
from bot.models import Alert, Incident, IncidentStatus, Notifier
from bot.registry import Registry
from bot.rules import RuleSet
from bot.rules.sample import DEFAULT_MAX_ITEMS, Limits
from bot.store import Store


class Outcome(StrEnum):
    DONE = "done"  # nothing left to do for this alert: ack
    BUSY = "busy"  # another worker holds the incident: leave pending, it comes back


@dataclass
class PipelineConfig:
    probe_timeout: float = 5.0
    incident_ttl: int = 7 * 86400
    open_incident_ttl: int = 30 * 86400
    lock_lease: float = 15.0  # renewed while held; frees a dead worker's incident quickly
    diagnosing_notice_after: float = 1.5
    rule_eval_budget: float = 2.0  # seconds one diagnosis's CEL + templates may take
    rule_data_max_items: int = DEFAULT_MAX_ITEMS  # list/map entries conditions see


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
        on_diagnosed: AutoStart | None = None,
        book: IncidentBook | None = None,
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
        # called (outside the incident's lease) after a first diagnosis: auto mode
        self.on_diagnosed = on_diagnosed
        self.book = book or IncidentBook(
            store,
            IncidentTTL(config.incident_ttl, config.open_incident_ttl),
            owner,
            config.lock_lease,
        )
        book = self.book
        self.audit = audit = AuditLog(store)  # diagnosed / resolved: what `stats` counts
        self.diagnose = Diagnose(
            book,
            rules,
            probes,
            actions,
            adapters,
            notifier,
            metrics,
            config.probe_timeout,
            config.diagnosing_notice_after,
            audit,
            config.rule_eval_budget,
            Limits(config.rule_data_max_items),
        )
        self.firing: list[AlertStage] = [
            FindIncident(book),  # its own, or the open one of its warning/critical variant
            Lease(book),
            OpenIncident(book, rules),
            JoinVariant(book, notifier, actions, adapters),
            self.diagnose,  # match → probes → classify
            NotifyDiagnosed(book, notifier),
            StartAuto(book, lambda: self.on_diagnosed),
        ]
        self.resolved: list[AlertStage] = [
            FindIncident(book),
            Lease(book),
            ResolveVariant(book),  # open while another variant fires
            CloseIncident(book, audit),
            NotifyResolved(book, notifier),
        ]

    async def handle(self, alert: Alert, external_url: str = "") -> Outcome:
        stages = self.resolved if alert.status == "resolved" else self.firing
        work = AlertWork(alert, external_url, self.owner)
        async with work.held:
            for stage in stages:
                if not await stage.exec(work):
                    break
        if work.busy:
            return Outcome.BUSY
        for then in work.after:
            then()
        return Outcome.DONE

    # -- changes people ask for (Slack buttons, CLI): see bot/remediation ---------------
    async def change_incident(
        self, incident_id: str, change: Callable[[Incident], bool], wait: float = 10.0
    ) -> Incident | None:
        """Apply ``change`` to the stored incident under its lease and save it when
        ``change`` returns True. None when there is no such incident."""
        return await self.book.change(incident_id, change, wait)

    async def rediagnose(self, incident_id: str, wait: float = 10.0) -> Incident | None:
        """Run the rule's probes and the classification again for an open incident
        (the current rules); the caller notifies. None when unknown or closed."""
        async with self.book.held(incident_id, wait):
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
                await self.diagnose.diagnose(incident, alert, count=False)
            return incident
