"""What every stage of the remediation path shares: the :class:`Attempt` (one
request to run one action, filled in stage by stage), the :class:`Halt` a stage
returns to stop it, and the :class:`Stage` protocol."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.audit import AuditEntry
from bot.remediation.approvers import authenticated_by
from bot.remediation.requests import Actor, Decision, Verdict, actor_ref

if TYPE_CHECKING:
    from bot.actions.base import ActionContext, Outcome, Plan
    from bot.models import Incident, ProposedAction
    from bot.registry import Entry
    from bot.rules.schema import ActionOptions, Rule


@dataclass
class Attempt:
    incident: Incident
    action: ProposedAction
    actor: Actor
    nonce: str = ""
    dry_run: bool = False
    # leases taken by the stages, released when the path ends
    held: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    # filled in by the stages, in order
    rule: Rule | None = None
    options: ActionOptions | None = None
    entry: Entry | None = None
    params: Any = None
    ctx: ActionContext | None = None
    once_key: str = ""  # the button's nonce claimed by this attempt
    plan: Plan | None = None
    executed: bool = False
    run_id: str = ""
    started: AuditEntry | None = None
    outcome: Outcome | None = None

    @property
    def who(self) -> str:
        return actor_ref(self.actor)

    @property
    def auto(self) -> bool:
        return self.actor.source == "auto"

    def audit_base(self) -> AuditEntry:
        return AuditEntry(
            event="requested",
            incident=self.incident.id,
            rule=self.incident.rule or "",
            action=self.action.name,
            type=self.action.type,
            actor=self.who,
            auth=authenticated_by(self.actor),
            channel=self.actor.channel,
        )


@dataclass(frozen=True)
class Halt:
    """A stage's answer that ends the path: a refusal (audited by the loop as
    ``event``), or the final decision of a stage that audited itself (``event``
    empty)."""

    decision: Decision
    event: str = ""


def refuse(gate: str, message: str) -> Halt:
    return Halt(Decision(Verdict.REFUSED, message, gate=gate), "refused")


def duplicate(message: str) -> Halt:
    return Halt(Decision(Verdict.DUPLICATE, message), "duplicate")


class Stage(Protocol):
    async def exec(self, attempt: Attempt) -> Halt | None:
        """None: pass to the next stage."""
        ...
