"""The CLI goes through the same authorize stage as Slack: it cannot tell who runs
it, so an action restricted to named people is refused from it unless the rule
lets the CLI run it (``allowed: {cli: true}``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.remediation.cli_access import CliAuthorizer
from bot.remediation.requests import Verdict
from bot.rules.loader import RuleLoadError
from bot.store import MemoryStore
from tests.runner_support import EFFECTS, EngineKit, write_rule

ONLY_ALICE = """
  owners-only:
    test.touch: {target: o}
    cooldown: 0s
    allowed: {users: [U0ALICE]}
  owners-and-cli:
    test.touch: {target: p}
    cooldown: 0s
    allowed: {users: [U0ALICE], cli: true}
  by-role:
    test.touch: {target: q}
    cooldown: 0s
    allowed: {roles: [senior-devops]}
"""


@pytest.fixture(autouse=True)
def _clean_effects() -> None:
    EFFECTS.clear()


def kit(tmp_path: Path, cli: CliAuthorizer | None = None) -> EngineKit:
    rules = write_rule(tmp_path / "rules", ONLY_ALICE)
    text = (rules / "touchy.yaml").read_text()
    (rules / "touchy.yaml").write_text(
        text.replace(
            "auto-touch, broken,", "auto-touch, broken, owners-only, owners-and-cli, by-role,"
        )
    )
    return EngineKit(MemoryStore(), rules, authorizers={"cli": cli or CliAuthorizer()})


async def test_an_action_restricted_by_its_rule_is_refused_from_the_cli(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    refused = await k.act(incident.id, "owners-only", who="mallory")
    assert (refused.verdict, refused.gate) == (Verdict.REFUSED, "authorization")
    assert "use its Slack button" in refused.message
    assert "add `cli: true` to the action's `allowed` in rule touchy" in refused.message
    assert EFFECTS == {}
    audit = await k.engine.audit.read("1h", incident=incident.id)
    assert [(e.event, e.gate, e.action) for e in audit if e.actor] == [
        ("requested", "", "owners-only"),
        ("refused", "authorization", "owners-only"),
    ]


async def test_the_rule_can_let_the_cli_run_a_restricted_action(tmp_path: Path) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    done = await k.act(incident.id, "owners-and-cli", who="bob")
    assert done.verdict is Verdict.DONE, done
    assert EFFECTS == {"p": ["cli:bob"]}


async def test_unrestricted_actions_and_unmapped_roles_still_run_from_the_cli(
    tmp_path: Path,
) -> None:
    k = kit(tmp_path)
    incident = await k.incident()
    assert (await k.act(incident.id, "touch", who="bob")).verdict is Verdict.DONE
    # a role no HONUA_BOT_SLACK_ROLE_GROUPS entry maps restricts nothing (as in Slack)
    assert (await k.act(incident.id, "by-role", who="bob")).verdict is Verdict.DONE
    assert EFFECTS == {"a": ["cli:bob"], "q": ["cli:bob"]}


async def test_a_mapped_role_or_a_permissions_entry_restricts_the_cli(tmp_path: Path) -> None:
    k = kit(tmp_path, CliAuthorizer(["touch"], {"senior-devops": "sre-leads"}))
    incident = await k.incident()
    by_settings = await k.act(incident.id, "touch", who="bob")
    assert by_settings.gate == "authorization"
    assert "HONUA_BOT_SLACK_ACTION_PERMISSIONS for touch" in by_settings.message
    by_role = await k.act(incident.id, "by-role", who="bob")
    assert by_role.gate == "authorization" and "rule touchy's `allowed`" in by_role.message
    assert EFFECTS == {}


def test_the_rule_schema_checks_the_cli_opt_in(tmp_path: Path) -> None:
    bad = ONLY_ALICE.replace("cli: true", "cli: sometimes")
    write_rule(tmp_path / "rules", bad)
    with pytest.raises(RuleLoadError, match="cli"):
        EngineKit(MemoryStore(), tmp_path / "rules")
