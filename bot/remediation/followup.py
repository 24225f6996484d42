"""What happens after an action ran: its verification, and at start-up the
report of runs a dead replica left without an outcome."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.actions.base import Plan
from bot.adapters import Adapters
from bot.audit import AuditEntry, AuditLog, unfinished_runs
from bot.logs import get_logger
from bot.metrics import Metrics
from bot.models import ProposedAction
from bot.remediation.run_records import RunRecorder
from bot.remediation.verify import verify
from bot.remediation.verify_process import with_process_api
from bot.rules.schema import Rule
from bot.safety.state import SafetyState
from bot.store import Store, keys
from bot.store.lease import leased

log = get_logger("runner")


class VerifyRun:
    """Poll the rule's validation, then record the outcome, feed the breaker and notify."""

    def __init__(
        self,
        adapters: Adapters,
        safety: SafetyState,
        audit: AuditLog,
        records: RunRecorder,
        interval: float,
        metrics: Metrics,
    ) -> None:
        self.metrics = metrics
        self.adapters = adapters
        self.safety = safety
        self.audit = audit
        self.records = records
        self.interval = interval

    async def __call__(
        self,
        incident_id: str,
        rule: Rule,
        action: ProposedAction,
        plan: Plan,
        run_id: str,
        started: AuditEntry,
    ) -> None:
        await _verify_run(self, incident_id, rule, action, plan, run_id, started)


async def _verify_run(
    v: VerifyRun,
    incident_id: str,
    rule: Rule,
    action: ProposedAction,
    plan: Plan,
    run_id: str,
    started: AuditEntry,
) -> None:
    async def prometheus(expr: str) -> list[Any]:
        return [s.value for s in await v.adapters.prometheus.query(expr)]

    query = with_process_api(prometheus, lambda: v.adapters.process_api, plan.target)

    async def progress(lines: list[str]) -> None:
        await v.records.progress(incident_id, run_id, lines)

    try:
        result = await verify(rule.validation, query, v.interval, progress=progress)
    except asyncio.CancelledError:
        # the bot stops (or `act --no-wait` leaves): say so rather than stay "verifying"
        msg = "verification not followed to the end (the bot stopped); check the validation"
        await v.audit.record(
            started.model_copy(update={"event": "verification_abandoned", "message": msg})
        )
        await v.records.verified(incident_id, run_id, "done", msg)
        raise
    except Exception as exc:  # never lose the outcome silently
        log.exception("verification crashed", incident=incident_id, action=action.name)
        await v.audit.record(
            started.model_copy(update={"event": "outcome_unknown", "message": str(exc)})
        )
        await v.records.verified(incident_id, run_id, "unknown", f"verification error: {exc}")
        return
    failures = await v.safety.record_verification(action.type, plan.target, result.ok)
    event = "verified" if result.ok else "verification_failed"
    message = result.message
    if not result.ok and failures == v.safety.config.breaker_failures:
        v.metrics.breaker_opened.labels(action.type).inc()  # it opened just now
    if not result.ok and failures >= v.safety.config.breaker_failures:
        message += (
            f" — circuit breaker open for {action.type} on {plan.target} "
            f"({failures} failures): automatic runs stop; a human must decide"
        )
    await v.audit.record(
        started.model_copy(
            update={"event": event, "message": message, "duration_ms": result.seconds * 1000}
        )
    )
    await v.records.verified(incident_id, run_id, "verified" if result.ok else "failed", message)


async def recover_interrupted(
    store: Store, audit: AuditLog, records: RunRecorder, owner: str, since: str
) -> list[AuditEntry]:
    """Report runs that started but never finished (the bot stopped mid-action):
    "started, outcome unknown", in the audit and on the incident."""
    reported = []
    for entry in unfinished_runs(await audit.read(since)):
        lock = keys.action_lock(entry.incident, entry.action)
        async with leased(store, lock, f"{owner}/recover") as free:
            if not free:
                continue  # still running on another replica
            # read again under the lock: it may have finished meanwhile, or another
            # replica starting at the same moment may have reported it already
            later = await audit.read(since, incident=entry.incident)
            if entry.run not in {e.run for e in unfinished_runs(later)}:
                continue
            msg = (
                "started, outcome unknown: the bot stopped while this action ran; check the target"
            )
            await audit.record(
                entry.model_copy(update={"event": "outcome_unknown", "message": msg, "id": ""})
            )
            await records.verified(entry.incident, entry.run, "unknown", msg)
            reported.append(entry)
    return reported
