"""The message each runbook's main scenario produces, pinned as Block Kit JSON
(reviewed by eye once; ``HONUA_UPDATE_GOLDEN=1`` rewrites them after a change
you meant), and a screenshot-free check that no message of any recorded case
dumps raw ``key=value`` results into its text."""

from __future__ import annotations

import html
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cli.cases import Case
from bot.cli.explain import read_alerts
from bot.models import IncidentStatus
from bot.notify.slack.render import button_specs, lifecycle, render_incident
from bot.rules import RuleSet
from tests.fakes.slack_api import _check_blocks
from tests.message_support import (
    CASES,
    REPO,
    RUNBOOK_BASE,
    case_named,
    diagnose_case,
    message_for,
    ruleset,
)

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


def _resolved_message(rules: RuleSet, runbook: int, name: str) -> dict[str, Any]:
    incident, _ = diagnose_case(rules, case_named(runbook, name))
    incident.status = IncidentStatus.RESOLVED
    incident.ends_at = datetime(2026, 11, 29, 3, 40, tzinfo=UTC)
    lc = lifecycle(incident)
    refs = {s.key: f"ref-{i:02d}-pinned" for i, s in enumerate(button_specs(incident, lc))}
    message = render_incident(incident, lc, refs, runbook_base=RUNBOOK_BASE)
    assert _check_blocks(message.blocks) == ""
    return {"text": message.text, "blocks": message.blocks}


def test_resolved_message_carries_the_runbooks_prevention_as_a_checklist(
    rules: RuleSet,
) -> None:
    got = _resolved_message(rules, 2, "stuck")
    path = GOLDEN / "runbook2-stuck-resolved.json"
    if os.environ.get("HONUA_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(path.read_text(encoding="utf-8")), f"{path} differs"
    [block] = [b for b in got["blocks"] if b.get("block_id") == "honua-prevention"]
    lines = block["text"]["text"].splitlines()
    assert "Prevention" in lines[0]
    # the runbook's five items for Runbook 2, each a box to tick, in the runbook's order
    assert lines[1:] == [
        "☐ Tune Timeouts: Set realistic timeouts based on P95 duration",
        "☐ Progress Reporting: Ensure all steps report progress regularly",
        "☐ LLM Streaming: Use streaming for long LLM responses",
        "☐ Step Checkpointing: Break long operations into smaller steps",
        "☐ Monitoring: Alert on processes approaching timeout threshold",
    ]


@pytest.mark.parametrize(("runbook", "name"), MAIN, ids=[f"runbook{r}-{n}" for r, n in MAIN])
def test_prevention_shows_once_resolved_and_not_before(
    rules: RuleSet, runbook: int, name: str
) -> None:
    open_ids = [b.get("block_id") for b in message_for(rules, case_named(runbook, name)).blocks]
    assert "honua-prevention" not in open_ids  # while it burns, the checklist is noise
    resolved = _resolved_message(rules, runbook, name)
    [block] = [b for b in resolved["blocks"] if b.get("block_id") == "honua-prevention"]
    rule = rules.match(read_alerts(case_named(runbook, name).alert)[0].labels)
    assert rule is not None and rule.prevention
    for item in rule.prevention:
        assert f"☐ {item}" in html.unescape(block["text"]["text"])  # Slack's &lt; &gt; &amp;
