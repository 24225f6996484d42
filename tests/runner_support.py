"""A remediation engine over a given store, with a test action whose effects are
counted, for tests of the gates, approvals, once-only lock, audit and recovery
(the real actions are tested against their targets in their own modules)."""

from __future__ import annotations

import asyncio
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from bot.actions.base import Action, ActionContext, ActionParams, Outcome, Plan, UndoSpec
from bot.adapters import Adapters
from bot.alerts.pipeline import Pipeline, PipelineConfig
from bot.metrics import Metrics
from bot.models import Incident
from bot.notify import Recorder
from bot.registry import Registry, probes
from bot.remediation.config import RunnerConfig
from bot.remediation.engine import ActionEngine
from bot.remediation.incident_requests import EngineRequests
from bot.remediation.requests import Actor
from bot.rules import load_rules
from bot.store.base import Store
from tests.helpers import alert

EFFECTS: dict[str, list[str]] = {}  # target → who touched it, in order


class TouchParams(ActionParams):
    target: str = Field(min_length=1)
    fail: bool = False
    hold: float = 0.0  # seconds execute takes (to overlap two requests)
    crash: bool = False  # plan raises an unexpected error (a bug in an action)


class Touch(Action[TouchParams]):
    """Touch a target (tests)."""

    def describe(self, params: TouchParams) -> str:
        return f"touch {params.target}"

    async def plan(self, params: TouchParams, ctx: ActionContext) -> Plan:
        if params.crash:
            raise KeyError("spec")
        return Plan(f"touch {params.target}", target=f"thing/{params.target}")

    async def execute(self, params: TouchParams, ctx: ActionContext, plan: Plan) -> Outcome:
        if params.hold:
            await asyncio.sleep(params.hold)  # stands in for a slow target
        EFFECTS.setdefault(params.target, []).append(ctx.actor)
        if params.fail:
            return Outcome(False, "the target refused")
        return Outcome(
            True,
            f"touched {params.target}",
            undo=UndoSpec("test.touch", {"target": f"{params.target}-undone"}, "untouch"),
        )


registry = Registry("action")
registry.register("test.touch")(Touch)

RULE = """
name: touchy
match: {alertname: Touchy}
diagnosis:
  - scenario: touch-it
    when: "true"
    actions: [touch, guarded, limited, auto-touch, broken, templated]
actions:
  touch:
    test.touch: {target: a}
    cooldown: 10m
  guarded:
    test.touch: {target: b}
    approvals: 2
    cooldown: 0s
  limited:
    test.touch: {target: c}
    max_per_hour: 1
    cooldown: 0s
  auto-touch:
    test.touch: {target: d}
    mode: auto
    cooldown: 0s
  broken:
    test.touch: {target: e, fail: true}
    cooldown: 0s
  templated:
    test.touch: {target: "{{ labels.pod }}"}
    cooldown: 0s
"""


def write_rule(directory: Path, extra: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "touchy.yaml").write_text(textwrap.dedent(RULE) + extra)
    return directory


@dataclass
class EngineKit:
    store: Store
    rules_dir: Path
    config: RunnerConfig = field(default_factory=RunnerConfig)
    owner: str = "kit"
    authorizers: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rules = load_rules(self.rules_dir, probes, registry)
        self.recorder = Recorder()
        self.pipeline = Pipeline(
            self.store,
            lambda: rules,
            probes,
            registry,
            Adapters(),
            self.recorder,
            Metrics(),
            PipelineConfig(),
            owner=self.owner,
        )
        self.engine = ActionEngine(
            self.pipeline, registry, Adapters(), self.config, self.owner, self.authorizers
        )
        self.requests = EngineRequests(self.pipeline, self.recorder, runner=self.engine)

    async def incident(self, fingerprint: str = "fp-0001", **labels: str) -> Incident:
        from bot.models import Alert

        raw = alert("Touchy", fingerprint=fingerprint, pod="pod-1", **labels)
        a = Alert.model_validate(raw)
        await self.pipeline.handle(a)
        found = await self.store.get_incident(a.incident_id)
        assert found is not None
        return found

    async def act(
        self, incident_id: str, action: str, who: str = "alice", source: str = "cli", **kw: Any
    ) -> Any:
        actor = Actor(id=who, source=source)
        return await self.requests.request_action(incident_id, action, actor, **kw)
