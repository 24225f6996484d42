"""The shipped runbook rules as a whole: they load, every recorded fixture gives
the scenario and actions its manifest expects, every alert they match is
defined in examples/, the docs/rules.md table is the generator's output, and the
defaults keep destructive actions behind a human."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from ruamel.yaml import YAML

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.alerts.diagnose import UNCLASSIFIED
from bot.cli.cases import Case, read_manifest, run_case
from bot.cli.explain import read_alerts
from bot.registry import actions, probes
from bot.rules import RuleSet, load_rules

REPO = Path(__file__).resolve().parent.parent.parent
RULES = REPO / "rules"
FIXTURES = REPO / "tests" / "fixtures"
ALERTS = REPO / "examples" / "prometheus" / "alerts.yaml"
ALERT_TESTS = REPO / "examples" / "prometheus" / "alerts.test.yaml"
ALERTMANAGER = REPO / "examples" / "alertmanager" / "alertmanager.yml"
MANIFESTS = sorted(FIXTURES.glob("*/cases.yaml"))
CASES = [case for m in MANIFESTS for case in read_manifest(m)]
RUNBOOKS = [
    "high-process-failure-rate",
    "process-timeout",
    "redis-connection-failure",
    "llm-provider-failover",
    "emergency-process-cancellation",
    "redis-data-recovery",
    "pod-restart-recovery",
    "database-connection-failure",
]


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return load_rules(RULES, probes, actions)  # raises listing every problem


def _yaml(path: Path) -> dict:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def _alerting_rules() -> list[dict]:
    return [r for g in _yaml(ALERTS)["groups"] for r in g["rules"] if "alert" in r]


def test_all_eight_runbooks_load_in_order(ruleset: RuleSet) -> None:
    assert [r.name for r in ruleset.rules] == RUNBOOKS
    for rule in ruleset.rules:
        assert rule.runbook.startswith("Runbook "), rule.name
        assert rule.scenarios and rule.validation, rule.name


@pytest.mark.parametrize("case", CASES, ids=[f"{c.manifest.parent.name}/{c.name}" for c in CASES])
async def test_fixture_gives_the_expected_diagnosis(ruleset: RuleSet, case: Case) -> None:
    result = await run_case(ruleset, case)
    assert result.ok, "\n".join(result.problems)


def test_every_scenario_and_an_unclassified_outcome_have_a_fixture(ruleset: RuleSet) -> None:
    by_rule: dict[str, set[str]] = {}
    for case in CASES:
        assert case.rule is not None, f"{case.manifest}: name the rule at the top"
        by_rule.setdefault(case.rule, set()).add(case.doc.scenario)
    for rule in ruleset.rules:
        recorded = by_rule.get(rule.name, set())
        missing = {s.name for s in rule.scenarios} - recorded
        assert not missing, f"{rule.name}: no fixture for {sorted(missing)}"
        assert UNCLASSIFIED in recorded, f"{rule.name}: no fixture where nothing matches"


def test_every_rule_has_a_failed_probes_fixture() -> None:
    for manifest in MANIFESTS:
        names = [c.name for c in read_manifest(manifest)]
        assert "probes-failed" in names, manifest


def test_every_matched_alert_is_defined_in_the_examples(ruleset: RuleSet) -> None:
    defined = {r["alert"] for r in _alerting_rules()}
    matched = {a for rule in ruleset.rules for a in rule.alertnames}
    assert matched <= defined, f"no alerting rule for {sorted(matched - defined)}"
    assert defined <= matched, f"alerts no rule handles: {sorted(defined - matched)}"


def test_example_alerts_carry_what_the_bot_and_humans_need() -> None:
    for r in _alerting_rules():
        assert {"severity", "namespace"} <= set(r.get("labels", {})), r["alert"]
        assert {"summary", "runbook_url"} <= set(r.get("annotations", {})), r["alert"]
        assert r["annotations"]["runbook_url"].startswith("https://"), r["alert"]
        assert r.get("for"), r["alert"]


def test_fixture_alerts_match_their_rule_and_carry_the_example_labels(ruleset: RuleSet) -> None:
    static = {r["alert"]: r["labels"] for r in _alerting_rules()}
    for case in CASES:
        for alert in read_alerts(case.alert):
            rule = ruleset.match(alert.labels)
            assert rule is not None and rule.name == case.rule, case.alert
            assert alert.labels["namespace"] == static[alert.alertname]["namespace"], case.alert


def test_defaults_are_conservative(ruleset: RuleSet) -> None:
    for rule in ruleset.rules:
        types = {a.type for a in rule.actions.values()}
        assert "alertmanager.silence" in types, f"{rule.name} offers no silence"
        for action in rule.actions.values():
            if action.destructive:
                assert action.options.mode == "manual", f"{rule.name}: {action.name} is auto"
        used = {a for s in rule.scenarios for a in s.actions}
        assert used == set(rule.actions), f"{rule.name}: unused {set(rule.actions) - used}"


def _rules_table() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "rules_table", REPO / "scripts" / "rules_table.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_docs_table_is_the_generators_output(ruleset: RuleSet) -> None:
    gen = _rules_table()
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    table = gen.render_table(ruleset)
    assert gen.replace_block(doc, table) == doc, (
        "docs/rules.md's runbook table is stale: python scripts/rules_table.py --write"
    )
    for rule in ruleset.rules:
        for scenario in rule.scenarios:
            assert f"`{scenario.name}`" in table


def test_rules_table_marks_auto_actions_and_gates(ruleset: RuleSet) -> None:
    gen = _rules_table()
    rule = ruleset.get("emergency-process-cancellation")
    assert rule is not None
    text = gen.action_text(rule.actions["cancel-all-running"])
    assert text == "`cancel-all-running` (manual, confirm, 2 approvals)"
    auto = rule.actions["silence-1h"]
    options = auto.options.model_copy(update={"mode": "auto", "cooldown": 1800.0})
    assert (
        gen.action_text(type(auto)(auto.name, auto.type, auto.params, options, auto.destructive))
        == "`silence-1h` (**auto**, cooldown 30m)"
    )


def test_example_alertmanager_config_posts_to_the_bot_with_a_bearer_token() -> None:
    config = _yaml(ALERTMANAGER)
    bot = next(r for r in config["receivers"] if r["name"] == "honua-bot")
    hook = bot["webhook_configs"][0]
    assert hook["url"].endswith("/alerts")
    assert hook["send_resolved"] is True
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer" and auth["credentials_file"]
    route = next(r for r in config["route"]["routes"] if r["receiver"] == "honua-bot")
    assert route["matchers"] == ['namespace="honua-process-framework"']


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)")
    return path


@pytest.mark.parametrize(
    "argv",
    [
        ["promtool", "check", "rules", str(ALERTS)],
        ["promtool", "test", "rules", str(ALERT_TESTS)],
        ["amtool", "check-config", str(ALERTMANAGER)],
    ],
    ids=["promtool-check", "promtool-test", "amtool-check"],
)
def test_example_configs_pass_the_official_tools(argv: list[str]) -> None:
    done = subprocess.run([_tool(argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
