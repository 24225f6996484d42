"""Build the Slack message a recorded fixture case produces, with no network:
the case's alert and probe results → classify → render_incident, with fixed
button references so the Block Kit JSON is stable enough to pin."""

from __future__ import annotations

from pathlib import Path

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.alerts.diagnose import alert_variables, classify
from bot.cli.cases import Case, read_manifest
from bot.cli.explain import read_alerts, read_recorded, recorded_findings
from bot.models import Diagnosis, Incident
from bot.notify.slack.render import Message, button_specs, lifecycle, render_incident
from bot.registry import actions, probes
from bot.rules import RuleSet, load_rules

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CASES = [case for m in sorted(FIXTURES.glob("*/cases.yaml")) for case in read_manifest(m)]
RUNBOOK_BASE = "https://runbooks.example/PROCESS_FRAMEWORK_RUNBOOKS.md"


def ruleset() -> RuleSet:
    return load_rules(REPO / "rules", probes, actions)


def case_named(runbook: int, name: str) -> Case:
    return next(
        c for c in CASES if c.manifest.parent.name == f"runbook{runbook}" and c.name == name
    )


def diagnose_case(rules: RuleSet, case: Case) -> tuple[Incident, Diagnosis]:
    alert = read_alerts(case.alert)[0]
    rule = rules.match(alert.labels)
    assert rule is not None, case
    recorded = read_recorded(case.probe_results) or {}
    findings = recorded_findings(rule, recorded)
    for i, f in enumerate(findings.values()):  # stable timings for pinned JSON
        f.duration_ms = float(10 + i)
    d = classify(rule, findings, alert_variables(alert.labels, alert.annotations), actions)
    incident = Incident.from_alert(alert, "http://alertmanager.example:9093")
    incident.rule, incident.diagnosis = rule.name, d
    return incident, d


def message_for(rules: RuleSet, case: Case) -> Message:
    incident, _ = diagnose_case(rules, case)
    lc = lifecycle(incident)
    refs = {
        s.key: f"ref-{i:02d}-pinned-for-golden" for i, s in enumerate(button_specs(incident, lc))
    }
    return render_incident(incident, lc, refs, runbook_base=RUNBOOK_BASE)
