"""The remediation path as one list of stages: every channel passes the same
authorization stage, a refusal is audited once, and the list reads like the
runbook discipline."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import Incident, Milestone
from bot.remediation.requests import Actor, Verdict
from bot.rules.schema import Rule
from bot.store import MemoryStore
from tests.runner_support import EFFECTS, EngineKit, write_rule


@pytest.fixture(autouse=True)
def _clean_effects() -> None:
    EFFECTS.clear()


class OnlyAlice:
    """A channel's authorizer (as Slack's is): only U0ALICE may run actions."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, str]] = []

    async def authorize(self, actor: Actor, rule: Rule | None, action: str) -> str:
        self.asked.append((actor.id, rule.name if rule else "", action))
        return "" if actor.id == "U0ALICE" else "only <@U0ALICE> may do this"


async def test_a_slack_actor_is_authorized_by_the_engine_itself(tmp_path: Path) -> None:
    """Whatever door a Slack request comes through, the path refuses whom Slack's
    policy refuses: nothing runs and the audit says so once."""
    slack = OnlyAlice()
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules"), authorizers={"slack": slack})
    incident = await k.incident()
    eve = Actor(id="U0EVE", source="slack")
    refused = await k.requests.request_action(incident.id, "touch", eve, nonce="n-1")
    assert (refused.verdict, refused.gate) == (Verdict.REFUSED, "authorization")
    assert refused.message == "not authorized: only <@U0ALICE> may do this"
    assert EFFECTS == {}
    audit = await k.engine.audit.read("1h", incident=incident.id)
    assert [(e.event, e.gate, e.actor, e.action) for e in audit if e.actor] == [
        ("requested", "", "slack:U0EVE", "touch"),
        ("refused", "authorization", "slack:U0EVE", "touch"),
    ]
    # the refused click did not use up the button: Alice's press of it runs
    alice = Actor(id="U0ALICE", source="slack")
    done = await k.requests.request_action(incident.id, "touch", alice, nonce="n-1")
    assert done.verdict is Verdict.DONE, done
    assert EFFECTS == {"a": ["slack:U0ALICE"]}
    assert slack.asked == [("U0EVE", "touchy", "touch"), ("U0ALICE", "touchy", "touch")]


async def test_a_channel_without_an_authorizer_passes_the_stage(tmp_path: Path) -> None:
    slack = OnlyAlice()
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules"), authorizers={"slack": slack})
    incident = await k.incident()
    assert (await k.act(incident.id, "touch", who="bob")).verdict is Verdict.DONE
    assert slack.asked == [] and EFFECTS == {"a": ["cli:bob"]}


def test_the_path_reads_like_the_runbook_discipline(tmp_path: Path) -> None:
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules"))
    assert [type(stage).__name__ for stage in k.engine.path] == [
        "Authorize",
        "Params",
        "KillSwitch",
        "Approvals",
        "OnceOnly",
        "PlanIt",
        "Unchanged",
        "DryRun",
        "TargetGates",
        "Shadow",
        "Execute",
        "OfferUndo",
        "Verify",
    ]


async def test_what_the_alert_path_did_is_a_typed_set_of_milestones(tmp_path: Path) -> None:
    k = EngineKit(MemoryStore(), write_rule(tmp_path / "rules"))
    incident = await k.incident()
    assert incident.notified == [Milestone.DIAGNOSED, Milestone.AUTO_STARTED]
    # what older versions stored (plain strings) still reads, typed
    raw = incident.model_dump(mode="json")
    assert raw["notified"] == ["diagnosed", "auto-started"]
    again = Incident.model_validate(raw)
    assert again.reached(Milestone.AUTO_STARTED) and not again.reached(Milestone.RESOLVED)
    again.mark(Milestone.DIAGNOSED)
    assert again.notified == [Milestone.DIAGNOSED, Milestone.AUTO_STARTED]
