"""`honua-bot rules test`: what the bot would do for an alert, with no side effects
(as `amtool config routes test` does for routing).

A fixture manifest (``--cases cases.yaml``) lists recorded cases — an alert, the
probe results, and the scenario, actions, summary text and action params the
rule must produce for them — so the rules are regression-tested in CI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot.adapters import Adapters
from bot.alerts.diagnose import alert_variables, classify, run_probes
from bot.config import Settings
from bot.models import Alert, Diagnosis, Finding, WebhookMessage
from bot.probes.base import ProbeContext
from bot.registry import actions, probes
from bot.rules import Rule, RuleSet, sample


def read_alerts(path: Path) -> list[Alert]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict) and "alerts" in data:
        return WebhookMessage.model_validate(data).alerts
    if isinstance(data, list):
        return [Alert.model_validate(a) for a in data]
    return [Alert.model_validate(data)]


def recorded_findings(rule: Rule, recorded: dict[str, Any]) -> dict[str, Finding]:
    """Findings from a file: ``{probe: data}``, ``{probe: {"error": "..."}}`` or, for a
    target that is not set up, ``{probe: {"error": "...", "configured": false}}``."""
    out = {}
    for call in rule.probes:
        if call.name not in recorded:
            out[call.name] = Finding(
                probe=call.name,
                type=call.type,
                ok=False,
                error="no recorded result",
                configured=False,
            )
            continue
        value = recorded[call.name]
        if isinstance(value, dict) and "error" in value and set(value) <= {"error", "configured"}:
            out[call.name] = Finding(
                probe=call.name,
                type=call.type,
                ok=False,
                error=str(value["error"]),
                configured=bool(value.get("configured", True)),
            )
        else:
            out[call.name] = Finding(probe=call.name, type=call.type, ok=True, data=value)
    return out


def read_recorded(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    recorded = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(recorded, dict):
        raise ValueError(f"{path}: expected a JSON object {{probe name: result}}")
    return recorded


def action_runs(alert: Alert, diagnosis: Diagnosis) -> list[dict[str, Any]]:
    """Each proposed action with the params it would run with: templated over the
    alert and the findings as the engine does (``late_templates`` such as ``value``
    are left for the action), then validated against the action's model."""
    from bot.remediation.config import render_action_params

    scope: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "incident": {"id": alert.incident_id, "alertname": alert.alertname},
        **{name: f.as_cel_value() for name, f in diagnosis.findings.items()},
    }
    out = []
    for proposed in diagnosis.actions:
        entry = actions.get(proposed.type)
        late: frozenset[str] = (
            getattr(entry.impl, "late_templates", frozenset()) if entry else frozenset()
        )
        rendered = render_action_params(proposed.params, scope, late)
        item = {**proposed.model_dump(), "run_params": rendered, "run_params_error": None}
        if entry is not None:
            try:
                entry.params_model.model_validate(rendered)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                item["run_params_error"] = f"{where}: {first['msg']}"
        out.append(item)
    return out


async def explain(
    ruleset: RuleSet, alerts: list[Alert], recorded: dict[str, Any] | None, live: Settings | None
) -> dict[str, Any]:
    adapters = Adapters.from_settings(live.targets) if live else None
    limits = sample.Limits(live.rule_data_max_items) if live else sample.DEFAULT_LIMITS
    report: dict[str, Any] = {"alerts": []}
    try:
        for alert in alerts:
            rule = ruleset.match(alert.labels)
            item: dict[str, Any] = {
                "alert": alert.alertname,
                "labels": alert.labels,
                "incident": alert.incident_id,
                "rule": rule.name if rule else None,
                "rule_file": rule.source if rule else None,
                "probes": [
                    {"name": p.name, "type": p.type, "params": p.params} for p in rule.probes
                ]
                if rule
                else [],
            }
            variables = alert_variables(alert.labels, alert.annotations)
            findings: dict[str, Finding] | None = None
            if rule is None:
                findings = {}
            elif recorded is not None:
                findings = recorded_findings(rule, recorded)
            elif adapters is not None:
                ctx = ProbeContext(adapters, alert.labels)
                findings = await run_probes(
                    rule, probes, ctx, live.targets.probe_timeout if live else 5.0, variables
                )
            if findings is None:
                item["scenario"] = None
                item["note"] = (
                    "no probe results: pass --probe-results FILE, or --live to run the probes"
                )
            else:
                diagnosis = classify(rule, findings, variables, actions, limits)
                item["scenario"] = diagnosis.scenario
                item["summary"] = diagnosis.summary
                item["notes"] = diagnosis.notes
                item["failed_probes"] = {
                    f.probe: f.error for f in diagnosis.failed_probes if f.configured
                }
                item["not_checked"] = {u.probe: u.setting for u in diagnosis.unchecked}
                item["facts"] = [f.model_dump() for f in diagnosis.facts]
                item["why"] = [c.model_dump() | {"text": c.text()} for c in diagnosis.why]
                item["checklist"] = diagnosis.checklist
                item["steps"] = diagnosis.steps
                item["actions"] = action_runs(alert, diagnosis)
            report["alerts"].append(item)
    finally:
        if adapters is not None:
            await adapters.aclose()
    return report


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    for item in report["alerts"]:
        console.rule(f"{item['alert']}  ({item['incident']})")
        if item["rule"] is None:
            console.print("rule: [yellow]no rule matches[/yellow]")
            continue
        console.print(f"rule: [bold]{escape(item['rule'])}[/bold]  ({escape(item['rule_file'])})")
        probes_table = Table("probe", "type", "params", title="probes it would run")
        for p in item["probes"]:
            probes_table.add_row(p["name"], p["type"], escape(json.dumps(p["params"])))
        console.print(probes_table)
        if item.get("scenario") is None:
            console.print(f"scenario: [dim]{item['note']}[/dim]")
            continue
        console.print(
            f"scenario: [bold yellow]{escape(item['scenario'])}[/bold yellow]  {escape(item['summary'])}"
        )
        for fact in item.get("facts", []):
            threshold = f"  ({fact['threshold']})" if fact["threshold"] else ""
            console.print(escape(f"  {fact['label']}: {fact['text']}{threshold}"))
        for check in sorted(item.get("why", []), key=lambda c: not c["held"]):
            style = "green" if check["held"] else "dim"
            console.print(
                escape(f"  {'why' if check['held'] else 'not'}: {check['text']}"), style=style
            )
        for name, error in item["failed_probes"].items():
            console.print(f"  failed probe {name}: {escape(str(error))}", style="red")
        for name, setting in item.get("not_checked", {}).items():
            console.print(
                escape(f"  not checked {name}: set {setting or 'its target'}"), style="yellow"
            )
        for step in item.get("checklist", []):
            console.print(escape(f"  ☐ {step}"))
        for note in item["notes"]:
            console.print(f"  note: {escape(note)}", style="dim")
        for i, step in enumerate(item.get("steps", []), 1):
            console.print(escape(f"  step {i}: {step}"))
        for a in item["actions"]:
            how = {
                "auto": "would AUTO-RUN (through the safety gates)",
                "shadow": "would SHADOW-RUN (plan and gates, recorded, not run; button)",
            }.get(a["mode"], "would propose (button)")
            console.print(escape(f"  action {a['name']} [{a['type']}]: {how} — {a['description']}"))
            if "run_params" in a:
                console.print(
                    escape(f"    with {json.dumps(a['run_params'], default=str)}"), style="dim"
                )
            if a.get("run_params_error"):
                console.print(escape(f"    bad params: {a['run_params_error']}"), style="red")
