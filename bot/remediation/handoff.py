"""``act --no-wait``: the CLI hands the verification to a serving replica
instead of abandoning it when it exits.

The CLI records ``verification_handed_off`` in the audit (the run stays
*verifying* on the incident); every serving replica looks for handed-off runs
every few seconds, one of them records ``verification_adopted`` under a lease
and follows the verification to the end (``verified`` or
``verification_failed``), so the audit says who finished it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.actions.base import Plan
from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.models import ProposedAction
from bot.remediation.run_records import RunRecorder
from bot.store import keys
from bot.store.lease import leased

if TYPE_CHECKING:
    from bot.remediation.engine import ActionEngine

HANDED_OFF = "verification_handed_off"
ADOPTED = "verification_adopted"
ENDED = {"verified", "verification_failed", "verification_abandoned", "outcome_unknown"}
LOOKBACK = "6h"  # handed-off runs older than this are left alone

log = get_logger("runner")


async def hand_off(
    audit: AuditLog, records: RunRecorder, incident_id: str, started: AuditEntry
) -> None:
    msg = "verification handed to a serving honua-bot (act --no-wait); it follows it to the end"
    await audit.record(started.model_copy(update={"event": HANDED_OFF, "message": msg}))
    await records.note(incident_id, msg, "honua-bot")


def pending(entries: list[AuditEntry]) -> list[AuditEntry]:
    """Handed-off runs nobody adopted or finished yet."""
    taken = {e.run for e in entries if e.event in ENDED or e.event == ADOPTED}
    return [e for e in entries if e.event == HANDED_OFF and e.run not in taken]


async def adopt(engine: ActionEngine) -> list[str]:
    """Start following every handed-off verification (in the background); the runs adopted."""
    adopted = []
    for entry in pending(await engine.audit.read(LOOKBACK)):
        async with leased(engine.store, keys.verify_adopt_lock(entry.run), engine.owner) as free:
            if not free:
                continue
            # read again under the lock: another replica may have adopted it meanwhile
            fresh = await engine.audit.read(LOOKBACK, incident=entry.incident)
            if entry.run not in {e.run for e in pending(fresh)}:
                continue
            msg = f"verification adopted by {engine.owner}"
            await engine.audit.record(
                entry.model_copy(update={"event": ADOPTED, "message": msg, "id": ""})
            )
        rule = engine.incidents.rules().get(entry.rule)
        if rule is None or not rule.validation:
            note = "not verified: the rule or its validation is gone"
            await engine.audit.record(
                entry.model_copy(update={"event": "verification_abandoned", "message": note})
            )
            await engine.records.verified(entry.incident, entry.run, "done", note)
            continue
        action = ProposedAction(name=entry.action, type=entry.type)
        plan = Plan(summary="", target=entry.target)
        base = entry.model_copy(update={"id": ""})
        engine.spawn(engine.verify_run(entry.incident, rule, action, plan, entry.run, base))
        adopted.append(entry.run)
        log.info("verification adopted", incident=entry.incident, run=entry.run)
    return adopted
