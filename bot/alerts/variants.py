"""Warning and critical variants of one alert are one incident, not two.

Alertmanager gives each variant its own fingerprint (``severity`` is one of its
labels) and its own ``startsAt`` (the critical one usually fires later). The bot
groups them by the alert's labels without ``severity`` (the *family*): the first
variant to fire opens the incident and names it under the family; a variant that
fires while that incident is open joins it. The incident takes the highest
severity seen, and is resolved once every variant that joined has resolved.
"""

from __future__ import annotations

import hashlib

from bot.adapters import Adapters
from bot.alerts.incidents import IncidentBook
from bot.alerts.preview import preview_actions
from bot.alerts.stages import PREVIEW_TIMEOUT, AlertWork
from bot.logs import get_logger
from bot.models import Activity, Alert, Event, Incident, IncidentStatus, Notifier
from bot.registry import Registry
from bot.store import keys

log = get_logger("pipeline")

IGNORED_LABEL = "severity"
# the usual Prometheus severities, lowest first; an unknown one ranks below them all
SEVERITY_RANK = {"none": 0, "info": 1, "warning": 2, "error": 3, "critical": 4}


def family(alert: Alert) -> str:
    labels = sorted((k, v) for k, v in alert.labels.items() if k != IGNORED_LABEL)
    canonical = "\xff".join(f"{k}\xfe{v}" for k, v in labels)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def higher(a: str, b: str) -> str:
    return b if SEVERITY_RANK.get(b.lower(), -1) > SEVERITY_RANK.get(a.lower(), -1) else a


class FindIncident:
    """The incident this alert belongs to (first stage, before the lease): its own,
    or the open one a variant of it (another ``severity``) opened."""

    def __init__(self, book: IncidentBook) -> None:
        self.book = book

    async def exec(self, work: AlertWork) -> bool:
        alert, store = work.alert, self.book.store
        own, name = alert.incident_id, keys.incident_family(family(alert))
        severity = alert.labels.get(IGNORED_LABEL, "")
        if alert.status == "resolved":
            named, _ = _split(await store.get_value(name))
            if named and named != own:
                incident = await store.get_incident(named)
                if incident is not None and alert.incident_key in incident.variants:
                    work.incident_id = named
            return True
        value = f"{own}|{severity}"
        if await store.set_value(name, value, self.book.ttl.open, only_if_absent=True):
            return True
        named, first_severity = _split(await store.get_value(name))
        if not named or named == own:
            return True
        incident = await store.get_incident(named)
        if incident is not None and incident.status is IncidentStatus.RESOLVED:
            if alert.incident_key in incident.variants:  # a late copy of a variant it had
                work.incident_id = named
            else:  # that episode is over: this alert starts the family's next incident
                await store.set_value(name, value, self.book.ttl.open)
            return True
        # open, or (None) being opened by the other variant this very moment (one
        # webhook, two workers); the same severity is not a variant but another alert
        if severity != first_severity:
            work.incident_id = named
        return True


def _split(value: str | None) -> tuple[str, str]:
    """``incident id|severity of the variant that opened it`` → both."""
    named, _, severity = (value or "").partition("|")
    return named, severity


def _join(incident: Incident, alert: Alert) -> str:
    """Record the variant; the text for the thread when it raised the severity."""
    incident.variants.setdefault(incident.key, True)
    incident.variants[alert.incident_key] = True
    severity = alert.labels.get(IGNORED_LABEL, "")
    before = incident.severity
    incident.severity = higher(before, severity)
    if incident.severity == before:
        return ""
    return f"{incident.alertname} also fires at severity {severity}: this incident is now {severity} (was {before or 'unset'})"


class JoinVariant:
    """A variant firing into an open incident of its family: recorded, the
    incident's severity raised (said in the thread) when it is higher, and what
    the buttons would change planned again over the labels the variants share."""

    def __init__(
        self, book: IncidentBook, notifier: Notifier, actions: Registry, adapters: Adapters
    ) -> None:
        self.book = book
        self.notifier = notifier
        self.actions = actions
        self.adapters = adapters

    async def exec(self, work: AlertWork) -> bool:
        incident, alert = work.incident, work.alert
        assert incident is not None
        if alert.incident_key == incident.key or alert.incident_key in incident.variants:
            return True
        text = _join(incident, alert)
        log.info("variant joined the incident", severity=incident.severity)
        if text:
            incident.activity.append(Activity(text=text, actor="alertmanager"))
        if incident.diagnosis is not None:  # e.g. a silence now leaves severity out
            await preview_actions(incident, self.actions, self.adapters, PREVIEW_TIMEOUT)
        await self.book.save(incident)
        if text and incident.notified:  # once people have seen it
            await self.notifier.notify(incident, Event.UPDATED)
        return True


class ResolveVariant:
    """A variant resolving while another still fires leaves the incident open; the
    last one lets CloseIncident close it, and the family's name of it then expires
    with it (a later episode opens an incident, and a message, of its own)."""

    def __init__(self, book: IncidentBook) -> None:
        self.book = book

    async def exec(self, work: AlertWork) -> bool:
        store, alert = self.book.store, work.alert
        incident = await store.get_incident(work.incident_id)
        if incident is not None and alert.incident_key in incident.variants:
            incident.variants[alert.incident_key] = False
            firing = [k for k, on in incident.variants.items() if on]
            if firing and incident.status is IncidentStatus.OPEN:
                await self.book.save(incident)
                severity = alert.labels.get(IGNORED_LABEL, "")
                log.info("variant resolved, incident stays open", severity=severity)
                return False
        name = keys.incident_family(family(alert))
        value = await store.get_value(name)
        if _split(value)[0] == work.incident_id and value is not None:
            await store.set_value(name, value, self.book.ttl.resolved)
        return True
