"""The door for what a Slack button, the slash command or the CLI may ask of an
incident (:class:`bot.remediation.requests.IncidentRequests`).

Every request first checks that it is not stale (the first stage of the
remediation path, :class:`~bot.remediation.stages.Stale`: the incident exists
and is open; an action is still proposed by the diagnosis and defined,
unchanged, by the rule). Running an action is then the remediation engine's job,
behind the :class:`~bot.remediation.requests.ActionRunner` protocol.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.adapters.alertmanager import AlertmanagerClient
from bot.adapters.errors import AdapterError
from bot.alerts.pipeline import Pipeline
from bot.durations import human_seconds
from bot.logs import get_logger
from bot.models import Activity, Event, Incident, IncidentStatus, Notifier
from bot.remediation.requests import ActionRunner, Actor, Decision, Verdict, actor_ref
from bot.remediation.stages import Stale, stale

log = get_logger("requests")
MAX_SILENCE_SECONDS = 7 * 86400


class EngineRequests:
    def __init__(
        self,
        pipeline: Pipeline,
        notifier: Notifier,
        alertmanager: AlertmanagerClient | None = None,
        *,
        runner: ActionRunner,
        lock_wait: float = 10.0,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.notifier = notifier
        self.alertmanager = alertmanager
        self.runner = runner
        self.lock_wait = lock_wait
        self.stale = Stale(pipeline.store, pipeline.rules)

    async def _open(self, incident_id: str) -> tuple[Incident | None, Decision | None]:
        found = await self.stale.open_incident(incident_id)
        if isinstance(found, Decision):
            return None, found
        return found, None

    async def _notify(self, incident: Incident, event: Event) -> None:
        try:
            await self.notifier.notify(incident, event)
        except Exception as exc:  # the change is made; only its display lags
            log.warning("change not shown by the notifier", incident=incident.id, error=str(exc))

    async def _record(self, incident_id: str, entry: Activity) -> Incident | None:
        def change(incident: Incident) -> bool:
            incident.activity.append(entry)
            return True

        return await self.pipeline.change_incident(incident_id, change, self.lock_wait)

    # IncidentRequests ---------------------------------------------------------------
    async def request_action(
        self, incident_id: str, action: str, actor: Actor, nonce: str = "", dry_run: bool = False
    ) -> Decision:
        resolved = await self.stale.resolve(incident_id, action)
        if isinstance(resolved, Decision):
            return resolved
        incident, proposed = resolved
        return await self.runner.run(incident, proposed, actor, nonce, dry_run)

    async def acknowledge(self, incident_id: str, actor: Actor) -> Decision:
        who = actor_ref(actor)
        already = ""

        def change(incident: Incident) -> bool:
            nonlocal already
            if incident.status is IncidentStatus.RESOLVED:
                return False
            if incident.acknowledged_by:
                already = incident.acknowledged_by
                return False
            incident.acknowledged_by = who
            incident.acknowledged_at = datetime.now(UTC)
            incident.activity.append(Activity(text="acknowledged", actor=who))
            return True

        try:
            incident = await self.pipeline.change_incident(incident_id, change, self.lock_wait)
        except TimeoutError as exc:
            return Decision(Verdict.REFUSED, str(exc), gate="busy")
        if incident is None or incident.status is IncidentStatus.RESOLVED:
            _, refused = await self._open(incident_id)
            return refused or stale(f"incident {incident_id} is not open")
        if already:
            return Decision(Verdict.DUPLICATE, f"already acknowledged by {already}")
        await self._notify(incident, Event.UPDATED)
        return Decision(Verdict.DONE, f"acknowledged {incident.alertname} ({incident.id})")

    async def rerun_diagnosis(self, incident_id: str, actor: Actor) -> Decision:
        incident, refused = await self._open(incident_id)
        if incident is None:
            return refused or stale(incident_id)
        await self._notify(incident, Event.DIAGNOSING)
        try:
            fresh = await self.pipeline.rediagnose(incident_id, self.lock_wait)
            if fresh is None or fresh.diagnosis is None:
                return stale(f"incident {incident_id} is no longer open")
            scenario = fresh.diagnosis.scenario
            entry = Activity(
                text=f"diagnosis re-run: scenario `{scenario}`", actor=actor_ref(actor)
            )
            fresh = await self._record(incident_id, entry) or fresh
        except TimeoutError as exc:
            await self._notify(incident, Event.UPDATED)
            return Decision(Verdict.REFUSED, str(exc), gate="busy")
        await self._notify(fresh, Event.UPDATED)
        return Decision(
            Verdict.DONE, f"diagnosis re-run: scenario {scenario}", details={"scenario": scenario}
        )

    async def silence(self, incident_id: str, seconds: float, actor: Actor) -> Decision:
        if self.alertmanager is None:
            return Decision(
                Verdict.REFUSED,
                "silences need Alertmanager's API: HONUA_BOT_ALERTMANAGER_URL is not set",
                gate="config",
            )
        incident, refused = await self._open(incident_id)
        if incident is None:
            return refused or stale(incident_id)
        if not 0 < seconds <= MAX_SILENCE_SECONDS:
            return Decision(
                Verdict.REFUSED,
                f"a silence lasts between 1 s and {MAX_SILENCE_SECONDS} s",
                gate="input",
            )
        now = datetime.now(UTC)
        length = human_seconds(seconds)
        who = actor_ref(actor)
        created_by = f"{actor.name} ({who})" if actor.name else who
        comment = f"honua-bot {incident.id}: {incident.alertname} silenced for {length} via {actor.source}"
        try:
            silence_id = await self.alertmanager.create_silence(
                incident.labels, now, now + timedelta(seconds=seconds), created_by, comment
            )
        except AdapterError as exc:
            return Decision(
                Verdict.REFUSED,
                f"Alertmanager did not create the silence: {exc}",
                gate="alertmanager",
            )
        entry = Activity(text=f"silenced for {length} (silence {silence_id})", actor=who)
        try:
            recorded = await self._record(incident_id, entry)
        except TimeoutError:
            recorded = None
        await self._notify(recorded or incident, Event.UPDATED)
        return Decision(
            Verdict.DONE,
            f"silenced {incident.alertname} for {length} (silence {silence_id})",
            details={"silence_id": silence_id},
        )
