"""The message each runbook's main scenario produces, pinned as Block Kit JSON
(reviewed by eye once; ``HONUA_UPDATE_GOLDEN=1`` rewrites them after a change
you meant), and a screenshot-free check that no message of any recorded case
dumps raw ``key=value`` results into its text."""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pytest

from bot.cli.cases import Case
from bot.rules import RuleSet
from tests.fakes.slack_api import _check_blocks
from tests.message_support import CASES, REPO, case_named, message_for, ruleset

GOLDEN = REPO / "tests" / "golden"
MAIN = [
    (1, "llm-rate-limit"),
    (2, "stuck"),
    (3, "crashloop"),
    (3, "probes-failed"),  # nothing matches: evidence, what was not checked, the checklist
    (4, "primary-rate-limited"),
    (5, "runaway-process"),
    (6, "total-loss"),
    (7, "crashloop"),
    (8, "pool-exhausted"),
]
# `key=value` as the old probe result dump printed it; links and code are left out
RAW = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*=[^\s=]")
CODE_OR_LINK = re.compile(r"```.*?```|`[^`]*`|<[^>]*>", re.S)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return ruleset()


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn text but the manual steps (commands the rule's author wrote)."""
    out: list[str] = []
    for block in blocks:
        if block.get("block_id") == "honua-steps":
            continue
        if isinstance(block.get("text"), dict):
            out.append(block["text"]["text"])
        out += [f["text"] for f in block.get("fields") or []]
        out += [e["text"] for e in block.get("elements") or [] if e.get("type") == "mrkdwn"]
    return out


@pytest.mark.parametrize(("runbook", "name"), MAIN, ids=[f"runbook{r}-{n}" for r, n in MAIN])
def test_main_scenario_message_matches_its_golden_json(
    rules: RuleSet, runbook: int, name: str
) -> None:
    message = message_for(rules, case_named(runbook, name))
    assert _check_blocks(message.blocks) == ""
    path = GOLDEN / f"runbook{runbook}-{name}.json"
    got = {"text": message.text, "blocks": message.blocks}
    if os.environ.get("HONUA_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8")), f"{path} differs"


@pytest.mark.parametrize(("runbook", "name"), MAIN, ids=[f"runbook{r}-{n}" for r, n in MAIN])
def test_main_scenario_message_has_headline_facts_why_and_labelled_buttons(
    rules: RuleSet, runbook: int, name: str
) -> None:
    message = message_for(rules, case_named(runbook, name))
    ids = [b.get("block_id") for b in message.blocks]
    assert ids[:3] == ["honua-header", "honua-summary", "honua-about"]
    unclassified = name == "probes-failed"
    assert ("honua-facts-0" in ids) != unclassified  # no probe answered there
    assert ("honua-why" in ids) != unclassified
    if unclassified:
        assert {"honua-failed", "honua-checklist"} <= set(ids)
    buttons = [e for b in message.blocks if b["type"] == "actions" for e in b["elements"]]
    for button in buttons:
        name_of = button["action_id"].removeprefix("honua:action:")
        if button["action_id"].startswith("honua:action:"):
            assert button["text"]["text"] != name_of and " " in button["text"]["text"], button


@pytest.mark.parametrize("case", CASES, ids=[f"{c.manifest.parent.name}/{c.name}" for c in CASES])
def test_no_text_block_holds_a_raw_key_value_dump(rules: RuleSet, case: Case) -> None:
    message = message_for(rules, case)
    for text in _texts(message.blocks):
        bare = CODE_OR_LINK.sub("", text)
        assert not RAW.search(bare), f"{case.probe_results}: raw result in {text!r}"


def test_the_raw_dump_check_catches_what_the_old_message_showed() -> None:
    old = "*failure_rate* · _prometheus.query_\nvalue=14.01\nempty=false\nseries: 1"
    assert RAW.search(CODE_OR_LINK.sub("", old))
    assert RAW.search("ping_ms=18.55 used_memory=1457120")
    assert not RAW.search(CODE_OR_LINK.sub("", "Failure rate 14.0 % (alert at 10 %) `a=b`"))
