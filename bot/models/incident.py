"""An incident is one firing episode of one alert (fingerprint + startsAt)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.logs import redact
from bot.models.alertmanager import Alert


def utcnow() -> datetime:
    return datetime.now(UTC)


class IncidentStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Finding(BaseModel):
    """What one probe saw. A probe that failed is still a finding, carrying its error."""

    probe: str
    type: str
    ok: bool
    data: Any = None
    error: str | None = None
    configured: bool = True  # False: the target is not set up here, so silence is not evidence
    duration_ms: float = 0.0
    truncated: bool = False  # data trimmed to the stored bound (bot/engine/evidence.py)

    @field_validator("error")
    @classmethod
    def _redact(cls, value: str | None) -> str | None:
        # errors quote URLs (a target's, with its password) and reach every channel
        return redact(value) if value else value

    def as_cel_value(self) -> dict[str, Any]:
        """The value a rule's CEL condition and templates see under the probe's name."""
        base: dict[str, Any] = dict(self.data) if isinstance(self.data, dict) else {}
        if not isinstance(self.data, dict) and self.data is not None:
            base["value"] = self.data
        base["ok"] = self.ok
        base["error"] = self.error or ""
        base["configured"] = self.configured
        return base


class ProposedAction(BaseModel):
    name: str
    type: str
    params: dict[str, Any] = Field(default_factory=dict)
    mode: Literal["manual", "auto", "shadow"] = "manual"
    confirm: bool = False
    description: str = ""
    destructive: bool = False


class Diagnosis(BaseModel):
    rule: str | None
    scenario: str
    summary: str = ""
    findings: dict[str, Finding] = Field(default_factory=dict)
    actions: list[ProposedAction] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)  # manual checklist, values filled in
    prevention: list[str] = Field(default_factory=list)  # the runbook's, for the resolved message
    diagnosed_at: datetime = Field(default_factory=utcnow)

    @property
    def failed_probes(self) -> list[Finding]:
        return [f for f in self.findings.values() if not f.ok]


class ActionRun(BaseModel):
    """A remediation step someone asked for (or auto mode started), as notifiers show
    it. The remediation engine appends one when it starts and sets ``state`` when the
    verification has an outcome; the Slack message shows the last one."""

    model_config = ConfigDict(validate_assignment=True)  # so ``detail`` is redacted when set

    action: str
    actor: str = ""  # "slack:U123", "cli:alice", "auto"
    # running → verifying → verified | failed; done: ran, nothing to verify against;
    # unknown: the bot stopped mid-action, so nobody knows what happened
    state: Literal["running", "verifying", "verified", "failed", "done", "unknown"] = "running"
    detail: str = ""
    run_id: str = ""
    target: str = ""
    undo: dict[str, Any] | None = None  # {"type", "params", "description"} when reversible
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None

    @field_validator("detail")
    @classmethod
    def _redact(cls, value: str) -> str:
        return redact(value) if value else value


class Activity(BaseModel):
    """One line of the incident's timeline (a reply in its Slack thread): who did what."""

    text: str
    actor: str = ""  # same form as ActionRun.actor
    at: datetime = Field(default_factory=utcnow)


class Milestone(StrEnum):
    """What the alert path has done for an incident, once each (a redelivered or
    re-sent alert finds it recorded and does not do it again)."""

    DIAGNOSED = "diagnosed"  # the diagnosed message was delivered
    RESOLVED = "resolved"  # the resolved message was delivered
    AUTO_STARTED = "auto-started"  # its mode: auto actions were started


class Incident(BaseModel):
    id: str
    key: str
    fingerprint: str
    alertname: str
    status: IncidentStatus = IncidentStatus.OPEN
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    external_url: str = ""
    rule: str | None = None
    severity: str = ""
    diagnosis: Diagnosis | None = None
    # ordered, each at most once (see :meth:`reached` / :meth:`mark`)
    notified: list[Milestone] = Field(default_factory=list)
    resolved_before_firing: bool = False
    # what people (or the engine) did about it; notifiers render these
    acknowledged_by: str = ""
    acknowledged_at: datetime | None = None
    runs: list[ActionRun] = Field(default_factory=list)
    activity: list[Activity] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_alert(cls, alert: Alert, external_url: str = "") -> Incident:
        return cls(
            id=alert.incident_id,
            key=alert.incident_key,
            fingerprint=alert.fingerprint,
            alertname=alert.alertname,
            labels=alert.labels,
            annotations=alert.annotations,
            starts_at=alert.starts_at,
            generator_url=alert.generator_url,
            external_url=external_url,
            severity=alert.labels.get("severity", ""),
        )

    def reached(self, milestone: Milestone) -> bool:
        return milestone in self.notified

    def mark(self, milestone: Milestone) -> None:
        if milestone not in self.notified:
            self.notified.append(milestone)

    @property
    def log_context(self) -> dict[str, str]:
        return {"incident": self.id, "fingerprint": self.fingerprint, "rule": self.rule or ""}
