"""Diagnosis: run a rule's probes concurrently, then name the scenario.

``run_probes`` is the only I/O here; ``classify`` is a plain function over
findings, so the runbook logic is tested without any network.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from bot.adapters import AdapterError, NotConfigured
from bot.alerts import facts as display
from bot.alerts import why
from bot.logs import get_logger
from bot.models import Diagnosis, Finding, ProposedAction
from bot.probes.base import ProbeContext
from bot.registry import Registry
from bot.rules import Rule, sample, templates
from bot.rules.cel import ConditionError
from bot.rules.schema import ProbeCall

UNCLASSIFIED = "unclassified"
log = get_logger("diagnose")

ProbeObserver = Callable[[str, str, float], None]


def alert_variables(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {"alert": {"labels": labels, "annotations": annotations}, "labels": labels}


async def run_probe(
    call: ProbeCall,
    registry: Registry,
    ctx: ProbeContext,
    timeout: float,
    variables: dict[str, Any],
) -> Finding:
    started = time.perf_counter()

    def finding(ok: bool, data: Any = None, error: str | None = None) -> Finding:
        ms = (time.perf_counter() - started) * 1000
        return Finding(
            probe=call.name, type=call.type, ok=ok, data=data, error=error, duration_ms=round(ms, 2)
        )

    entry = registry.get(call.type)
    if entry is None:
        return finding(False, error=f"probe type {call.type!r} is not registered")
    try:
        params = entry.params_model.model_validate(templates.render_params(call.params, variables))
    except ValidationError as exc:
        return finding(False, error=f"bad params after templating: {exc.errors()[0]['msg']}")
    try:
        data = await asyncio.wait_for(entry.func(params, ctx), timeout)
    except TimeoutError:
        return finding(False, error=f"timed out after {timeout:g} s")
    except NotConfigured as exc:
        return finding(False, error=str(exc)).model_copy(update={"configured": False})
    except AdapterError as exc:
        return finding(False, error=str(exc))
    except Exception as exc:  # a probe bug must not sink the diagnosis
        log.exception("probe crashed", probe=call.name, type=call.type)
        return finding(False, error=f"probe error: {type(exc).__name__}: {exc}")
    return finding(True, data=data)


async def run_probes(
    rule: Rule,
    registry: Registry,
    ctx: ProbeContext,
    default_timeout: float,
    variables: dict[str, Any],
    observe: ProbeObserver | None = None,
) -> dict[str, Finding]:
    calls = list(rule.probes)
    found = await asyncio.gather(
        *(run_probe(c, registry, ctx, c.timeout or default_timeout, variables) for c in calls)
    )
    if observe:
        for f in found:
            observe(f.type, "ok" if f.ok else "error", f.duration_ms / 1000)
    return {f.probe: f for f in found}


def proposed_actions(rule: Rule, names: tuple[str, ...], actions: Registry) -> list[ProposedAction]:
    out = []
    for name in names:
        call = rule.actions[name]
        entry = actions.get(call.type)
        description = call.options.description
        if not description and entry is not None:
            try:
                description = str(entry.func(entry.params_model.model_validate(call.params)))
            except (ValidationError, TypeError):
                description = entry.description
        out.append(
            ProposedAction(
                name=name,
                type=call.type,
                params=call.params,
                mode=call.options.mode,
                confirm=call.options.confirm or call.destructive,
                description=description,
                destructive=call.destructive,
                label=display.button_label(rule.display.buttons.get(name, ""), description, name),
                approvals=call.options.approvals,
            )
        )
    return out


def classify(
    rule: Rule | None,
    findings: dict[str, Finding],
    variables: dict[str, Any],
    actions: Registry,
    limits: sample.Limits = sample.DEFAULT_LIMITS,
) -> Diagnosis:
    """The first scenario whose ``when`` holds; none → unclassified with every finding.
    Conditions and templates see the findings cut to ``limits`` (notes say what was cut)."""
    if rule is None:
        return Diagnosis(rule=None, scenario=UNCLASSIFIED, summary="no rule matches this alert")
    bounded = sample.bound_scope(
        {**variables, **{name: f.as_cel_value() for name, f in findings.items()}},
        limits,
        set(findings),
    )
    scope = bounded.scope
    notes: list[str] = bounded.notes()
    for scenario in rule.scenarios:
        try:
            if not scenario.when.evaluate(scope):
                continue
        except ConditionError as exc:
            notes.append(f"scenario {scenario.name}: condition not evaluated: {exc}")
            continue
        return Diagnosis(
            rule=rule.name,
            scenario=scenario.name,
            summary=templates.render(scenario.summary, scope),
            findings=findings,
            actions=proposed_actions(rule, scenario.actions, actions),
            notes=notes,
            steps=[templates.render(s, scope).strip() for s in scenario.steps],
            **_display(rule, findings, scope, scenario.name),
            prevention=list(rule.prevention),
        )
    # a probe whose target is not set up is "not checked", never also "failed"
    failed = [f.probe for f in findings.values() if not f.ok and f.configured]
    summary = "no scenario of the runbook matched the findings"
    if failed:
        summary += f"; probes that failed: {', '.join(failed)}"
    return Diagnosis(
        rule=rule.name,
        scenario=UNCLASSIFIED,
        summary=summary,
        findings=findings,
        notes=notes,
        checklist=display.checklist(rule, scope),
        **_display(rule, findings, scope, None),
        prevention=list(rule.prevention),
    )


def _display(
    rule: Rule, findings: dict[str, Finding], scope: dict[str, Any], chosen: str | None
) -> dict[str, Any]:
    """What the message shows besides the raw findings: facts, the why, P-level, runbook."""
    return {
        "facts": display.facts(rule, findings),
        "why": why.explain(rule, scope, chosen),
        "priority": rule.severity,
        "runbook": rule.runbook,
        "runbook_url": rule.display.runbook_url,
        "graph_expr": next(
            (
                str(templates.render(str(p.params.get("expr", "")), scope))
                for p in rule.probes
                if p.type == "prometheus.query"
            ),
            "",
        ),
    }
