"""Rule evaluation (CEL ``when`` conditions and Jinja templates of one
diagnosis) off the event loop, with a clock.

``classify`` is pure CPU: it runs in a small thread pool of its own while the
loop waits at most ``budget`` seconds. Past the budget the incident gets an
"unclassified" diagnosis naming why, instead of a diagnosis computed late. A
thread cannot be stopped: a late evaluation runs on and its result is discarded.

The thread does not keep the loop running by itself: the CEL binding holds the
GIL for all of one ``execute``, so a long condition freezes the loop whatever
the clock says. What bounds that freeze is the data and the expression:
findings are cut to ``limits`` (bot/rules/sample.py) and conditions may cost at
most N² in their lists' length (bot/rules/cel.py), so one ``execute`` stays well
under a quarter of a second (bench/rule_eval.py). Templates are Python: the
interpreter hands the GIL to the loop every few milliseconds, and their loops
and output are bounded (bot/rules/templates.py). The pool is small so late
evaluations cannot pile up; later ones queue and hit their own budget.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bot.alerts.diagnose import UNCLASSIFIED, classify
from bot.logs import get_logger
from bot.models import Diagnosis, Finding
from bot.registry import Registry
from bot.rules import Rule
from bot.rules.sample import DEFAULT_LIMITS, Limits

log = get_logger("alerts")
EVALUATION_THREADS = 2
_pool = ThreadPoolExecutor(EVALUATION_THREADS, thread_name_prefix="rule-eval")


async def classify_within(
    rule: Rule | None,
    findings: dict[str, Finding],
    variables: dict[str, Any],
    actions: Registry,
    budget: float,
    limits: Limits = DEFAULT_LIMITS,
) -> Diagnosis:
    """``classify`` in a worker thread; over ``budget`` seconds → a refusal."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_pool, classify, rule, findings, variables, actions, limits)
    try:
        return await asyncio.wait_for(future, budget)
    except TimeoutError:
        assert rule is not None  # without a rule there is nothing to evaluate
        log.warning("rule evaluation over its budget", budget_seconds=budget)
        return Diagnosis(
            rule=rule.name,
            scenario=UNCLASSIFIED,
            summary=f"rule evaluation exceeded {budget:g} s; no scenario was chosen",
            findings=dict(findings),  # its own dict: the late thread still reads the original
            notes=[
                f"rule evaluation (conditions and templates) exceeded its budget of "
                f"{budget:g} s (HONUA_BOT_RULE_EVAL_BUDGET_SECONDS): simplify the rule's "
                "`when` or templates, or narrow the probe result they iterate over"
            ],
            runbook=rule.runbook,
            priority=rule.severity,
            prevention=list(rule.prevention),
        )
