"""Item 8: rule evaluation has a clock. A diagnosis whose conditions or templates
run past HONUA_BOT_RULE_EVAL_BUDGET_SECONDS is refused with a clear reason, and
the event loop (``/healthz``) keeps answering while it runs."""

from __future__ import annotations

import time
from pathlib import Path

from bot.alerts.evaluation import classify_within
from bot.app import load_builtins
from bot.models import Event, Finding
from bot.registry import actions, probes
from bot.rules import load_rules
from tests.helpers import BotHarness, alert, notification, wait_for

# ~99,000 Jinja loop steps (tens of ms) without output: just within the template
# step limit (templates.MAX_STEPS), well over a 0.001 s budget
ITEMS = 12000  # ~1 s in the CEL binding (its time grows with the square)
SLOW_SUMMARY = "{% for i in range(320) %}{% for j in range(300) %}{% if i * j < 0 %}x{% endif %}{% endfor %}{% endfor %}done"


def _rule(tmp_path: Path, when: str, summary: str) -> Path:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slow.yaml").write_text(
        "name: slow\nrunbook: r\nseverity: P3\nmatch: {alertname: Slow}\n"
        f"diagnosis:\n  - scenario: s\n    when: '{when}'\n    summary: '{summary}'\n"
    )
    return rules


async def test_a_slow_template_is_refused_with_the_reason_and_healthz_answers_meanwhile(
    tmp_path: Path,
) -> None:
    rules = _rule(tmp_path, "true", SLOW_SUMMARY)
    async with BotHarness(rules=rules, rule_eval_budget_seconds=0.001) as bot:
        assert (await bot.http.post("/alerts", json=notification(alert("Slow")))).status_code < 300
        healthz: list[float] = []

        async def diagnosed() -> bool:
            started = time.perf_counter()
            assert (await bot.http.get("/healthz")).status_code == 200
            healthz.append(time.perf_counter() - started)
            return any(e == Event.DIAGNOSED for e, _ in bot.recorder.events)

        await wait_for(diagnosed, timeout=20)
        incident = next(i for e, i in bot.recorder.events if e == Event.DIAGNOSED)
    assert incident.diagnosis is not None
    assert incident.diagnosis.scenario == "unclassified"
    assert "rule evaluation exceeded 0.001 s" in incident.diagnosis.summary
    assert any("HONUA_BOT_RULE_EVAL_BUDGET_SECONDS" in n for n in incident.diagnosis.notes)
    assert max(healthz) < 0.5, healthz


async def test_a_slow_condition_over_a_large_probe_result_is_refused(tmp_path: Path) -> None:
    load_builtins()
    path = _rule(tmp_path, "items.filter(x, x % 3 == 0).size() > 0 && items.all(x, x >= 0)", "x")
    rule = load_rules(path, probes, actions).rules[0]
    findings: dict[str, Finding] = {}
    scope_items = {"items": list(range(ITEMS))}  # as a large probe result would be
    started = time.perf_counter()
    diagnosis = await classify_within(rule, findings, scope_items, actions, 0.05)
    assert diagnosis.scenario == "unclassified"
    assert "rule evaluation exceeded 0.05 s" in diagnosis.summary
    # a budget it fits in: the same rule classifies
    assert (await classify_within(rule, findings, scope_items, actions, 60)).scenario == "s"
    assert time.perf_counter() - started < 60
