"""Buttons say what they will change: after the diagnosis, each manual action's
dry-run plan fills its ``change``, without running anything; an action that
cannot plan keeps its description."""

from __future__ import annotations

from pathlib import Path

from bot.store.memory import MemoryStore
from tests.runner_support import EFFECTS, EngineKit, write_rule


async def test_manual_actions_carry_their_dry_run_plan_and_nothing_ran(tmp_path: Path) -> None:
    EFFECTS.clear()
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules"))
    incident = await k.incident()
    assert incident.diagnosis is not None
    change = {a.name: a.change for a in incident.diagnosis.actions}
    assert change["touch"] == "touch a"
    assert change["templated"] == "touch pod-1"  # templated over the alert, as it would run
    assert change["auto-touch"] == ""  # auto actions are not buttons
    assert EFFECTS == {}  # a preview never executes


async def test_an_action_that_cannot_plan_keeps_its_description(tmp_path: Path) -> None:
    extra = "  crashing:\n    test.touch: {target: z, crash: true}\n    cooldown: 0s\n"
    rules = write_rule(tmp_path / "rules", "")
    text = (
        (rules / "touchy.yaml")
        .read_text()
        .replace("actions: [touch,", "actions: [crashing, touch,")
    )
    (rules / "touchy.yaml").write_text(text + extra)
    k = EngineKit(MemoryStore(), rules)
    incident = await k.incident()
    assert incident.diagnosis is not None
    crashing = next(a for a in incident.diagnosis.actions if a.name == "crashing")
    assert crashing.change == "" and crashing.description == "touch z"
