"""An incident is one firing episode of one alert (fingerprint + startsAt)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from bot.logs import redact
from bot.models.alertmanager import Alert

# NotConfigured's wording (bot/adapters/errors.py): "<target> is not configured (set <SETTING>)"
_NOT_CONFIGURED = re.compile(r"^(?P<what>.+?) is not configured \(set (?P<setting>.+)\)$")


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
    label: str = ""  # the button's text (the rule's, else from the description)
    approvals: int = 1  # people who must press it before it runs
    change: str = ""  # what it would change now, from a dry-run plan (bot/engine/preview.py)


class Fact(BaseModel):
    """One finding as people read it: ``Failure rate`` · ``14.0 %`` · ``alert at 10 %``."""

    probe: str
    label: str
    text: str
    threshold: str = ""


class ScenarioCheck(BaseModel):
    """Why a scenario was (not) chosen: each clause of its condition with the values
    it read, e.g. ``llm_rate_limit.value > 0.0`` with ``llm_rate_limit.value = 0.097``."""

    scenario: str
    held: bool
    clauses: list[str] = Field(default_factory=list)

    def text(self) -> str:
        if self.held:
            return f"{' and '.join(self.clauses) or 'its condition held'} → {self.scenario}"
        return f"{self.scenario}: {'; '.join(self.clauses) or 'its condition did not hold'}"


class Unchecked(BaseModel):
    """A probe that could not run here and the setting that would enable it."""

    probe: str
    what: str  # "kubernetes"
    setting: str  # "HONUA_BOT_KUBECONFIG or HONUA_BOT_KUBERNETES_HOST"


class Diagnosis(BaseModel):
    rule: str | None
    scenario: str
    summary: str = ""
    findings: dict[str, Finding] = Field(default_factory=dict)
    actions: list[ProposedAction] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)  # manual checklist, values filled in
    facts: list[Fact] = Field(default_factory=list)  # the rule's display of the findings
    why: list[ScenarioCheck] = Field(default_factory=list)  # earlier scenarios, then the chosen
    priority: str = ""  # the rule's P-level
    runbook: str = ""
    runbook_url: str = ""
    checklist: list[str] = Field(default_factory=list)  # runbook diagnosis steps (unclassified)
    graph_expr: str = ""  # the rule's first PromQL, graphed when the alert gives none
    prevention: list[str] = Field(default_factory=list)  # the runbook's, for the resolved message
    diagnosed_at: datetime = Field(default_factory=utcnow)

    @property
    def failed_probes(self) -> list[Finding]:
        return [f for f in self.findings.values() if not f.ok]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unchecked(self) -> list[Unchecked]:
        """Probes not run because their target is not set up here, with the setting
        that would enable them (never also listed as failed)."""
        out = []
        for f in self.findings.values():
            if f.ok or f.configured:
                continue
            m = _NOT_CONFIGURED.match(f.error or "")
            what, setting = (m["what"], m["setting"]) if m else (f.type.split(".")[0], "")
            out.append(Unchecked(probe=f.probe, what=what, setting=setting))
        return out

    @property
    def chosen(self) -> ScenarioCheck | None:
        return next((c for c in self.why if c.held), None)


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
    undoes: str = ""  # an ``undo-NAME`` run: the run_id of the NAME run it reverses
    # the validation as last polled, one line each: "`expr` = 3.2 (target value < 5.0): held 4 of 10 min"
    progress: list[str] = Field(default_factory=list)
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
    # an action this entry offers as a button ("undo-reduce-load": a mitigation's
    # restore, offered after the incident resolved), with the button's text
    offer: str = ""
    offer_label: str = ""
    offer_run: str = ""  # the run the offer is about (one offer per run)


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
    severity: str = ""  # the highest of its variants' (see ``variants``)
    # every variant of the alert that joined it (same labels but severity): its alert
    # key (fingerprint|startsAt) → still firing; empty while only the first one fired
    variants: dict[str, bool] = Field(default_factory=dict)
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
    def shared_labels(self) -> dict[str, str]:
        """The labels every alert of this incident has: without ``severity`` once a
        variant joined, so a silence built from them covers warning and critical."""
        if not self.variants:
            return dict(self.labels)
        return {k: v for k, v in self.labels.items() if k != "severity"}

    @property
    def log_context(self) -> dict[str, str]:
        return {"incident": self.id, "fingerprint": self.fingerprint, "rule": self.rule or ""}
