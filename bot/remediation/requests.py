"""What people ask of an incident — from a Slack button, the slash command or the
CLI — goes through this one entry point, so every channel gets the same checks,
gates and audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.metrics import Metrics
    from bot.models import Incident, Notifier, ProposedAction
    from bot.rules import RuleSet
    from bot.store import Store


class Verdict(StrEnum):
    ACCEPTED = "accepted"  # will run (or is running); progress is notified
    DONE = "done"  # finished synchronously (acknowledge, silence)
    NEEDS_APPROVAL = "needs_approval"  # recorded; more approvers required
    REFUSED = "refused"  # a gate, the authorization or staleness said no
    DUPLICATE = "duplicate"  # the same request is already running or ran


@dataclass(frozen=True)
class Actor:
    """Who asked: a Slack user, a CLI user or the bot itself (auto mode)."""

    id: str
    name: str = ""
    source: str = "cli"  # slack | cli | auto
    groups: tuple[str, ...] = ()
    channel: str = ""  # a Slack channel id
    channel_name: str = ""


def actor_ref(actor: Actor) -> str:
    """How incidents and the audit record who did something: ``slack:U123``,
    ``cli:alice``, ``auto``."""
    return "auto" if actor.source == "auto" else f"{actor.source}:{actor.id}"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    message: str
    gate: str = ""  # the gate that refused, when refused
    details: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.verdict in (Verdict.ACCEPTED, Verdict.DONE, Verdict.NEEDS_APPROVAL)


class IncidentRequests(Protocol):
    async def request_action(
        self, incident_id: str, action: str, actor: Actor, nonce: str = "", dry_run: bool = False
    ) -> Decision: ...
    async def acknowledge(self, incident_id: str, actor: Actor) -> Decision: ...
    async def rerun_diagnosis(self, incident_id: str, actor: Actor) -> Decision: ...
    async def silence(self, incident_id: str, seconds: float, actor: Actor) -> Decision: ...


class ActionRunner(Protocol):
    """The remediation engine's door (gates, approvals, once-only lock, execute,
    verify, audit). ``request_action`` calls it only for an action that passed the
    staleness checks: the incident is open, its diagnosis proposes the action and
    its rule still defines it."""

    async def run(
        self,
        incident: Incident,
        action: ProposedAction,
        actor: Actor,
        nonce: str = "",
        dry_run: bool = False,
    ) -> Decision: ...


class IncidentChanger(Protocol):
    async def change_incident(
        self, incident_id: str, change: Callable[[Incident], bool], wait: float = 10.0
    ) -> Incident | None:
        """Apply ``change`` under the incident's lease; save it when it returns True."""
        ...


class Incidents(IncidentChanger, Protocol):
    """What the remediation engine needs of the alert side (the pipeline has it):
    the store, the current rules, the notifier, the metrics, and changes under the
    incident's lease."""

    @property
    def store(self) -> Store: ...
    @property
    def notifier(self) -> Notifier: ...
    @property
    def rules(self) -> Callable[[], RuleSet]: ...
    @property
    def metrics(self) -> Metrics: ...
