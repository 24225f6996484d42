"""The stages of the remediation path up to the target gates, one small class
each behind ``exec(attempt) -> Halt | None``. :mod:`bot.remediation.engine`
assembles them (with :mod:`bot.remediation.execution`) into the one list every
action goes through; :class:`Stale` runs at the door, in
:mod:`bot.remediation.incident_requests`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Mapping
from typing import Protocol

from pydantic import ValidationError

from bot.actions.base import ActionContext, Refused
from bot.adapters import Adapters
from bot.adapters.errors import AdapterError
from bot.durations import human_seconds
from bot.models import Incident, IncidentStatus, ProposedAction
from bot.registry import Registry
from bot.remediation.approvers import approval_refusal
from bot.remediation.attempt import Attempt, Halt, duplicate, refuse
from bot.remediation.config import RunnerConfig, action_scope, render_action_params
from bot.remediation.mitigations import UNDO, in_place, undone_run
from bot.remediation.requests import Actor, Decision, Verdict
from bot.rules import RuleSet
from bot.rules.schema import ActionOptions, Rule
from bot.safety.gates import target_gate
from bot.safety.state import SafetyState, same_channel_approvals
from bot.store import Store, keys
from bot.store.lease import leased

DEGRADED = (
    "stopped while the bot's store is degraded (its Redis is unreachable): cooldowns, "
    "breakers and the kill switch cannot be shared, so nothing runs by itself"
)
DEGRADED_APPROVALS = (
    "approvals need the shared store, and the bot's Redis is unreachable; try again when "
    "/readyz no longer reports it"
)


def stale(message: str) -> Decision:
    return Decision(Verdict.REFUSED, message, gate="stale")


class Stale:
    """The request is not stale: the incident exists and is open; the action is
    still proposed by the diagnosis and defined, unchanged, by the rule (or, for
    ``undo-NAME``, a run of NAME said how to undo it). On a resolved incident only
    the restore of a mitigation still in place passes (``undo-NAME``, NAME marked
    ``mitigation: true``)."""

    def __init__(self, store: Store, rules: Callable[[], RuleSet]) -> None:
        self.store = store
        self.rules = rules

    async def open_incident(self, incident_id: str) -> Incident | Decision:
        return _open(incident_id, await self.store.get_incident(incident_id))

    async def resolve(
        self, incident_id: str, action: str
    ) -> tuple[Incident, ProposedAction] | Decision:
        found = await self.store.get_incident(incident_id)
        incident = _open(incident_id, found)
        if isinstance(incident, Decision):
            # a resolved incident still lets one thing through: restoring a mitigation
            return self._restore(found, action) or incident
        if action.startswith(UNDO):
            return self._undo(incident, action)
        d = incident.diagnosis
        proposed = next((a for a in (d.actions if d else []) if a.name == action), None)
        if d is None or proposed is None:
            scenario = d.scenario if d else "none yet"
            return stale(
                f"the current diagnosis (scenario {scenario}) does not propose {action}; "
                "the message was out of date"
            )
        rule = self.rules().get(incident.rule) if incident.rule else None
        call = rule.actions.get(action) if rule else None
        if call is None:
            return stale(
                f"rule {incident.rule or '(none)'} no longer defines action {action}; "
                "re-run the diagnosis"
            )
        if call.type != proposed.type or call.params != proposed.params:
            return stale(
                f"rule {incident.rule} changed action {action} after this diagnosis; "
                "re-run the diagnosis to see it as it is now"
            )
        return incident, proposed

    def _restore(
        self, incident: Incident | None, action: str
    ) -> tuple[Incident, ProposedAction] | Decision | None:
        """``undo-NAME`` on a resolved incident whose NAME is a mitigation still in
        place (``mitigation: true``, ran, never undone); None for anything else."""
        if not action.startswith(UNDO):
            return None
        if incident is None or incident.status is not IncidentStatus.RESOLVED:
            return None
        original = action.removeprefix(UNDO)
        if not any(m.action == original for m in in_place([incident], self.rules())):
            return stale(
                f"incident {incident.id} is resolved and `{original}` is not a mitigation "
                "still in place (restored already, or never one); nothing to do"
            )
        return self._undo(incident, action)

    @staticmethod
    def _undo(incident: Incident, action: str) -> tuple[Incident, ProposedAction] | Decision:
        """``undo-NAME`` reverses the last run of NAME that said how to undo it (and
        was not reversed yet)."""
        original = action.removeprefix(UNDO)
        run = undone_run(incident.runs, action)
        if run is None or run.undo is None:
            return stale(f"no run of {original} on incident {incident.id} can be undone")
        undo = ProposedAction(
            name=action,
            type=str(run.undo["type"]),
            params=dict(run.undo.get("params") or {}),
            confirm=True,
            description=str(run.undo.get("description") or f"undo {original}"),
            destructive=True,
        )
        return incident, undo


def _open(incident_id: str, incident: Incident | None) -> Incident | Decision:
    if incident is None:
        return stale(f"incident {incident_id} no longer exists (expired or never recorded)")
    if incident.status is IncidentStatus.RESOLVED:
        return stale(f"incident {incident_id} is resolved; nothing to do")
    return incident


class ActionAuthorizer(Protocol):
    async def authorize(self, actor: Actor, rule: Rule | None, action: str) -> str:
        """Why ``actor`` may not run ``action`` ("" when they may)."""
        ...


class Authorize:
    """The channel's own check of who may run this action (Slack: the rule's
    ``allowed`` or the HONUA_BOT_SLACK_* permissions; the CLI: only what nothing
    restricts, or what the rule lets the CLI run). A channel with no authorizer
    (auto mode, which the rule itself asked for) passes."""

    def __init__(self, rules: Callable[[], RuleSet], by_source: Mapping[str, ActionAuthorizer]):
        self.rules = rules
        self.by_source = dict(by_source)

    async def exec(self, attempt: Attempt) -> Halt | None:
        incident = attempt.incident
        attempt.rule = self.rules().get(incident.rule) if incident.rule else None
        authorizer = self.by_source.get(attempt.actor.source)
        if authorizer is None:
            return None
        reason = await authorizer.authorize(attempt.actor, attempt.rule, attempt.action.name)
        return refuse("authorization", f"not authorized: {reason}") if reason else None


class Params:
    """The action's params, templated over the alert and the findings, validated."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def exec(self, attempt: Attempt) -> Halt | None:
        action = attempt.action
        entry = self.registry.get(action.type)
        if entry is None or entry.impl is None:
            return refuse("engine", f"action type {action.type} cannot be executed by this build")
        attempt.entry = entry
        attempt.options = options_of(attempt.rule, action)
        scope = action_scope(attempt.incident)
        raw = render_action_params(action.params, scope, entry.impl.late_templates)
        try:
            attempt.params = entry.params_model.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return refuse(
                "input", f"params of {action.name} after templating: {where}: {err['msg']}"
            )
        return None


def options_of(rule: Rule | None, action: ProposedAction) -> ActionOptions:
    call = rule.actions.get(action.name) if rule else None
    if call is not None:
        return call.options
    # an undo: manual and confirmed, with the approvals and cooldown of what it reverses
    original = rule.actions.get(action.name.removeprefix(UNDO)) if rule else None
    if original is not None:
        return original.options.model_copy(update={"mode": "manual", "confirm": True})
    return ActionOptions(mode="manual", confirm=True)


class KillSwitch:
    """Automatic runs stop when paused (configuration or ``honua-bot pause``), or
    while the store is degraded, or when the action needs several approvals."""

    def __init__(self, safety: SafetyState, store: Store) -> None:
        self.safety = safety
        self.store = store

    async def exec(self, attempt: Attempt) -> Halt | None:
        if not attempt.auto:
            return None
        paused = await self.safety.paused()
        if paused:
            return refuse("paused", f"automatic actions are {paused}")
        if self.store.degraded:
            return refuse("paused", DEGRADED)
        assert attempt.options is not None
        if attempt.options.approvals > 1:
            needed = attempt.options.approvals
            return refuse("approvals", f"{attempt.action.name} needs {needed} people's approval")
        return None


class Approvals:
    """Record this person's approval; stop while more people must approve."""

    def __init__(self, safety: SafetyState, store: Store, owner: str, records: NoteTaker) -> None:
        self.safety = safety
        self.store = store
        self.owner = owner
        self.records = records

    async def exec(self, attempt: Attempt) -> Halt | None:
        assert attempt.options is not None
        needed = attempt.options.approvals
        if needed <= 1 or attempt.dry_run:
            return None
        if self.store.degraded:
            return refuse("approvals", DEGRADED_APPROVALS)
        if (why := approval_refusal(attempt.actor, attempt.action.name, needed)) is not None:
            return refuse("approvals", why)
        incident, action, who = attempt.incident, attempt.action, attempt.who
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        lock = keys.approvals_lock(incident.id, action.name)
        async with leased(self.store, lock, owner) as held:
            if not held:
                return duplicate("another approval is being recorded; try again")
            approvals = same_channel_approvals(
                await self.safety.approve(incident.id, action.name, who), who
            )
        if len(approvals) >= needed:
            return None
        names = ", ".join(a.who for a in approvals)
        ttl = human_seconds(self.safety.config.approval_ttl, padded=True)
        msg = (
            f"{action.name} needs {needed} approvals from different people; "
            f"{len(approvals)} so far ({names}). Another person must approve within {ttl}."
        )
        await self.records.note(
            incident.id, f"approved `{action.name}` ({len(approvals)}/{needed})", who
        )
        return Halt(Decision(Verdict.NEEDS_APPROVAL, msg, gate="approvals"), "needs_approval")


class NoteTaker(Protocol):
    async def note(self, incident_id: str, text: str, actor: str) -> None: ...


class OnceOnly:
    """One run of this action per incident at a time (across replicas), and a
    button's nonce acts once."""

    def __init__(self, store: Store, owner: str, dedup_seconds: float) -> None:
        self.store = store
        self.owner = owner
        self.dedup_seconds = dedup_seconds

    async def exec(self, attempt: Attempt) -> Halt | None:
        incident, action = attempt.incident, attempt.action
        lock = keys.action_lock(incident.id, action.name)
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        held = await attempt.held.enter_async_context(leased(self.store, lock, owner))
        if not held:
            return duplicate(f"{action.name} is already running for incident {incident.id}")
        if attempt.nonce and not attempt.dry_run:
            once = keys.action_once(incident.id, action.name, attempt.nonce)
            fresh = await self.store.set_value(
                once, attempt.who, self.dedup_seconds, only_if_absent=True
            )
            if not fresh:
                return duplicate(f"{action.name} already ran from this button moments ago")
            attempt.once_key = once
        return None


class PlanIt:
    """Ask the action what it would change (a server-side dry run where the target
    has one); nothing has changed yet."""

    def __init__(self, adapters: Adapters, store: Store, config: RunnerConfig) -> None:
        self.adapters = adapters
        self.store = store
        self.config = config

    async def exec(self, attempt: Attempt) -> Halt | None:
        assert attempt.entry is not None
        incident, c = attempt.incident, self.config
        attempt.ctx = ActionContext(
            self.adapters,
            incident.id,
            incident.shared_labels,
            attempt.who,
            attempt.dry_run,
            c.limits,
            self.store,
            c.poll_interval,
        )
        plan = attempt.entry.impl.plan(attempt.params, attempt.ctx)
        try:
            attempt.plan = await asyncio.wait_for(plan, c.action_timeout)
        except Refused as exc:
            return refuse(exc.gate, exc.message)
        except (AdapterError, TimeoutError) as exc:
            return refuse("target", f"could not plan: {exc or 'timed out'}")
        return None


class DryRun:
    """A dry run stops here, saying whether the target gates would refuse it now."""

    def __init__(self, safety: SafetyState) -> None:
        self.safety = safety

    async def exec(self, attempt: Attempt) -> Halt | None:
        if not attempt.dry_run:
            return None
        plan, options = attempt.plan, attempt.options
        assert plan is not None and options is not None
        gate, why = await target_gate(
            self.safety, attempt.rule, attempt.action, options, plan, attempt.auto
        )
        note = f" It would be refused now (gate {gate}): {why}" if gate else ""
        msg = f"Dry run, nothing changed: {plan.summary}.{note}"
        details: dict[str, object] = {"plan": plan.lines(), "target": plan.target}
        return Halt(Decision(Verdict.DONE, msg, gate=gate, details=details), "dry_run")


class TargetGates:
    """Cooldown, hourly caps and the circuit breaker for the plan's target, checked
    and claimed under the target's lease: two alerts about the same deployment
    cannot both pass its cooldown."""

    def __init__(self, safety: SafetyState, store: Store, owner: str) -> None:
        self.safety = safety
        self.store = store
        self.owner = owner

    async def exec(self, attempt: Attempt) -> Halt | None:
        plan, options, action = attempt.plan, attempt.options, attempt.action
        assert plan is not None and options is not None
        lock = keys.target_lock(action.type, plan.target)
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        if not await attempt.held.enter_async_context(leased(self.store, lock, owner)):
            return refuse("busy", f"another {action.type} is running on {plan.target} right now")
        if attempt.auto:  # a pause issued while the plan was being made still stops it
            paused = await self.safety.paused()
            if paused:
                return refuse("paused", f"automatic actions are {paused}")
        gate, why = await target_gate(
            self.safety, attempt.rule, action, options, plan, attempt.auto
        )
        return refuse(gate, why) if gate else None
