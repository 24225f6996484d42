"""The audit trail: every decision about an action (automatic or human, who, the
gates, the plan, the result, how long it took) as one entry in the store's audit
stream, readable with ``honua-bot audit``."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from bot.logs import get_logger
from bot.rules.durations import parse_duration
from bot.store.base import Store

log = get_logger("audit")


class AuditEntry(BaseModel):
    event: str  # requested | refused | needs_approval | duplicate | dry_run | started |
    #             succeeded | failed | verified | verification_failed | outcome_unknown |
    #             would_have_run (shadow) | diagnosed | resolved (the incident's life)
    incident: str = ""
    rule: str = ""
    action: str = ""
    type: str = ""
    actor: str = ""
    auth: str = ""  # how the actor was authenticated (bot.remediation.approvers)
    run: str = ""  # one id per execution: started ↔ its outcome
    gate: str = ""
    message: str = ""
    target: str = ""
    plan: list[str] = Field(default_factory=list)
    duration_ms: float | None = None
    channel: str = ""  # where a person asked (Slack channel id), when known
    scenario: str = ""  # diagnosed: the scenario named
    alert_at: str = ""  # diagnosed / resolved: the alert's startsAt (ISO 8601)
    id: str = ""  # the stream id, set when read

    @property
    def at(self) -> datetime:
        ms = int(self.id.split("-")[0]) if self.id else 0
        return datetime.fromtimestamp(ms / 1000, UTC)

    def to_fields(self) -> dict[str, str]:
        data = self.model_dump(exclude={"id"}, exclude_defaults=True)
        return {k: json.dumps(v) if not isinstance(v, str) else v for k, v in data.items()}

    @classmethod
    def from_fields(cls, entry_id: str, fields: dict[str, str]) -> AuditEntry:
        data: dict[str, Any] = dict(fields)
        if "plan" in data:
            data["plan"] = json.loads(data["plan"])
        if "duration_ms" in data:
            data["duration_ms"] = float(data["duration_ms"])
        return cls(id=entry_id, **data)

    def line(self) -> str:
        parts = [self.at.strftime("%Y-%m-%d %H:%M:%S"), self.event, self.action or "-"]
        parts.append(f"incident={self.incident}" if self.incident else "")
        parts.append(f"by={self.actor}" if self.actor else "")
        parts.append(f"auth={self.auth}" if self.auth else "")
        parts.append(f"gate={self.gate}" if self.gate else "")
        parts.append(f"scenario={self.scenario}" if self.scenario else "")
        parts.append(f"target={self.target}" if self.target else "")
        if self.duration_ms is not None:
            parts.append(f"{self.duration_ms:.0f}ms")
        text = " ".join(p for p in parts if p)
        return f"{text}: {self.message}" if self.message else text


class AuditLog:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, entry: AuditEntry) -> None:
        """Audit must not lose a decision quietly: a store failure is logged loudly
        with the whole entry, so the log still holds it."""
        fields = entry.to_fields()
        log.info("audit", **{("decision" if k == "event" else k): v for k, v in fields.items()})
        try:
            await self.store.append_audit(fields)
        except Exception as exc:
            log.error("audit entry not stored", error=str(exc), entry=fields)

    async def read(
        self, since: str | float = "24h", incident: str = "", limit: int = 10_000
    ) -> list[AuditEntry]:
        seconds = parse_duration(since) if isinstance(since, str) else float(since)
        # further back than the epoch is "everything" (a negative stream id is an error)
        since_ms = max(0, int((time.time() - seconds) * 1000))
        rows = await self.store.read_audit(since_ms, limit)
        entries = [AuditEntry.from_fields(i, f) for i, f in rows]
        return [e for e in entries if not incident or e.incident == incident]


def unfinished_runs(entries: list[AuditEntry]) -> list[AuditEntry]:
    """``started`` entries with no outcome after them: the bot stopped mid-action."""
    ended = {
        e.run
        for e in entries
        if e.event
        in {
            "succeeded",
            "failed",
            "outcome_unknown",
            "verified",
            "verification_failed",
            "verification_abandoned",
        }
    }
    return [e for e in entries if e.event == "started" and e.run not in ended]
