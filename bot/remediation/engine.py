"""The remediation engine: every action — from a Slack button, the CLI or auto
mode — goes through the one list of stages assembled in :meth:`ActionEngine.__init__`,
which reads like the runbook discipline::

    stale (at the door: incident_requests) ▶ authorize ▶ params ▶ kill switch
    ▶ approvals ▶ once-only lock ▶ plan ▶ unchanged (an undo) ▶ dry run ▶ target
    gates (cooldown, hourly caps, breaker) ▶ shadow ▶ execute ▶ offer undo ▶ verify
    (background)

A stage passes (None) or halts with a :class:`~bot.remediation.attempt.Halt`; the
loop in :meth:`ActionEngine.run` audits a refusal once, gives a refused click its
button back (the nonce) when nothing ran, and releases the leases the stages
took. The incident records the run (``Incident.runs``) and a timeline line per
step, which the notifiers show.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Mapping
from typing import Any

from bot.adapters import Adapters
from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.models import Incident, ProposedAction
from bot.registry import Registry
from bot.remediation import handoff
from bot.remediation.attempt import Attempt, Halt, Stage, refuse
from bot.remediation.config import RunnerConfig
from bot.remediation.execution import Execute, OfferUndo, Verify
from bot.remediation.followup import VerifyRun, recover_interrupted
from bot.remediation.requests import Actor, Decision, Incidents, Verdict
from bot.remediation.run_records import RunRecorder
from bot.remediation.shadow import Shadow
from bot.remediation.stages import (
    UNDO,
    ActionAuthorizer,
    Approvals,
    Authorize,
    DryRun,
    KillSwitch,
    OnceOnly,
    Params,
    PlanIt,
    TargetGates,
)
from bot.remediation.unchanged import Unchanged
from bot.safety.state import SafetyState

log = get_logger("runner")
__all__ = ["UNDO", "ActionEngine"]


class ActionEngine:
    def __init__(
        self,
        incidents: Incidents,
        registry: Registry,
        adapters: Adapters,
        config: RunnerConfig,
        owner: str,
        authorizers: Mapping[str, ActionAuthorizer] | None = None,
    ) -> None:
        self.incidents = incidents
        self.store = store = incidents.store
        self.registry = registry
        self.adapters = adapters
        self.config = config
        self.owner = owner
        self.safety = safety = SafetyState(store, config.gates)
        self.audit = audit = AuditLog(store)
        self.records = records = RunRecorder(incidents, incidents.notifier, store)
        self._background: set[asyncio.Task[None]] = set()
        metrics = incidents.metrics
        self.verify_run = verify_run = VerifyRun(
            adapters, safety, audit, records, config.verify_interval, metrics
        )
        # set by `act --no-wait`: record the verification for a serving replica to follow
        self.hand_off_verification = False
        # the remediation path, top to bottom
        self.path: list[Stage] = [
            Authorize(incidents.rules, authorizers or {}),
            Params(registry),
            KillSwitch(safety, store),
            Approvals(safety, store, owner, records),
            OnceOnly(store, owner, config.dedup_seconds),
            PlanIt(adapters, store, config),
            Unchanged(),  # an undo never overwrites an edit made since the run it reverses
            DryRun(safety),
            TargetGates(safety, store, owner),
            Shadow(records),  # a shadowed automatic start stops here: it would have run
            Execute(safety, audit, records, config),
            OfferUndo(safety, records, metrics),
            Verify(records, adapters, verify_run, self._spawn, self._hand_off),
        ]

    # ActionRunner -------------------------------------------------------------------
    async def run(
        self,
        incident: Incident,
        action: ProposedAction,
        actor: Actor,
        nonce: str = "",
        dry_run: bool = False,
    ) -> Decision:
        """Walk the path for an action that passed the staleness check."""
        attempt = Attempt(incident, action, actor, nonce, dry_run)
        if not dry_run:  # every click, CLI request and automatic start: `stats` counts them
            await self.audit.record(attempt.audit_base())
        try:
            async with attempt.held:  # the leases the stages took
                halt = await self._walk(attempt)
                await self._record(attempt, halt)
                return halt.decision
        except Exception as exc:  # an engine bug must answer, be audited and not crash
            log.exception("action run crashed", incident=incident.id, action=action.name)
            halt = refuse("engine", f"internal error: {type(exc).__name__}: {exc}")
            await self._record(attempt, halt)
            return halt.decision

    async def _walk(self, attempt: Attempt) -> Halt:
        try:
            for stage in self.path:
                halt = await stage.exec(attempt)
                if halt is not None:
                    break
            else:
                raise RuntimeError("the remediation path ended without a decision")
        except BaseException:
            await self._forget(attempt)  # it never ran: the button stays usable
            raise
        if not attempt.executed:
            await self._forget(attempt)  # refused: the click may be retried later
        return halt

    async def _forget(self, attempt: Attempt) -> None:
        if attempt.once_key and not attempt.executed:
            await self.store.delete_value(attempt.once_key)

    async def _record(self, attempt: Attempt, halt: Halt) -> None:
        """Audit a halt once (the execution stages audited themselves)."""
        if not halt.event:
            return
        update: dict[str, Any] = {"event": halt.event, "message": halt.decision.message}
        if halt.event == "refused":
            update["gate"] = halt.decision.gate
        if attempt.plan is not None and halt.event in ("refused", "dry_run", "would_have_run"):
            update.update({"target": attempt.plan.target, "plan": attempt.plan.lines()})
        await self.audit.record(attempt.audit_base().model_copy(update=update))

    # background work ----------------------------------------------------------------
    async def _hand_off(self, incident_id: str, started: AuditEntry) -> bool:
        """True when the verification was handed to a serving replica (`act --no-wait`)."""
        if not self.hand_off_verification:
            return False
        await handoff.hand_off(self.audit, self.records, incident_id, started)
        return True

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` in the background, cancelled by ``aclose``."""
        self._spawn(coro)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        """Start the diagnosis's ``mode: auto`` (and ``shadow``) actions in the
        background (the alert path's last stage calls this, with the incident it
        just diagnosed)."""
        d = incident.diagnosis
        for action in d.actions if d else []:
            if action.mode in ("auto", "shadow"):
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
                f"{'shadow' if action.mode == 'shadow' else 'automatic'} `{action.name}` "
                f"not run (gate {decision.gate}): {decision.message}",
                "auto",
            )

    async def recover(self, since: str = "24h") -> list[AuditEntry]:
        """Report runs that started but never finished (the bot stopped mid-action)."""
        return await recover_interrupted(self.store, self.audit, self.records, self.owner, since)
