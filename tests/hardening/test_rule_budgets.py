"""Item 8: rule code has a budget; templates cannot mutate; PromQL is escaped.
Plus the rule-file property: loading any file either works or names why."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bot.app import load_builtins
from bot.registry import actions, probes
from bot.rules import RuleLoadError, load_rules, templates
from bot.rules.cel import Condition, ConditionError
from tests.hardening.strategies import rule_documents
from tests.helpers import REPO


def test_templates_cannot_mutate_what_they_are_given() -> None:
    labels = {"job": "api", "x": "1"}
    out = templates.render(
        "{{ labels.pop('x') }}{{ labels.update({'job': 'evil'}) }}", {"labels": labels}
    )
    assert labels == {"job": "api", "x": "1"}
    assert "template error" in out


def test_template_output_is_capped() -> None:
    out = templates.render("{% for i in range(90000) %}xxxxxxxxxx{% endfor %}", {})
    assert len(out) < templates.MAX_OUTPUT + 100


def test_promql_filter_keeps_a_label_inside_its_string() -> None:
    hostile = 'x"} or vector(1) or up{job="\\'
    query = templates.render('up{job="{{ labels.job | promql }}"}', {"labels": {"job": hostile}})
    assert query == 'up{job="x\\"} or vector(1) or up{job=\\"\\\\"}'


def test_nested_comprehensions_and_huge_expressions_are_refused_quickly() -> None:
    seven = "[1,2,3].all(a, " * 7 + "true" + ")" * 7
    for source in (seven, "1 " + "+ 1 " * 20000, "(" * 100 + "1" + ")" * 100):
        started = time.perf_counter()
        with pytest.raises(ConditionError):
            Condition.compile(source)
        assert time.perf_counter() - started < 0.5
    # two levels stay allowed (the bundled rules use them)
    assert Condition.compile("[1].all(a, [2].exists(b, b > a))").evaluate({}) is True


def test_rules_check_warns_on_an_unescaped_label_in_promql(tmp_path: Path) -> None:
    rule = tmp_path / "lint.yaml"
    rule.write_text(
        'name: lint\nrunbook: "r"\nseverity: P3\nmatch: {alertname: L}\nprobes:\n  q:\n'
        "    prometheus.query: {expr: 'up{job=\"{{ labels.job }}\"}'}\n"
        'diagnosis:\n  - {scenario: s, when: "true", summary: x}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rules", "check", str(rule)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode == 0
    assert "labels.job | promql" in done.stderr and "probes.q" in done.stderr
    bundled = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rules", "check", str(REPO / "rules")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert bundled.returncode == 0 and "warning" not in bundled.stderr, bundled.stderr


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=rule_documents())
def test_any_rule_file_loads_or_names_its_problem(tmp_path: Path, text: str) -> None:
    load_builtins()
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    started = time.perf_counter()
    try:
        load_rules(path, probes, actions)
    except RuleLoadError as exc:
        assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
    assert time.perf_counter() - started < 2.0
