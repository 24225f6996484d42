"""Item 8: one rule evaluation cannot freeze the event loop for long, whatever the
probe data. The CEL binding holds the GIL while it evaluates, so the bound is on
what it is given (findings cut to HONUA_BOT_RULE_DATA_MAX_ITEMS, and the cut
named) and on what a condition may cost (N², refused past it at load); templates
count their loop steps. Speed figures: bench/rule_eval.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.diagnose import UNCLASSIFIED, classify
from bot.alerts.evaluation import classify_within
from bot.app import load_builtins
from bot.models import Finding
from bot.registry import actions, probes
from bot.rules import load_rules, sample, templates
from bot.rules.loader import compile_rule
from tests.hardening.strategies import json_values

REPO = Path(__file__).resolve().parents[2]
BIG = 50_000
NESTED = "pods.pods.exists(p, pods.pods.exists(q, q.restarts > 100 && p.name == q.name))"


def _rules(tmp_path: Path, when: str, summary: str = "x") -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "big.yaml").write_text(
        "name: big\nrunbook: r\nseverity: P3\nmatch: {alertname: Big}\n"
        f"diagnosis:\n  - scenario: sampled\n    when: '{when}'\n    summary: '{summary}'\n"
    )
    return rules


def _pods(n: int) -> Finding:
    pods = [{"name": f"pod-{i}", "restarts": i % 7} for i in range(n)]
    return Finding(probe="pods", type="kubernetes.pods", ok=True, data={"pods": pods, "count": n})


async def test_two_nested_comprehensions_over_50k_items_see_a_named_sample(
    tmp_path: Path,
) -> None:
    load_builtins()
    when = f"!({NESTED}) && size(pods.pods) == 300 && pods.cut.pods == {BIG} && pods.count == {BIG}"
    summary = "{{ pods.pods | length }} of {{ pods.cut.pods }} pods"
    rule = load_rules(_rules(tmp_path, when, summary), probes, actions).rules[0]
    # a budget it could not overrun on its own: the bound is the data, not the clock
    diagnosis = await classify_within(rule, {"pods": _pods(BIG)}, {}, actions, 600)
    assert diagnosis.scenario == "sampled", diagnosis.notes
    assert diagnosis.summary == f"300 of {BIG} pods"
    note = next(n for n in diagnosis.notes if "sample" in n)
    assert f"pods.pods: {BIG} items, cut to 300" in note
    assert "HONUA_BOT_RULE_DATA_MAX_ITEMS" in note
    # the stored finding is the probe's, whole (bounded later for storage, on its own terms)
    assert len(diagnosis.findings["pods"].data["pods"]) == BIG


def test_data_within_the_limit_is_handed_whole_and_says_nothing_was_cut(tmp_path: Path) -> None:
    load_builtins()
    when = "size(pods.pods) == 40 && size(pods.cut) == 0"
    rule = load_rules(_rules(tmp_path, when), probes, actions).rules[0]
    diagnosis = classify(rule, {"pods": _pods(40)}, {}, actions)
    assert diagnosis.scenario == "sampled"
    assert not any("sample" in n for n in diagnosis.notes)


def test_the_limit_is_a_setting(tmp_path: Path) -> None:
    load_builtins()
    rule = load_rules(_rules(tmp_path, "size(pods.pods) == 7"), probes, actions).rules[0]
    assert classify(rule, {"pods": _pods(100)}, {}, actions, sample.Limits(7)).scenario == "sampled"
    assert classify(rule, {"pods": _pods(100)}, {}, actions).scenario == UNCLASSIFIED


def test_rules_check_refuses_a_condition_costing_more_than_n_squared(tmp_path: Path) -> None:
    rules = _rules(tmp_path, "pods.pods.exists(p, pods.pods.map(q, q.restarts).size() > 3)")
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "rules", "check", str(rules)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode != 0
    assert "N^3" in done.stderr and "the limit is N^2" in done.stderr, done.stderr


def test_a_template_looping_twice_over_a_long_list_stops_at_its_step_limit() -> None:
    scope = {"pods": {"pods": list(range(2_000))}}
    out = templates.render(
        "{% for p in pods.pods %}{% for q in pods.pods %}{% endfor %}{% endfor %}done", scope
    )
    assert "template error" in out and f"more than {templates.MAX_STEPS} loop steps" in out
    # one pass over the same list is well within it
    assert templates.render("{% for p in pods.pods %}{% endfor %}done", scope) == "done"


def test_a_template_cannot_build_a_huge_string_before_the_output_cap() -> None:
    for source in ("{{ 'x' * 100000000 }}", "{{ 'x' | center(1000000000) }}", "{{ 9 ** 999999 }}"):
        out = templates.render(source, {})
        assert out.startswith(source) and "template error" in out, out
    # a large number is still a short string
    assert templates.render('{{ "%d" | format(n) }} {{ n | size }}', {"n": 5 * 10**9}) == (
        "5000000000 4.7 GiB"
    )


def _shape(value: Any, limits: sample.Limits) -> tuple[int, bool]:
    """(values in it, whether every list/map/string is within the limits)"""
    if isinstance(value, str):
        return 1, len(value) <= sample.MAX_CHARS
    if isinstance(value, dict):
        inner = [_shape(v, limits) for v in value.values()]
    elif isinstance(value, list):
        inner = [_shape(v, limits) for v in value]
    else:
        return 1, True
    within = len(inner) <= limits.max_items and all(ok for _, ok in inner)
    return 1 + sum(n for n, _ in inner), within


probe_data = st.recursive(
    json_values | st.text(min_size=0, max_size=3 * sample.MAX_CHARS),
    lambda inner: st.lists(inner, max_size=12) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=probe_data, max_items=st.integers(1, 6))
def test_any_probe_data_is_bounded_and_classify_never_raises(data: Any, max_items: int) -> None:
    limits = sample.Limits(max_items)
    value = Finding(probe="p", type="http.json_field", ok=True, data=data).as_cel_value()
    bounded, cuts = sample.bound_value("p", value, limits)
    reserved = {*sample.COMMON, sample.CUT_FIELD}  # always there, never cut
    count, within = _shape({k: v for k, v in bounded.items() if k not in reserved}, limits)
    assert within
    assert count <= limits.max_nodes
    assert set(bounded[sample.CUT_FIELD]) == {c.path for c in cuts}
    raw = {
        "name": "any",
        "match": {"alertname": "A"},
        "diagnosis": [
            {"scenario": "s", "when": "p.ok && size(p.cut) >= 0", "summary": "{{ p.cut }}"}
        ],
    }
    rule, errors = compile_rule(raw, "any.yaml", probes, actions)
    assert rule is not None, errors
    finding = Finding(probe="p", type="http.json_field", ok=True, data=data)
    assert classify(rule, {"p": finding}, {}, actions, limits).scenario == "s"
