"""The remediation engine: every action, from a button, the CLI or auto mode,
goes through the same sequence::

    params (templated, validated) ▶ kill switch / approvals ▶ once-only lock
    ▶ plan (server-side dry run) ▶ cooldown / hourly cap / breaker ▶ audit "started"
    ▶ execute ▶ audit outcome ▶ verify (background) ▶ breaker ▶ notify

Every refusal names its gate. The incident records the run (``Incident.runs``)
and a timeline line per step, which the notifiers show.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

from pydantic import ValidationError

from bot.actions.base import ActionContext, Outcome, Plan, Refused
from bot.adapters import Adapters
from bot.adapters.errors import AdapterError
from bot.engine import followup
from bot.engine.approvers import approval_refusal, authenticated_by
from bot.engine.audit import AuditEntry, AuditLog
from bot.engine.gates import target_gate
from bot.engine.pipeline import Pipeline
from bot.engine.requests import Actor, Decision, Verdict, actor_ref
from bot.engine.run_records import RunRecorder
from bot.engine.runner_config import (
    RunnerConfig,
    action_scope,
    render_action_params,
)
from bot.engine.safety import SafetyState, duration_words, same_channel_approvals
from bot.logs import get_logger
from bot.models import Incident, ProposedAction
from bot.registry import Registry
from bot.rules.schema import ActionOptions, Rule
from bot.store.lease import leased

log = get_logger("runner")
UNDO = "undo-"
DEGRADED = (
    "stopped while the bot's store is degraded (its Redis is unreachable): cooldowns, "
    "breakers and the kill switch cannot be shared, so nothing runs by itself"
)
DEGRADED_APPROVALS = (
    "approvals need the shared store, and the bot's Redis is unreachable; try again when "
    "/readyz no longer reports it"
)


class ActionEngine:
    def __init__(
        self,
        pipeline: Pipeline,
        registry: Registry,
        adapters: Adapters,
        config: RunnerConfig,
        owner: str,
    ) -> None:
        self.pipeline = pipeline
        self.store = pipeline.store
        self.registry = registry
        self.adapters = adapters
        self.config = config
        self.owner = owner
        self.safety = SafetyState(self.store, config.gates)
        self.audit = AuditLog(self.store)
        self.records = RunRecorder(pipeline)
        self._background: set[asyncio.Task[None]] = set()

    # ActionRunner -------------------------------------------------------------------
    async def run(
        self,
        incident: Incident,
        action: ProposedAction,
        actor: Actor,
        nonce: str = "",
        dry_run: bool = False,
    ) -> Decision:
        who = actor_ref(actor)
        base = AuditEntry(
            event="requested",
            incident=incident.id,
            rule=incident.rule or "",
            action=action.name,
            type=action.type,
            actor=who,
            auth=authenticated_by(actor),
        )
        try:
            return await self._run(incident, action, actor, who, nonce, dry_run, base)
        except Exception as exc:  # an engine bug must answer, be audited and not crash
            log.exception("action run crashed", incident=incident.id, action=action.name)
            return await self._refuse(
                base, "engine", f"internal error: {type(exc).__name__}: {exc}"
            )

    async def _refuse(
        self, base: AuditEntry, gate: str, message: str, plan: Plan | None = None
    ) -> Decision:
        entry = base.model_copy(update={"event": "refused", "gate": gate, "message": message})
        if plan is not None:
            entry = entry.model_copy(update={"target": plan.target, "plan": plan.lines()})
        await self.audit.record(entry)
        return Decision(Verdict.REFUSED, message, gate=gate)

    async def _run(
        self,
        incident: Incident,
        action: ProposedAction,
        actor: Actor,
        who: str,
        nonce: str,
        dry_run: bool,
        base: AuditEntry,
    ) -> Decision:
        entry = self.registry.get(action.type)
        impl = entry.impl if entry else None
        if entry is None or impl is None:
            return await self._refuse(
                base, "engine", f"action type {action.type} cannot be executed by this build"
            )
        rule = self.pipeline.rules().get(incident.rule) if incident.rule else None
        options = self._options(rule, action)
        raw = render_action_params(action.params, action_scope(incident), impl.late_templates)
        try:
            params = entry.params_model.model_validate(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            return await self._refuse(
                base, "input", f"params of {action.name} after templating: {where}: {err['msg']}"
            )
        auto = actor.source == "auto"
        degraded = bool(getattr(self.store, "degraded", False))
        if auto:
            paused = await self.safety.paused()
            if paused:
                return await self._refuse(base, "paused", f"automatic actions are {paused}")
            if degraded:
                return await self._refuse(base, "paused", DEGRADED)
            if options.approvals > 1:
                return await self._refuse(
                    base, "approvals", f"{action.name} needs {options.approvals} people's approval"
                )
        lock = f"action:{incident.id}:{action.name}"
        if options.approvals > 1 and not dry_run and degraded:
            return await self._refuse(base, "approvals", DEGRADED_APPROVALS)
        if options.approvals > 1 and not dry_run:
            if (why := approval_refusal(actor, action.name, options.approvals)) is not None:
                return await self._refuse(base, "approvals", why)
            waiting = await self._approve(incident, action, who, options.approvals, lock, base)
            if waiting is not None:
                return waiting
        async with leased(self.store, lock, f"{self.owner}/{uuid.uuid4().hex[:8]}") as held:
            if not held:
                msg = f"{action.name} is already running for incident {incident.id}"
                await self.audit.record(
                    base.model_copy(update={"event": "duplicate", "message": msg})
                )
                return Decision(Verdict.DUPLICATE, msg)
            once = f"action:once:{incident.id}:{action.name}:{nonce}"
            if nonce and not dry_run:
                fresh = await self.store.set_value(
                    once, who, self.config.dedup_seconds, only_if_absent=True
                )
                if not fresh:
                    msg = f"{action.name} already ran from this button moments ago"
                    await self.audit.record(
                        base.model_copy(update={"event": "duplicate", "message": msg})
                    )
                    return Decision(Verdict.DUPLICATE, msg)
            ctx = ActionContext(
                self.adapters,
                incident.id,
                dict(incident.labels),
                who,
                dry_run,
                self.config.limits,
                self.store,
                self.config.poll_interval,
            )
            try:
                plan = await asyncio.wait_for(impl.plan(params, ctx), self.config.action_timeout)
            except Refused as exc:
                await self._forget(once, nonce)
                return await self._refuse(base, exc.gate, exc.message)
            except (AdapterError, TimeoutError) as exc:
                await self._forget(once, nonce)
                return await self._refuse(base, "target", f"could not plan: {exc or 'timed out'}")
            except BaseException:
                await self._forget(once, nonce)  # it never ran: the button stays usable
                raise
            if dry_run:
                gate, why = await target_gate(
                    self.safety, self.config.gates, rule, action, options, plan, auto
                )
                return await self._dry_run(base, plan, gate, why)
            # one run per target at a time, across incidents and replicas: the gates
            # are checked and claimed under this lock, so two alerts about the same
            # deployment cannot both pass its cooldown
            target_lock = f"target:{action.type}:{plan.target}"
            owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
            async with leased(self.store, target_lock, owner) as mine:
                try:
                    gate, why = await self._claim_gates(rule, action, options, plan, auto, mine)
                except BaseException:
                    await self._forget(once, nonce)
                    raise
                if gate:
                    await self._forget(once, nonce)
                    return await self._refuse(base, gate, why, plan)
                return await self._execute(
                    incident, action, options, impl, params, ctx, plan, who, base
                )

    async def _claim_gates(
        self,
        rule: Rule | None,
        action: ProposedAction,
        options: ActionOptions,
        plan: Plan,
        auto: bool,
        target_held: bool,
    ) -> tuple[str, str]:
        if not target_held:
            return "busy", f"another {action.type} is running on {plan.target} right now"
        if auto:  # a pause issued while the plan was being made still stops it
            paused = await self.safety.paused()
            if paused:
                return "paused", f"automatic actions are {paused}"
        return await target_gate(self.safety, self.config.gates, rule, action, options, plan, auto)

    def _options(self, rule: Rule | None, action: ProposedAction) -> ActionOptions:
        call = rule.actions.get(action.name) if rule else None
        if call is not None:
            return call.options
        # an undo: manual and confirmed, with the approvals and cooldown of what it reverses
        original = rule.actions.get(action.name.removeprefix(UNDO)) if rule else None
        if original is not None:
            return original.options.model_copy(update={"mode": "manual", "confirm": True})
        return ActionOptions(mode="manual", confirm=True)

    async def _forget(self, once: str, nonce: str) -> None:
        """A refused click may be retried later (after a cooldown, say)."""
        if nonce:
            await self.store.delete_value(once)

    async def _approve(
        self,
        incident: Incident,
        action: ProposedAction,
        who: str,
        needed: int,
        lock: str,
        base: AuditEntry,
    ) -> Decision | None:
        """Record ``who``'s approval; a Decision while more people must approve."""
        owner = f"{self.owner}/{uuid.uuid4().hex[:8]}"
        async with leased(self.store, f"{lock}:approvals", owner) as held:
            if not held:
                return Decision(Verdict.DUPLICATE, "another approval is being recorded; try again")
            approvals = same_channel_approvals(
                await self.safety.approve(incident.id, action.name, who), who
            )
        if len(approvals) >= needed:
            return None
        names = ", ".join(a.who for a in approvals)
        ttl = duration_words(self.config.gates.approval_ttl)
        msg = (
            f"{action.name} needs {needed} approvals from different people; "
            f"{len(approvals)} so far ({names}). Another person must approve within {ttl}."
        )
        await self.audit.record(base.model_copy(update={"event": "needs_approval", "message": msg}))
        await self.records.note(
            incident.id, f"approved `{action.name}` ({len(approvals)}/{needed})", who
        )
        return Decision(Verdict.NEEDS_APPROVAL, msg, gate="approvals")

    async def _dry_run(self, base: AuditEntry, plan: Plan, gate: str, why: str) -> Decision:
        lines = plan.lines()
        note = f" It would be refused now (gate {gate}): {why}" if gate else ""
        msg = f"Dry run, nothing changed: {plan.summary}.{note}"
        await self.audit.record(
            base.model_copy(
                update={"event": "dry_run", "target": plan.target, "plan": lines, "message": msg}
            )
        )
        return Decision(
            Verdict.DONE, msg, gate=gate, details={"plan": lines, "target": plan.target}
        )

    async def _execute(
        self,
        incident: Incident,
        action: ProposedAction,
        options: ActionOptions,
        impl: Any,
        params: Any,
        ctx: ActionContext,
        plan: Plan,
        who: str,
        base: AuditEntry,
    ) -> Decision:
        rule_name = incident.rule or ""
        cooldown = (
            options.cooldown if options.cooldown is not None else self.config.gates.default_cooldown
        )
        await self.safety.start_cooldown(action.type, plan.target, cooldown)
        await self.safety.count_run(rule_name, action.name)
        run_id = uuid.uuid4().hex[:12]
        started = base.model_copy(
            update={"event": "started", "run": run_id, "target": plan.target, "plan": plan.lines()}
        )
        await self.audit.record(started)
        await self.records.started(incident.id, action.name, who, run_id, plan)
        t0 = time.perf_counter()
        try:
            outcome = await asyncio.wait_for(
                impl.execute(params, ctx, plan), self.config.action_timeout
            )
        except Refused as exc:
            outcome = Outcome(False, f"refused by {exc.gate}: {exc.message}")
        except (AdapterError, TimeoutError) as exc:
            outcome = Outcome(
                False, str(exc) or f"timed out after {self.config.action_timeout:g} s"
            )
        except asyncio.CancelledError:
            msg = "interrupted: the bot stopped while this action ran; outcome unknown, check the target"
            await self.audit.record(
                started.model_copy(update={"event": "outcome_unknown", "message": msg})
            )
            await self.records.verified(incident.id, run_id, "unknown", msg)
            raise
        except Exception as exc:
            log.exception("action crashed", action=action.name, incident=incident.id)
            outcome = Outcome(False, f"action error: {type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - t0) * 1000
        await self.audit.record(
            started.model_copy(
                update={
                    "event": "succeeded" if outcome.ok else "failed",
                    "message": outcome.message,
                    "duration_ms": round(ms, 1),
                    "plan": [c.text() for c in outcome.changes] or started.plan,
                }
            )
        )
        try:
            await self.safety.clear_approvals(incident.id, action.name)
        except Exception as exc:  # the action ran; say what it did regardless
            log.warning("approvals not cleared", incident=incident.id, error=str(exc))
        if not outcome.ok:
            failures = await self.safety.record_verification(action.type, plan.target, ok=False)
            if failures == self.config.gates.breaker_failures:
                self.pipeline.metrics.breaker_opened.labels(action.type).inc()
            await self.records.finished(incident.id, run_id, "failed", outcome)
            return Decision(
                Verdict.REFUSED, f"{action.name} failed: {outcome.message}", gate="execution"
            )
        rule = self.pipeline.rules().get(rule_name) if rule_name else None
        if rule is None or not rule.validation:
            await self.records.finished(incident.id, run_id, "done", outcome)
            return Decision(Verdict.DONE, f"{action.name}: {outcome.message}")
        if self.adapters.prometheus_client is None:
            outcome.message += " (not verified: HONUA_BOT_PROMETHEUS_URL is not set)"
            await self.records.finished(incident.id, run_id, "done", outcome)
            return Decision(Verdict.DONE, f"{action.name}: {outcome.message}")
        await self.records.finished(incident.id, run_id, "verifying", outcome)
        self._spawn(self._verify(incident.id, rule, action, plan, run_id, started))
        return Decision(
            Verdict.ACCEPTED,
            f"{action.name}: {outcome.message}. Verifying with the runbook's validation…",
            details={"run": run_id},
        )

    # verification ---------------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _verify(
        self,
        incident_id: str,
        rule: Rule,
        action: ProposedAction,
        plan: Plan,
        run_id: str,
        started: AuditEntry,
    ) -> None:
        await followup.verify_run(self, incident_id, rule, action, plan, run_id, started)

    async def wait_background(self, timeout: float | None = None) -> None:
        """Wait for running verifications (the CLI waits before it exits)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # auto mode and crash recovery ----------------------------------------------------
    def run_auto(self, incident: Incident) -> None:
        """Start the diagnosis's ``mode: auto`` actions in the background."""
        d = incident.diagnosis
        for action in d.actions if d else []:
            if action.mode == "auto":
                self._spawn(self._auto(incident, action))

    async def _auto(self, incident: Incident, action: ProposedAction) -> None:
        decision = await self.run(incident, action, Actor(id="auto", source="auto"))
        log.info(
            "automatic action",
            incident=incident.id,
            action=action.name,
            verdict=decision.verdict.value,
            gate=decision.gate,
            message=decision.message,
        )
        if decision.verdict is Verdict.REFUSED and decision.gate not in ("", "execution"):
            await self.records.note(
                incident.id,
                f"automatic `{action.name}` not run (gate {decision.gate}): {decision.message}",
                "auto",
            )

    async def recover(self, since: str = "24h") -> list[AuditEntry]:
        """Report runs that started but never finished (the bot stopped mid-action)."""
        return await followup.recover_interrupted(self, since)
