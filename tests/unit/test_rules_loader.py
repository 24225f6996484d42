"""Loading rule files: every mistake is reported at once, naming file, rule and field."""

from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.config import bundled_rules_dir
from bot.models import WebhookMessage
from bot.registry import actions, probes
from bot.rules import RuleLoadError, RuleSet, load_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runbook1"

VALID = """\
name: redis-down
runbook: "Runbook 3"
severity: P1
match:
  alertname: [RedisConnectionFailure, RedisDown]
  labels: ['namespace="honua"']
probes:
  failures: {processes.list: {status: Failed, group_by: errorMessage}, timeout: 2s}
  rate: {prometheus.query: {expr: "up"}}
diagnosis:
  - scenario: redis-down
    when: 'failures.ok && failures.top.message.contains("Redis")'
    summary: "{{ failures.top.count }} failures"
    actions: [restart-redis]
actions:
  restart-redis:
    kubernetes.delete_pod: {name: redis-0}
    cooldown: 30m
validation:
  - expr: up
    holds: "value == 1.0"
    for: 1m
"""


def load(tmp_path: Path, **files: str) -> RuleSet:
    for name, text in files.items():
        (tmp_path / name).write_text(dedent(text), encoding="utf-8")
    return load_rules(tmp_path, probes, actions)


def load_errors(tmp_path: Path, **files: str) -> list[str]:
    with pytest.raises(RuleLoadError) as info:
        load(tmp_path, **files)
    assert str(info.value) == "\n".join(info.value.errors)
    return info.value.errors


def one_error(tmp_path: Path, text: str) -> str:
    errors = load_errors(tmp_path, **{"r.yaml": text})
    assert len(errors) == 1, errors
    return errors[0]


def rule_with(extra: str, match: str = "match: {alertname: A}") -> str:
    return f"name: bad\n{match}\n{dedent(extra)}"


def test_valid_rule_loads(tmp_path: Path) -> None:
    ruleset = load(tmp_path, **{"r.yaml": VALID})
    (rule,) = ruleset.rules
    assert rule.name == "redis-down"
    assert rule.source == str(tmp_path / "r.yaml")
    assert rule.alertnames == ("RedisConnectionFailure", "RedisDown")
    assert [str(m) for m in rule.matchers] == ['namespace="honua"']
    assert [(p.name, p.type, p.timeout) for p in rule.probes] == [
        ("failures", "processes.list", 2.0),
        ("rate", "prometheus.query", None),
    ]
    assert [s.name for s in rule.scenarios] == ["redis-down"]
    restart = rule.actions["restart-redis"]
    assert (restart.type, restart.destructive, restart.options.cooldown) == (
        "kubernetes.delete_pod",
        True,
        1800.0,
    )
    assert rule.validation[0].for_seconds == 60.0
    assert ruleset.match({"alertname": "RedisDown", "namespace": "honua"}) is rule
    assert ruleset.match({"alertname": "RedisDown", "namespace": "other"}) is None
    assert ruleset.get("redis-down") is rule


ERROR_CASES = [
    pytest.param(
        "probes:\n  q: {prometheus.nope: {expr: up}}\n",
        [
            "rule bad: probes.q: unknown probe 'prometheus.nope'",
            "did you mean ",
            "prometheus.query",
        ],
        id="unknown-probe-type",
    ),
    pytest.param(
        "actions:\n  a: {kubernetes.frobnicate: {}}\n",
        ["rule bad: actions.a: unknown action 'kubernetes.frobnicate'", "`honua-bot list actions`"],
        id="unknown-action-type",
    ),
    pytest.param(
        "probes:\n  q: {prometheus.query: {}}\n",
        ["rule bad: probes.q.prometheus.query.expr: Field required"],
        id="probe-param-missing",
    ),
    pytest.param(
        "probes:\n  q: {processes.list: {statuz: Failed}}\n",
        ["rule bad: probes.q.processes.list.statuz: unknown key 'statuz' (did you mean status?)"],
        id="probe-param-misspelt",
    ),
    pytest.param(
        "actions:\n  a: {kubernetes.delete_pod: {namespace: x}}\n",
        ["rule bad: actions.a.kubernetes.delete_pod.name: Field required"],
        id="action-param-missing",
    ),
    pytest.param(
        "actions:\n  a: {alertmanager.silence: {duration: forever}}\n",
        ["rule bad: actions.a.alertmanager.silence.duration:", "bad duration 'forever'"],
        id="action-param-bad-duration",
    ),
    pytest.param(
        "actions:\n  a: {alertmanager.silence: {}, mode: sometimes}\n",
        ["rule bad: actions.a.mode: Input should be 'manual', 'auto' or 'shadow'"],
        id="action-option-bad",
    ),
    pytest.param(
        "actions:\n  a: {alertmanager.silence: {}, cooldown: soonish}\n",
        ["rule bad: actions.a.cooldown:", "bad duration 'soonish'"],
        id="action-bad-cooldown",
    ),
    pytest.param(
        "probes:\n  q: {prometheus.query: {expr: up}, timeout: 5 minutes}\n",
        ["rule bad: probes.q.timeout: bad duration '5 minutes'"],
        id="probe-bad-timeout",
    ),
    pytest.param(
        "diagnosis:\n  - {scenario: slow, when: 'q.value >'}\n",
        ["rule bad: diagnosis.0 (slow).when: bad CEL:", "q.value >"],
        id="cel-syntax",
    ),
    pytest.param(
        "diagnosis:\n  - {scenario: s, when: 'true', actions: [fix-it]}\n",
        ["rule bad: diagnosis.0 (s).actions: unknown action 'fix-it' (defined: none)"],
        id="scenario-undefined-action",
    ),
    pytest.param(
        "diagnosis:\n  - {scenario: s, when: 'true'}\n  - {scenario: s, when: 'false'}\n",
        ["rule bad: diagnosis.1 (s): duplicate scenario name 's'"],
        id="duplicate-scenario",
    ),
    pytest.param(
        "diagnosis:\n  - {scenario: s, when: 'true', summary: '{{ oops'}\n",
        ["rule bad: diagnosis.0 (s).summary: bad template:"],
        id="bad-summary-template",
    ),
    pytest.param(
        "validation:\n  - {expr: up, holds: 'value <'}\n",
        ["rule bad: validation.0.holds: bad CEL:"],
        id="validation-cel",
    ),
    pytest.param(
        "diagnoses: []\n",
        ["rule bad: diagnoses: unknown key 'diagnoses' (did you mean diagnosis?)"],
        id="misspelt-top-level-key",
    ),
    pytest.param(
        "diagnosis:\n  - {scenario: s, when: 'true', action: [x]}\n",
        ["rule bad: diagnosis.0.action: unknown key 'action' (did you mean actions?)"],
        id="misspelt-scenario-key",
    ),
    pytest.param(
        "matchh: {alertname: X}\n",
        ["rule bad: matchh: unknown key 'matchh' (did you mean match?)"],
        id="misspelt-match",
    ),
    pytest.param(
        "validation:\n  - {expr: up, hodls: 'value > 0'}\n",
        ["rule bad: validation.0.hodls: unknown key 'hodls' (did you mean holds?)"],
        id="misspelt-validation-key",
    ),
    pytest.param(
        "probes:\n  q: {prometheus.query: {expr: up}, timeuot: 2s}\n",
        ["rule bad: probes.q: unknown option 'timeuot' (did you mean timeout?)"],
        id="misspelt-probe-option",
    ),
    pytest.param(
        "actions:\n  a: {kubernetes.rollout_restart: {name: x}, mdoe: auto}\n",
        ["rule bad: actions.a: unknown option 'mdoe' (did you mean mode?)"],
        id="misspelt-action-option",
    ),
    pytest.param(
        "actions:\n  a: {kubernetes.rollout_restart: {name: x}, allowed: {usres: [U1]}}\n",
        ["rule bad: actions.a.allowed.usres: unknown key 'usres' (did you mean users?)"],
        id="misspelt-allowed-key",
    ),
    pytest.param(
        "severity: P9\n",
        ["rule bad: severity: 'P9' is not a severity: use P1 (most urgent), P2, P3 or P4"],
        id="severity-out-of-range",
    ),
    pytest.param(
        "probes:\n  Failure-Rate: {prometheus.query: {expr: up}}\n",
        ["rule bad: probes.Failure-Rate: probe names must be lower_snake_case"],
        id="probe-name-not-snake-case",
    ),
    pytest.param(
        "probes:\n  alert: {prometheus.query: {expr: up}}\n",
        ["rule bad: probes.alert: probe names must be", "'alert'"],
        id="probe-name-reserved",
    ),
]


@pytest.mark.parametrize(("extra", "expected"), ERROR_CASES)
def test_error_names_file_rule_and_field(tmp_path: Path, extra: str, expected: list[str]) -> None:
    error = one_error(tmp_path, rule_with(extra))
    assert error.startswith(f"{tmp_path / 'r.yaml'}: rule bad: "), error
    for part in expected:
        assert part in error, f"{part!r} not in {error!r}"


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ("", "rule bad: match: Field required"),
        ("match: {}", "rule bad: match: give an alertname or at least one label matcher"),
        ("match: {labels: ['env']}", "rule bad: match.labels.0: bad matcher 'env'"),
        ("match: {labels: ['env=~\"(\"']}", "rule bad: match.labels.0: bad regex in matcher"),
    ],
)
def test_match_errors(tmp_path: Path, match: str, expected: str) -> None:
    error = one_error(tmp_path, rule_with("", match=match))
    assert error.startswith(str(tmp_path / "r.yaml")), error
    assert expected in error


@pytest.mark.parametrize(
    "text",
    [
        "name: a\nname: b\nmatch: {alertname: A}\n",  # duplicate key
        "name: a\nmatch: [\n",  # unclosed flow sequence
        "name: a\n  match: {alertname: A}\n",  # bad indentation
    ],
)
def test_yaml_errors_cannot_parse(tmp_path: Path, text: str) -> None:
    error = one_error(tmp_path, text)
    assert error.startswith(f"{tmp_path / 'r.yaml'}: cannot parse:"), error


def test_every_problem_reported_at_once(tmp_path: Path) -> None:
    errors = load_errors(
        tmp_path,
        **{
            "a.yaml": rule_with(
                """\
                probes:
                  q: {prometheus.nope: {}}
                diagnosis:
                  - {scenario: s, when: 'q >'}
                """,
                match="match: {alertname: A, labels: ['bad matcher']}",
            ),
            "b.yaml": "name: other\nmatch: {alertname: B}\ndiagnoses: []\n",
            "c.yaml": VALID,
        },
    )
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert [e.split(": ", 3)[:3] for e in errors] == [
        [str(a), "rule bad", "match.labels.0"],
        [str(a), "rule bad", "probes.q"],
        [str(a), "rule bad", "diagnosis.0 (s).when"],
        [str(b), "rule other", "diagnoses"],
    ]


def test_duplicate_rule_names_across_files_name_both(tmp_path: Path) -> None:
    errors = load_errors(tmp_path, **{"01-a.yaml": VALID, "02-b.yaml": VALID})
    assert errors == [
        f"{tmp_path / '02-b.yaml'}: rule redis-down: name: duplicate of the rule in "
        f"{tmp_path / '01-a.yaml'}"
    ]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RuleLoadError, match="no such file or directory"):
        load_rules(tmp_path / "nope", probes, actions)


def test_only_yaml_files_load_and_single_file_path_works(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("not: [a rule", encoding="utf-8")
    (tmp_path / "r.yml").write_text(VALID, encoding="utf-8")
    assert [r.name for r in load_rules(tmp_path, probes, actions).rules] == ["redis-down"]
    assert len(load_rules(tmp_path / "r.yml", probes, actions).rules) == 1


def test_match_picks_first_rule_in_file_name_order(tmp_path: Path) -> None:
    ruleset = load(
        tmp_path,
        **{
            "10-catch-all.yaml": "name: aaa-catch-all\nmatch: {labels: ['alertname=~\".+\"']}\n",
            "02-specific.yaml": "name: zzz-specific\nmatch: {alertname: RedisDown}\n",
        },
    )
    assert [r.name for r in ruleset.rules] == ["zzz-specific", "aaa-catch-all"]
    assert ruleset.match({"alertname": "RedisDown"}).name == "zzz-specific"  # type: ignore[union-attr]
    assert ruleset.match({"alertname": "Other"}).name == "aaa-catch-all"  # type: ignore[union-attr]
    assert ruleset.match({}) is None


def test_bundled_rules_load_and_match_the_runbook1_alert() -> None:
    ruleset = load_rules(bundled_rules_dir(), probes, actions)  # raises on any error
    assert ruleset.rules
    message = WebhookMessage.model_validate(json.loads((FIXTURES / "alert.json").read_text()))
    rule = ruleset.match(message.alerts[0].labels)
    assert rule is not None and rule.name == "high-process-failure-rate"
