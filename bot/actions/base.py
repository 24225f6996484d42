"""What every remediation action is: a params model, a one-line ``describe``
(pure, shown on buttons and confirm dialogs), ``plan`` (what would change,
before → after, using the target's server-side dry run where it has one),
``execute`` and, where the change can be reversed, an ``undo`` the engine can
offer afterwards.

An action is a class registered by name::

    @actions.register("kubernetes.rollout_restart")
    class RolloutRestart(Action[RolloutTarget]):
        \"\"\"Restart a deployment's pods.\"\"\"

        def describe(self, params: RolloutTarget) -> str: ...
        async def plan(self, params: RolloutTarget, ctx: ActionContext) -> Plan: ...
        async def execute(self, params: RolloutTarget, ctx: ActionContext, plan: Plan) -> Outcome: ...

The registry reads the params model from ``describe``'s annotation. An action
refuses by raising :class:`Refused` with the gate that said no (``blast_radius``,
``paused``, ``conflict``, ``forbidden``…); a target that fails raises
:class:`~bot.adapters.errors.AdapterError`. The engine (gates, once-only lock,
audit, verification) is in ``bot/remediation/engine.py``; actions know nothing of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from bot.adapters import Adapters
    from bot.store.base import Store


class ActionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


P = TypeVar("P", bound=ActionParams)


class Refused(Exception):
    """The action will not run; ``gate`` names the check that said no."""

    def __init__(self, gate: str, message: str) -> None:
        super().__init__(message)
        self.gate = gate
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Blast-radius caps from the settings, enforced by the actions themselves."""

    max_replica_change: int = 5  # |after - before| for one scale action
    max_replicas: int = 20  # never scale above this
    max_processes: int = 50  # processes one action may cancel or retry


@dataclass
class ActionContext:
    adapters: Adapters
    incident_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    actor: str = ""  # "slack:U123", "cli:alice", "auto": recorded as who asked
    dry_run: bool = False
    limits: Limits = field(default_factory=Limits)
    store: Store | None = None  # for state an action keeps (last-known-good config)
    # deadlines an action waits for (pod Ready, process cancelled); tests shorten them
    poll_interval: float = 1.0


@dataclass(frozen=True)
class Change:
    """One field that will change (or changed): ``target`` is what a human would
    name (``deployment honua-process-framework/api``), ``field`` the path in it."""

    target: str
    field: str
    before: Any = None
    after: Any = None

    def text(self) -> str:
        return f"{self.target}: {self.field}: {self.before!r} → {self.after!r}"


@dataclass(frozen=True)
class UndoSpec:
    """The action (type + params) that reverses a change, offered after it ran."""

    type: str
    params: dict[str, Any]
    description: str = ""


@dataclass
class Plan:
    summary: str
    target: str  # the key safety gates count per target, e.g. "deployment/ns/name"
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run_checked: bool = False  # the target's own dry run accepted the change
    state: dict[str, Any] = field(default_factory=dict)  # what execute needs from plan

    def lines(self) -> list[str]:
        return [self.summary, *(c.text() for c in self.changes), *self.warnings]


@dataclass
class Outcome:
    ok: bool
    message: str
    changes: list[Change] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    undo: UndoSpec | None = None


class Action(Generic[P]):
    """Base class: override ``describe``, ``plan`` and ``execute``."""

    # params fields the engine does not template before ``plan``: the action
    # renders them itself with its own variables (e.g. ``current``)
    late_templates: frozenset[str] = frozenset()
    destructive: bool = False

    def describe(self, params: P) -> str:
        raise NotImplementedError

    async def plan(self, params: P, ctx: ActionContext) -> Plan:
        raise NotImplementedError

    async def execute(self, params: P, ctx: ActionContext, plan: Plan) -> Outcome:
        raise NotImplementedError
