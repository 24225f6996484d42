"""Findings people read: every bundled rule says how each fact is shown, the
formats only use fields their probe gives (``rules check`` rejects a typo),
every recorded case renders its facts without a template error, and the why
names the values that decided the scenario, the same in ``rules test``."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from bot.cli.cases import Case, run_case
from bot.registry import actions, probes
from bot.rules import RuleLoadError, RuleSet
from bot.rules.loader import compile_rule
from bot.rules.probe_fields import FIELDS
from tests.message_support import CASES, REPO, case_named, diagnose_case, ruleset

RULE = """
name: display-check
match: {alertname: X}
probes:
  rate: {prometheus.query: {expr: "up"}}
diagnosis:
  - {scenario: high, when: "rate.value > 1.0"}
display:
  facts:
    - {probe: rate, label: Rate, format: "{{ valeu | round(1) }} %"}
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return ruleset()


def test_rules_check_rejects_a_format_naming_a_field_the_probe_does_not_give() -> None:
    raw = YAML(typ="safe").load(RULE)
    rule, errors = compile_rule(raw, "x.yaml", probes, actions)
    assert rule is None
    assert errors == [
        "x.yaml: rule display-check: display.facts.0 (Rate).format: unknown field 'valeu' of "
        "prometheus.query (it gives by_label, configured, empty, error, ok, series, value); "
        "did you mean 'value'?"
    ]
    raw["display"]["facts"][0]["probe"] = "nope"
    _, errors = compile_rule(raw, "x.yaml", probes, actions)
    assert errors == [
        "x.yaml: rule display-check: display.facts.0 (Rate).probe: unknown probe 'nope' "
        "(defined: rate)"
    ]


def test_rules_check_rejects_a_button_label_for_an_unknown_action(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = YAML(typ="safe").load(RULE)
    raw["display"] = {"buttons": {"restart": "Restart it"}}
    _, errors = compile_rule(raw, "x.yaml", probes, actions)
    assert errors == [
        "x.yaml: rule display-check: display.buttons.restart: no such action in this rule"
    ]
    from bot.rules import load_rules

    (tmp_path / "r.yaml").write_text(RULE, encoding="utf-8")
    with pytest.raises(RuleLoadError):
        load_rules(tmp_path, probes, actions)


def test_every_bundled_rule_displays_its_findings_labels_its_buttons_and_has_a_checklist(
    rules: RuleSet,
) -> None:
    for rule in rules.rules:
        shown = {f.probe for f in rule.display.facts}
        assert shown == {p.name for p in rule.probes}, rule.name  # no raw result in the message
        assert set(rule.display.buttons) == set(rule.actions), rule.name
        assert rule.display.checklist, rule.name


def test_the_field_catalogue_covers_every_field_the_recorded_probes_give(rules: RuleSet) -> None:
    for case in CASES:
        rule = rules.get(case.rule or "")
        assert rule is not None
        recorded = json.loads(case.probe_results.read_text(encoding="utf-8"))
        types = {p.name: p.type for p in rule.probes}
        for name, data in recorded.items():
            if isinstance(data, dict) and "error" not in data:
                unknown = set(data) - FIELDS[types[name]]
                assert not unknown, f"{case.probe_results}: {name} gives {unknown}"


@pytest.mark.parametrize("case", CASES, ids=[f"{c.manifest.parent.name}/{c.name}" for c in CASES])
def test_every_recorded_case_renders_its_facts_without_a_template_error(
    rules: RuleSet, case: Case
) -> None:
    _, d = diagnose_case(rules, case)
    for fact in d.facts:
        assert "could not be shown" not in fact.text, (fact, case.probe_results)
        assert "template error" not in fact.threshold
        assert "{{" not in fact.text and "None" not in fact.text, fact
    for step in d.checklist:
        assert "template error" not in step and "{{" not in step, step
    answered = {f.probe for f in d.findings.values() if f.ok}
    assert answered <= {f.probe for f in d.facts} | _hidden_when_empty(d)


def _hidden_when_empty(d) -> set[str]:  # type: ignore[no-untyped-def]
    """Facts whose format says nothing for this result (e.g. no previous container log)."""
    return {name for name, f in d.findings.items() if f.ok and f.type == "kubernetes.logs"}


def test_runbook1_llm_rate_limit_reads_as_the_issue_asks(rules: RuleSet) -> None:
    _, d = diagnose_case(rules, case_named(1, "llm-rate-limit"))
    facts = {f.label: (f.text, f.threshold) for f in d.facts}
    assert facts["Failure rate"] == ("23.5 %", "alert at 10 %")
    assert facts["LLM 429s"] == ("1.7/s", "rate limited above 0/s")
    assert facts["Top error (last hour)"] == ('"429 Too Many Requests" \u00d7 37 of 42 failed', "")
    assert facts["Last rollout"][0] == "10 days ago (rev 9, honua/process-framework:1.4.2)"
    # the why: the clause that held with the value it read, then the earlier scenario
    assert [c.text() for c in d.why] == [
        'redis-connection: not failures.top.message.contains("Redis connection failed") '
        '(failures.top.message = "429 Too Many Requests"); redis answered',
        '(failures.top.message.contains("429") || failures.top.message.contains("Too Many '
        'Requests")) (failures.top.message = "429 Too Many Requests") → llm-rate-limit',
    ]
    assert [(a.label, a.approvals) for a in d.actions] == [
        ("Halve concurrency", 1),
        ("Silence 1 hour", 1),
    ]


async def test_rules_test_gives_the_same_why_as_the_incident(rules: RuleSet) -> None:
    case = case_named(1, "llm-rate-limit")
    _, d = diagnose_case(rules, case)
    item = (await run_case(rules, case)).item
    assert [c["text"] for c in item["why"]] == [c.text() for c in d.why]
    assert [f["text"] for f in item["facts"]] == [f.text for f in d.facts]


def test_unclassified_lists_unconfigured_probes_once_with_the_setting(rules: RuleSet) -> None:
    _, d = diagnose_case(rules, case_named(1, "probes-failed"))
    assert d.scenario == "unclassified"
    assert [(u.probe, u.setting) for u in d.unchecked] == [("redis", "HONUA_BOT_TARGET_REDIS_URL")]
    assert "redis," not in d.summary and not d.summary.endswith("redis")
    assert d.checklist[0].startswith("Confirm the failure rate: not read (connection refused")


def test_the_catalogue_names_only_registered_probe_types() -> None:
    import bot.probes  # noqa: F401

    assert set(FIELDS) <= set(probes.names())
    assert (REPO / "rules").is_dir()
