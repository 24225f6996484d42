"""The shape of a rule file, as compiled and ready to run.

Raw YAML is checked against these models with ``extra="forbid"`` so a misspelt
key fails ``rules check`` rather than being ignored at 3 a.m.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.rules.cel import Condition
from bot.rules.durations import Duration
from bot.rules.matchers import Matcher, matches_all

PROBE_OPTIONS = {"timeout"}
SEVERITIES = ("P1", "P2", "P3", "P4")  # P1 most urgent; Slack routes by them
ACTION_OPTIONS = {
    "mode",
    "confirm",
    "cooldown",
    "max_per_hour",
    "approvals",
    "description",
    "allowed",
    "mitigation",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatchDoc(_Strict):
    alertname: str | list[str] | None = None
    labels: list[str] = Field(default_factory=list)


class ScenarioDoc(_Strict):
    scenario: str = Field(min_length=1)
    when: str = Field(min_length=1)
    summary: str = ""
    actions: list[str] = Field(default_factory=list)
    steps: list[str] = Field(
        default_factory=list,
        description="manual steps (templated) shown as a checklist where automation is unsafe",
    )


class AllowedDoc(_Strict):
    """Who may press this action's button (empty: no restriction on that axis)."""

    users: list[str] = Field(default_factory=list)  # Slack user ids
    groups: list[str] = Field(default_factory=list)  # user-group handles
    channels: list[str] = Field(default_factory=list)  # channel ids or names
    # the runbook's "Roles Required" (senior-devops, dba, …): each becomes the Slack user
    # group HONUA_BOT_SLACK_ROLE_GROUPS maps it to; an unmapped role restricts nothing
    roles: list[str] = Field(default_factory=list)
    # the CLI cannot tell who runs it, so it may run a restricted action only when
    # the rule says so (bot/remediation/cli_access.py)
    cli: bool = False


class ActionOptions(_Strict):
    mode: Literal["manual", "auto", "shadow"] = "manual"
    confirm: bool = False
    cooldown: Duration | None = None
    max_per_hour: int | None = Field(default=None, ge=1)
    approvals: int = Field(default=1, ge=1)
    description: str = ""
    allowed: AllowedDoc | None = None  # overrides HONUA_BOT_SLACK_* permissions
    # a temporary mitigation (concurrency cut, rate limit, provider swap, longer timeout):
    # `honua-bot audit --mitigations` lists it until its undo runs
    mitigation: bool = False


class ValidationDoc(_Strict):
    expr: str = Field(min_length=1, description="PromQL evaluated with prometheus.query")
    holds: str = Field(min_length=1, description="CEL over `value`")
    for_: Duration = Field(default=0, alias="for")
    within: Duration = 900


class FactDoc(_Strict):
    """How one probe's result is shown to people: ``Failure rate 14.0 % (alert at 10 %)``."""

    probe: str = Field(min_length=1)
    label: str = Field(min_length=1)
    format: str = Field(min_length=1, description="Jinja over the probe's result fields")
    threshold: str = Field(default="", description="what it is compared with, e.g. alert at 10 %")


class DisplayDoc(_Strict):
    """How the rule's findings read in Slack and the console."""

    facts: list[FactDoc] = Field(default_factory=list)
    buttons: dict[str, str] = Field(
        default_factory=dict, description="action name → its button's text (max 40 characters)"
    )
    runbook_url: str = ""
    checklist: list[str] = Field(
        default_factory=list,
        description="the runbook's diagnosis steps (templated), shown when nothing matches",
    )


class RuleDoc(_Strict):
    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    runbook: str = ""
    severity: str = Field(default="", description="P1 (most urgent) to P4; empty: none")
    match: MatchDoc
    probes: dict[str, dict[str, Any]] = Field(default_factory=dict)
    diagnosis: list[ScenarioDoc] = Field(default_factory=list)
    actions: dict[str, dict[str, Any]] = Field(default_factory=dict)
    validation: list[ValidationDoc] = Field(default_factory=list)
    display: DisplayDoc = Field(default_factory=DisplayDoc)
    # the runbook's Prevention items: the resolved message carries them as a checklist
    prevention: list[str] = Field(default_factory=list)

    @field_validator("severity")
    @classmethod
    def _severity(cls, value: str) -> str:
        if value and value not in SEVERITIES:
            raise ValueError(f"{value!r} is not a severity: use P1 (most urgent), P2, P3 or P4")
        return value


@dataclass(frozen=True)
class ProbeCall:
    name: str
    type: str
    params: dict[str, Any]
    timeout: float | None = None


@dataclass(frozen=True)
class ActionCall:
    name: str
    type: str
    params: dict[str, Any]
    options: ActionOptions
    destructive: bool = False


@dataclass(frozen=True)
class Scenario:
    name: str
    when: Condition
    summary: str
    actions: tuple[str, ...]
    steps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Validation:
    expr: str
    holds: Condition
    for_seconds: float
    within_seconds: float


@dataclass(frozen=True)
class Rule:
    name: str
    source: str
    runbook: str
    severity: str
    alertnames: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    probes: tuple[ProbeCall, ...]
    scenarios: tuple[Scenario, ...]
    actions: dict[str, ActionCall] = field(default_factory=dict)
    validation: tuple[Validation, ...] = ()
    display: DisplayDoc = field(default_factory=DisplayDoc)
    prevention: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        if self.alertnames and labels.get("alertname", "") not in self.alertnames:
            return False
        return matches_all(list(self.matchers), labels)
