"""Diagnosis over findings: which scenario, what summary, which actions. No I/O."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.alerts.diagnose import UNCLASSIFIED, alert_variables, classify
from bot.cli.explain import recorded_findings
from bot.config import bundled_rules_dir
from bot.models import Diagnosis, Finding
from bot.registry import actions, probes
from bot.rules import load_rules
from bot.rules.cel import Condition, ConditionError
from bot.rules.loader import compile_rule
from bot.rules.schema import Rule

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runbook1"

REDIS = {"when": 'failures.ok && failures.top.message.contains("Redis")', "scenario": "redis"}
HIGH_RATE = {"scenario": "high-rate", "when": "rate.ok && rate.value > 10"}
ANY_FAILED = {"scenario": "any-failed", "when": "failures.ok && failures.count > 0"}


def make_rule(*diagnosis: dict[str, Any]) -> Rule:
    raw = {
        "name": "rb",
        "match": {"alertname": "A"},
        "probes": {
            "failures": {"processes.list": {"status": "Failed", "group_by": "errorMessage"}},
            "rate": {"prometheus.query": {"expr": "up"}},
        },
        "diagnosis": list(diagnosis),
        "actions": {
            "restart-redis": {"kubernetes.delete_pod": {"name": "redis-0"}},
            "restart-app": {
                "kubernetes.rollout_restart": {"deployment": "app"},
                "mode": "auto",
                "description": "Restart the app",
            },
            "silence": {"alertmanager.silence": {"duration": "2h"}, "confirm": True},
        },
    }
    rule, errors = compile_rule(raw, "test.yaml", probes, actions)
    assert errors == [], errors
    assert rule is not None
    return rule


def failures(message: str = "", count: int = 0, ok: bool = True) -> Finding:
    if not ok:
        return Finding(probe="failures", type="processes.list", ok=False, error="API down")
    top = {"key": message, "message": message, "count": count}
    data = {"count": count, "groups": [top] if count else [], "top": top}
    return Finding(probe="failures", type="processes.list", ok=True, data=data)


def rate(value: float | None = None, ok: bool = True) -> Finding:
    if not ok:
        return Finding(probe="rate", type="prometheus.query", ok=False, error="timed out after 5 s")
    data = {"value": value, "empty": value is None, "series": []}
    return Finding(probe="rate", type="prometheus.query", ok=True, data=data)


def diagnose(rule: Rule, *found: Finding, labels: dict[str, str] | None = None) -> Diagnosis:
    return classify(rule, {f.probe: f for f in found}, alert_variables(labels or {}, {}), actions)


@pytest.mark.parametrize(
    ("order", "found", "scenario"),
    [
        (
            (REDIS, HIGH_RATE, ANY_FAILED),
            (failures("Redis connection failed", 3), rate(50)),
            "redis",
        ),
        (
            (ANY_FAILED, REDIS, HIGH_RATE),
            (failures("Redis connection failed", 3), rate(50)),
            "any-failed",
        ),
        ((REDIS, HIGH_RATE, ANY_FAILED), (failures("429", 3), rate(50)), "high-rate"),
        ((REDIS, HIGH_RATE, ANY_FAILED), (failures("429", 3), rate(5)), "any-failed"),
        ((REDIS, HIGH_RATE, ANY_FAILED), (failures("429", 3), rate(ok=False)), "any-failed"),
        ((REDIS, HIGH_RATE, ANY_FAILED), (failures(ok=False), rate(11.5)), "high-rate"),
        ((REDIS, HIGH_RATE, ANY_FAILED), (failures(), rate(1)), UNCLASSIFIED),
    ],
)
def test_first_matching_scenario_wins(
    order: tuple[dict[str, Any], ...], found: tuple[Finding, ...], scenario: str
) -> None:
    assert diagnose(make_rule(*order), *found).scenario == scenario


def test_unclassified_keeps_findings_and_names_failed_probes() -> None:
    found = (failures(ok=False), rate(ok=False))
    d = diagnose(make_rule(REDIS, HIGH_RATE, ANY_FAILED), *found)
    assert d.scenario == UNCLASSIFIED
    assert d.rule == "rb"
    assert d.findings == {f.probe: f for f in found}
    assert d.summary.endswith("probes that failed: failures, rate")
    assert [f.probe for f in d.failed_probes] == ["failures", "rate"]
    assert d.actions == []
    assert d.notes == []  # `x.ok && ...` short-circuits: no error, just false


def test_unclassified_without_failed_probes_says_only_no_match() -> None:
    d = diagnose(make_rule(REDIS), failures("other", 1), rate(1))
    assert d.summary == "no scenario of the runbook matched the findings"


def test_no_rule() -> None:
    d = classify(None, {}, alert_variables({}, {}), actions)
    assert (d.rule, d.scenario, d.summary) == (None, UNCLASSIFIED, "no rule matches this alert")


@pytest.mark.parametrize(
    ("when", "note"),
    [
        ('failures.top.message.contains("x")', "no such field 'top'"),
        ("failures.count", "expected a boolean, got int 2"),
        ("nosuchprobe.ok", "nosuchprobe"),
    ],
)
def test_condition_that_cannot_be_evaluated_is_skipped_with_a_note(when: str, note: str) -> None:
    rule = make_rule({"scenario": "broken", "when": when}, HIGH_RATE)
    found = (failures(ok=False) if "top" in when else failures("x", 2), rate(20))
    d = diagnose(rule, *found)
    assert d.scenario == "high-rate"
    assert len(d.notes) == 1
    assert d.notes[0].startswith("scenario broken: condition not evaluated:")
    assert note in d.notes[0]


def test_notes_survive_into_unclassified() -> None:
    d = diagnose(make_rule({"scenario": "broken", "when": "rate.value"}), failures(), rate(1))
    assert d.scenario == UNCLASSIFIED
    assert d.notes == ["scenario broken: condition not evaluated: expected a boolean, got int 1"]


def test_alert_labels_are_visible_to_conditions() -> None:
    rule = make_rule({"scenario": "prod", "when": 'labels.env == "prod"'}, ANY_FAILED)
    assert diagnose(rule, failures("x", 1), rate(1), labels={"env": "prod"}).scenario == "prod"
    assert diagnose(rule, failures("x", 1), rate(1), labels={"env": "dev"}).scenario == "any-failed"


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("{{ failures.top.count }} x {{ failures.top.message }}", "3 x Redis down"),
        ("rate {{ rate.value | round(1) }} %", "rate 12.3 %"),
        ("plain text", "plain text"),
        ("missing: [{{ nosuch.field.deeper }}]", "missing: []"),
        ("error: [{{ failures.error }}]", "error: []"),
    ],
)
def test_summary_renders_probe_values(summary: str, expected: str) -> None:
    rule = make_rule({"scenario": "s", "when": "true", "summary": summary})
    assert diagnose(rule, failures("Redis down", 3), rate(12.34)).summary == expected


def test_summary_over_a_failed_probe_does_not_sink_the_diagnosis() -> None:
    rule = make_rule({"scenario": "s", "when": "true", "summary": "{{ rate.value | round(1) }}"})
    d = diagnose(rule, failures(), rate(ok=False))
    assert d.scenario == "s"
    assert "(template error" in d.summary


@pytest.mark.parametrize(
    "summary",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ failures.__class__.__subclasses__() }}",
        "{{ failures.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ failures.top.__class__.__base__.__subclasses__()[0] }}",
    ],
)
def test_summary_template_cannot_escape_the_sandbox(summary: str) -> None:
    rule = make_rule({"scenario": "s", "when": "true", "summary": summary})
    rendered = diagnose(rule, failures("x", 1), rate(1)).summary
    assert rendered == "" or "(template error" in rendered, rendered
    assert "<class" not in rendered.replace(summary, ""), rendered


def test_proposed_actions_carry_mode_confirm_destructive_and_description() -> None:
    rule = make_rule({**REDIS, "actions": ["restart-redis", "restart-app", "silence"]})
    d = diagnose(rule, failures("Redis connection failed", 3), rate(1))
    got = {a.name: (a.type, a.mode, a.confirm, a.destructive, a.description) for a in d.actions}
    assert got == {
        # delete_pod is registered destructive: confirm is forced even though the rule omits it
        "restart-redis": (
            "kubernetes.delete_pod",
            "manual",
            True,
            True,
            "delete pod honua-process-framework/redis-0, wait up to 120s for Ready",
        ),
        "restart-app": ("kubernetes.rollout_restart", "auto", False, False, "Restart the app"),
        "silence": ("alertmanager.silence", "manual", True, False, "silence this alert for 2h"),
    }
    assert [a.name for a in d.actions] == ["restart-redis", "restart-app", "silence"]
    assert d.actions[0].params == {"name": "redis-0"}


@pytest.mark.parametrize(
    ("expr", "variables", "expected"),
    [
        ("x > 5", {"x": 6}, True),
        ("x > 5", {"x": 5.5}, True),
        ("x > 5", {"x": 4.5}, False),
        ("x > 5.0", {"x": 6}, True),
        ("x == 5", {"x": 5.0}, True),
        ("x == 5.0", {"x": 5}, True),
        ("x < 5.0", {"x": 5}, False),
        ("xs.exists(g, g.count > 3)", {"xs": [{"count": 1}, {"count": 4}]}, True),
        ("xs.exists(g, g.count > 3)", {"xs": [{"count": 1}]}, False),
        ("xs.exists(g, g.count > 3)", {"xs": []}, False),
        ('xs.exists(g, g.message.contains("429"))', {"xs": [{"message": "HTTP 429"}]}, True),
        ("xs.all(v, v > 0)", {"xs": [1, 2.5]}, True),
        ("size(xs) >= 2", {"xs": [1, 2]}, True),
        ("x.value != null && x.value > 0.0", {"x": {"value": None}}, False),
        ("x.ok && x.top.count > 1", {"x": {"ok": False, "error": "down"}}, False),
        ("!x.ok || x.top.count > 1", {"x": {"ok": False, "error": "down"}}, True),
    ],
)
def test_condition_evaluate(expr: str, variables: dict[str, Any], expected: bool) -> None:
    assert Condition.compile(expr).evaluate(variables) is expected


@pytest.mark.parametrize(
    ("expr", "variables", "message"),
    [
        ("x.top.count > 1", {"x": {"ok": False}}, "no such field 'top'"),
        ("x + 1", {"x": 1}, "expected a boolean, got int 2"),
        ('"a"', {}, "expected a boolean, got str 'a'"),
        ("missing > 1", {}, "missing"),
    ],
)
def test_condition_errors(expr: str, variables: dict[str, Any], message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        Condition.compile(expr).evaluate(variables)


@pytest.mark.parametrize("expr", ["x >", "(a", "a &&& b", ""])
def test_condition_compile_errors(expr: str) -> None:
    with pytest.raises(ConditionError):
        Condition.compile(expr)


@pytest.fixture(scope="module")
def runbook1() -> Rule:
    rule = load_rules(bundled_rules_dir(), probes, actions).get("high-process-failure-rate")
    assert rule is not None
    return rule


def replay(rule: Rule, recorded: dict[str, Any]) -> Diagnosis:
    alert = json.loads((FIXTURES / "alert.json").read_text())["alerts"][0]
    variables = alert_variables(alert["labels"], alert["annotations"])
    return classify(rule, recorded_findings(rule, recorded), variables, actions)


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def test_runbook1_llm_rate_limit(runbook1: Rule) -> None:
    d = replay(runbook1, recorded("llm-rate-limit"))
    assert d.scenario == "llm-rate-limit"
    assert '37 failures with "429 Too Many Requests"' in d.summary
    assert "1.7/s" in d.summary
    assert d.failed_probes == [] and d.notes == []
    assert [a.name for a in d.actions] == ["halve-concurrency", "silence-1h"]


def test_runbook1_redis_connection_with_prometheus_down(runbook1: Rule) -> None:
    d = replay(runbook1, recorded("redis-connection"))
    assert d.scenario == "redis-connection"
    assert "12 of 12 failed processes" in d.summary
    assert "Redis connection failed: redis-0.redis:6379" in d.summary
    assert {f.probe: f.error for f in d.failed_probes} == {
        "failure_rate": "connection refused: prometheus 127.0.0.1:9090",
        "llm_rate_limit": "connection refused: prometheus 127.0.0.1:9090",
        "failure_history": "connection refused: prometheus 127.0.0.1:9090",
        "redis": "connection refused: redis-0.redis:6379",
    }
    assert "redis-0 Running CrashLoopBackOff, OOMKilled" in d.summary
    restart = d.actions[0]
    assert (restart.name, restart.type, restart.confirm, restart.destructive) == (
        "restart-redis",
        "kubernetes.delete_pod",
        True,
        True,
    )


def test_runbook1_with_no_results_is_unclassified_naming_every_probe(runbook1: Rule) -> None:
    d = replay(runbook1, {})
    assert d.scenario == UNCLASSIFIED
    probes = [
        "failure_rate",
        "llm_rate_limit",
        "failures",
        "pods",
        "redis_pod",
        "redis",
        "rollout",
        "failure_history",
        "redis_logs",
        "config",
    ]
    # nothing recorded reads as "not configured": listed once, as not checked, never as failed
    assert "probes that failed" not in d.summary
    assert [u.probe for u in d.unchecked] == probes
    assert set(d.findings) == set(probes)


def test_the_duration_filter_says_ages_as_people_do() -> None:
    from bot.rules import templates

    cases = {
        59: "1 minute",
        25 * 60: "25 minutes",
        3 * 3600 + 1800: "3.5 hours",
        3 * 86400: "3 days",
        "n/a": "?",
        None: "?",
    }
    for seconds, text in cases.items():
        assert templates.render("{{ s | duration }}", {"s": seconds}) == text
