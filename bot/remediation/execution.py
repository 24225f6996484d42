"""The last stages of the remediation path: execute, record the outcome with its
undo offer, verify (in the background). Each audits what it did itself (started,
succeeded / failed, verified), so their halts carry no audit event."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bot.actions.base import Outcome, Refused
from bot.adapters import Adapters
from bot.adapters.errors import AdapterError
from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.remediation.attempt import Attempt, Halt
from bot.remediation.config import RunnerConfig
from bot.remediation.followup import VerifyRun
from bot.remediation.requests import Decision, Verdict
from bot.remediation.run_records import RunRecorder
from bot.safety.state import SafetyState

log = get_logger("runner")
INTERRUPTED = (
    "interrupted: the bot stopped while this action ran; outcome unknown, check the target"
)


class Execute:
    """Claim the cooldown and the hourly count, audit "started", run the action,
    audit its outcome. From here on the button's nonce stays used."""

    def __init__(
        self, safety: SafetyState, audit: AuditLog, records: RunRecorder, config: RunnerConfig
    ) -> None:
        self.safety = safety
        self.audit = audit
        self.records = records
        self.config = config

    async def exec(self, attempt: Attempt) -> Halt | None:
        incident, action, options, plan = (
            attempt.incident,
            attempt.action,
            attempt.options,
            attempt.plan,
        )
        assert options is not None and plan is not None and attempt.entry is not None
        attempt.executed = True
        gates = self.safety.config
        cooldown = options.cooldown if options.cooldown is not None else gates.default_cooldown
        await self.safety.start_cooldown(action.type, plan.target, cooldown)
        await self.safety.count_run(incident.rule or "", action.name)
        attempt.run_id = uuid.uuid4().hex[:12]
        started = attempt.audit_base().model_copy(
            update={
                "event": "started",
                "run": attempt.run_id,
                "target": plan.target,
                "plan": plan.lines(),
            }
        )
        attempt.started = started
        await self.audit.record(started)
        await self.records.started(incident.id, action.name, attempt.who, attempt.run_id, plan)
        t0 = time.perf_counter()
        timeout = self.config.action_timeout
        try:
            run = attempt.entry.impl.execute(attempt.params, attempt.ctx, plan)
            outcome: Outcome = await asyncio.wait_for(run, timeout)
        except Refused as exc:
            outcome = Outcome(False, f"refused by {exc.gate}: {exc.message}")
        except (AdapterError, TimeoutError) as exc:
            outcome = Outcome(False, str(exc) or f"timed out after {timeout:g} s")
        except asyncio.CancelledError:
            update = {"event": "outcome_unknown", "message": INTERRUPTED}
            await self.audit.record(started.model_copy(update=update))
            await self.records.verified(incident.id, attempt.run_id, "unknown", INTERRUPTED)
            raise
        except Exception as exc:
            log.exception("action crashed", action=action.name, incident=incident.id)
            outcome = Outcome(False, f"action error: {type(exc).__name__}: {exc}")
        ms = (time.perf_counter() - t0) * 1000
        attempt.outcome = outcome
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
        return None


class OfferUndo:
    """Record the outcome on the incident's run, with how to undo it (shown at
    once when the action failed, and again if its verification fails). A failure
    feeds the circuit breaker and ends the path."""

    def __init__(self, safety: SafetyState, records: RunRecorder, metrics: Metrics) -> None:
        self.safety = safety
        self.records = records
        self.metrics = metrics

    async def exec(self, attempt: Attempt) -> Halt | None:
        outcome, plan = attempt.outcome, attempt.plan
        assert outcome is not None and plan is not None
        if outcome.ok:
            return None
        action_type = attempt.action.type
        failures = await self.safety.record_verification(action_type, plan.target, ok=False)
        if failures == self.safety.config.breaker_failures:
            self.metrics.breaker_opened.labels(action_type).inc()  # it opened just now
        await self.records.finished(attempt.incident.id, attempt.run_id, "failed", outcome)
        message = f"{attempt.action.name} failed: {outcome.message}"
        return Halt(Decision(Verdict.REFUSED, message, gate="execution"))


class Verify:
    """Poll the rule's validation in the background (the answer does not wait for
    it); without a validation, or without Prometheus, the run is done unverified."""

    def __init__(
        self,
        records: RunRecorder,
        adapters: Adapters,
        verify_run: VerifyRun,
        spawn: Callable[[Coroutine[Any, Any, None]], None],
        hand_off: Callable[[str, AuditEntry], Awaitable[bool]] | None = None,
    ) -> None:
        self.records = records
        self.adapters = adapters
        self.verify_run = verify_run
        self.spawn = spawn
        self.hand_off = hand_off  # `act --no-wait`: a serving replica follows it

    async def exec(self, attempt: Attempt) -> Halt | None:
        incident, action, outcome, rule = (
            attempt.incident,
            attempt.action,
            attempt.outcome,
            attempt.rule,
        )
        assert outcome is not None and attempt.plan is not None and attempt.started is not None
        if rule is None or not rule.validation:
            await self.records.finished(incident.id, attempt.run_id, "done", outcome)
            return Halt(Decision(Verdict.DONE, f"{action.name}: {outcome.message}"))
        if self.adapters.prometheus_client is None:
            outcome.message += " (not verified: HONUA_BOT_PROMETHEUS_URL is not set)"
            await self.records.finished(incident.id, attempt.run_id, "done", outcome)
            return Halt(Decision(Verdict.DONE, f"{action.name}: {outcome.message}"))
        await self.records.finished(incident.id, attempt.run_id, "verifying", outcome)
        if self.hand_off is None or not await self.hand_off(incident.id, attempt.started):
            self.spawn(
                self.verify_run(
                    incident.id, rule, action, attempt.plan, attempt.run_id, attempt.started
                )
            )
        return Halt(
            Decision(
                Verdict.ACCEPTED,
                f"{action.name}: {outcome.message}. Verifying with the runbook's validation…",
                details={"run": attempt.run_id},
            )
        )
