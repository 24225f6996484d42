"""Item 8: one rule evaluation cannot freeze the event loop for long, whatever the
probe data. The CEL binding holds the GIL while it evaluates, so the bound is on
what it is given (findings cut to HONUA_BOT_RULE_DATA_MAX_ITEMS, and the cut
named) and on what a condition may cost (N², refused past it at load); templates
count their loop steps. Speed figures: bench/rule_eval.py."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.alerts.diagnose import UNCLASSIFIED, classify
from bot.alerts.evaluation import classify_within
from bot.app import load_builtins
from bot.cli.explain import read_alerts, recorded_findings
from bot.config import Settings
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


def _range_result(series: int, samples: int) -> dict[str, Any]:
    """prometheus.range's shape (bot/probes/prometheus.py): ``series`` comes first."""
    return {
        "series": [
            {"labels": {f"l{j}": "x" for j in range(15)}, "min": 1, "max": 2, "avg": 1}
            | {"last": 2, "points": samples}
            for _ in range(series)
        ],
        "empty": False,
        "last": 42.0,
        "samples": [{"age_seconds": i, "value": 1.0} for i in range(samples)],
    }


def test_a_big_first_field_leaves_every_later_field_there_and_each_kept_item_whole(
    tmp_path: Path,
) -> None:
    load_builtins()
    value = Finding(probe="prom", type="prometheus.range", ok=True, data=_range_result(300, 73))
    bounded, cuts = sample.bound_value("prom", value.as_cel_value(), sample.Limits())
    # scalars are all there; a container over budget is there, shorter or empty
    assert bounded["empty"] is False and bounded["last"] == 42.0
    assert isinstance(bounded["samples"], list)
    kept = len(bounded["series"])
    assert 0 < kept < 300
    # each kept series has all its fields and labels: none lost half-way
    assert all(len(s) == 6 and len(s["labels"]) == 15 for s in bounded["series"])
    # and the cut says what was dropped
    assert bounded["cut"]["series"] == 300
    assert f"prom.series: 300 items, cut to {kept}" in [c.text() for c in cuts]
    if len(bounded["samples"]) < 73:
        assert bounded["cut"]["samples"] == 73
    # a condition on a later field decides, instead of failing on a missing field
    when = "prom.last > 40.0 && !prom.samples.exists(s, s.value > 5.0) && !prom.empty"
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(
        "name: r\nrunbook: r\nseverity: P3\nmatch: {alertname: R}\n"
        "probes:\n  prom: {prometheus.range: {expr: up, range: 6h, step: 5m}}\n"
        f"diagnosis:\n  - scenario: decided\n    when: '{when}'\n    summary: x\n"
    )
    rule = load_rules(rules, probes, actions).rules[0]
    diagnosis = classify(rule, {"prom": value}, {}, actions)
    assert diagnosis.scenario == "decided", diagnosis.notes


def test_a_list_item_is_kept_whole_or_dropped_whole() -> None:
    # an item is 34 values; the budget (max_items * 20 = 100) runs out inside the third
    data = {"items": [{"a": 1, "b": 2, "c": [[1, 2, 3, 4, 5]] * 5}] * 5, "after": [1]}
    bounded, cuts = sample.bound_value("p", data, sample.Limits(5))
    assert bounded["items"] == data["items"][:2]
    # what the dropped item would have taken is left for the later fields
    assert bounded["after"] == [1] and bounded["cut"] == {"items": 5}
    assert [c.text() for c in cuts] == ["p.items: 5 items, cut to 2"]


def test_the_smallest_allowed_limit_keeps_rule_01s_recorded_deployment_case() -> None:
    load_builtins()
    smallest = Settings.model_fields["rule_data_max_items"].metadata
    minimum = next(m.ge for m in smallest if hasattr(m, "ge"))
    assert minimum >= 100  # 6h at 5m steps is 73 samples: a legal setting never cuts them
    fixtures = REPO / "tests/fixtures/runbook1"
    alert = read_alerts(fixtures / "alert.json")[0]
    recorded = json.loads((fixtures / "recent-deployment.json").read_text())
    rule = next(
        r
        for r in load_rules(REPO / "rules", probes, actions).rules
        if r.name == "high-process-failure-rate"
    )
    findings = recorded_findings(rule, recorded)
    variables = {"labels": dict(alert.labels), "annotations": dict(alert.annotations)}
    diagnosis = classify(rule, findings, variables, actions, sample.Limits(minimum))
    assert diagnosis.scenario == "recent-deployment", diagnosis.notes
    assert "reached 18.2 % after it" in diagnosis.summary


def _whole(value: Any, limits: sample.Limits) -> Any:
    """``value`` cut by the length limits only (what a kept list item must equal)."""
    if isinstance(value, str):
        return value[: sample.MAX_CHARS]
    if isinstance(value, dict):
        kept = list(value.items())[: limits.max_items]
        return {k: _whole(v, limits) for k, v in kept}
    if isinstance(value, list):
        return [_whole(v, limits) for v in value[: limits.max_items]]
    return value


def _pruned(out: Any, whole: Any, path: str, cut: dict[str, int], top: bool = False) -> None:
    """``out`` is ``whole`` with lists shortened (kept items whole) and maps kept
    whole or emptied; each shortened one is named in ``cut``."""
    if isinstance(whole, dict):
        assert isinstance(out, dict)
        if out or top or not whole:
            assert list(out) == list(whole), path
            for k in whole:
                _pruned(out[k], whole[k], f"{path}.{k}" if path else str(k), cut)
        else:
            assert path in cut, path
    elif isinstance(whole, list):
        assert isinstance(out, list) and out == whole[: len(out)], path
        assert len(out) == len(whole) or path in cut, path
    else:
        assert out == whole, path


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


@dataclass(frozen=True)
class _Budget(sample.Limits):
    """Limits with any node budget, so small data runs out of it too."""

    nodes: int = 20

    @property
    def max_nodes(self) -> int:
        return self.nodes


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=probe_data, max_items=st.integers(1, 6), nodes=st.integers(1, 40))
def test_any_probe_data_is_bounded_and_classify_never_raises(
    data: Any, max_items: int, nodes: int
) -> None:
    limits = _Budget(max_items, nodes)
    value = Finding(probe="p", type="http.json_field", ok=True, data=data).as_cel_value()
    bounded, cuts = sample.bound_value("p", value, limits)
    reserved = {*sample.COMMON, sample.CUT_FIELD}  # always there, never cut
    rest = {k: v for k, v in value.items() if k not in reserved}
    out = {k: v for k, v in bounded.items() if k not in reserved}
    count, within = _shape(out, limits)
    assert within
    # the probe's own fields (at most max_items) are outside the budget
    assert count <= 1 + limits.max_items + limits.max_nodes
    assert set(bounded[sample.CUT_FIELD]) == {c.path for c in cuts}
    _pruned(out, _whole(rest, limits), "", bounded[sample.CUT_FIELD], top=True)
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
