"""What happens after an action ran: its verification, and at start-up the
report of runs a dead replica left without an outcome."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bot.actions.base import Plan
from bot.engine.audit import AuditEntry, unfinished_runs
from bot.engine.verify import verify
from bot.engine.verify_process import with_process_api
from bot.logs import get_logger
from bot.models import ProposedAction
from bot.rules.schema import Rule
from bot.store.lease import leased

if TYPE_CHECKING:
    from bot.engine.runner import ActionEngine

log = get_logger("runner")


async def verify_run(
    engine: ActionEngine,
    incident_id: str,
    rule: Rule,
    action: ProposedAction,
    plan: Plan,
    run_id: str,
    started: AuditEntry,
) -> None:
    """Poll the rule's validation, then record the outcome, feed the breaker and notify."""

    async def prometheus(expr: str) -> list[Any]:
        return [s.value for s in await engine.adapters.prometheus.query(expr)]

    query = with_process_api(prometheus, lambda: engine.adapters.process_api, plan.target)
    try:
        result = await verify(rule.validation, query, engine.config.verify_interval)
    except asyncio.CancelledError:
        # the bot stops (or `act --no-wait` leaves): say so rather than stay "verifying"
        msg = "verification not followed to the end (the bot stopped); check the validation"
        await engine.audit.record(
            started.model_copy(update={"event": "verification_abandoned", "message": msg})
        )
        await engine.records.verified(incident_id, run_id, "done", msg)
        raise
    except Exception as exc:  # never lose the outcome silently
        log.exception("verification crashed", incident=incident_id, action=action.name)
        await engine.audit.record(
            started.model_copy(update={"event": "outcome_unknown", "message": str(exc)})
        )
        await engine.records.verified(incident_id, run_id, "unknown", f"verification error: {exc}")
        return
    failures = await engine.safety.record_verification(action.type, plan.target, result.ok)
    event = "verified" if result.ok else "verification_failed"
    message = result.message
    if not result.ok and failures == engine.config.gates.breaker_failures:
        engine.pipeline.metrics.breaker_opened.labels(action.type).inc()
    if not result.ok and failures >= engine.config.gates.breaker_failures:
        message += (
            f" — circuit breaker open for {action.type} on {plan.target} "
            f"({failures} failures): automatic runs stop; a human must decide"
        )
    await engine.audit.record(
        started.model_copy(
            update={"event": event, "message": message, "duration_ms": result.seconds * 1000}
        )
    )
    await engine.records.verified(
        incident_id, run_id, "verified" if result.ok else "failed", message
    )


async def recover_interrupted(engine: ActionEngine, since: str) -> list[AuditEntry]:
    """Report runs that started but never finished (the bot stopped mid-action):
    "started, outcome unknown", in the audit and on the incident."""
    reported = []
    for entry in unfinished_runs(await engine.audit.read(since)):
        lock = f"action:{entry.incident}:{entry.action}"
        async with leased(engine.store, lock, f"{engine.owner}/recover") as free:
            if not free:
                continue  # still running on another replica
            # read again under the lock: it may have finished meanwhile, or another
            # replica starting at the same moment may have reported it already
            later = await engine.audit.read(since, incident=entry.incident)
            if entry.run not in {e.run for e in unfinished_runs(later)}:
                continue
            msg = (
                "started, outcome unknown: the bot stopped while this action ran; check the target"
            )
            await engine.audit.record(
                entry.model_copy(update={"event": "outcome_unknown", "message": msg, "id": ""})
            )
            await engine.records.verified(entry.incident, entry.run, "unknown", msg)
            reported.append(entry)
    return reported
