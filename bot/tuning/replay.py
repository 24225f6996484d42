"""``honua-bot rules replay``: what a rule change would have done to past incidents.

Each recorded incident keeps its alert and the probe results of its diagnosis
(bounded, see :mod:`bot.alerts.evidence`). Replay re-classifies them under two
rule sets, the live one and a candidate, with the same pure :func:`classify` the
pipeline uses: no probe runs and no action is taken. A probe a rule asks for
that was not recorded counts as failed, and the replay says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.alerts.diagnose import UNCLASSIFIED, alert_variables, classify
from bot.models import Diagnosis, Finding, Incident
from bot.registry import Registry
from bot.rules import RuleSet, sample, templates

UNCHANGED = "unchanged"
CHANGED = "changed"
NEWLY_MATCHED = "newly matched"
NO_LONGER_MATCHED = "no longer matched"
CATEGORIES = (UNCHANGED, CHANGED, NEWLY_MATCHED, NO_LONGER_MATCHED)
NOT_RECORDED = "not recorded when the incident was diagnosed (replay runs no probes)"


@dataclass
class Verdict:
    """How one rule set classifies a recorded incident."""

    rule: str | None
    scenario: str
    summary: str
    steps: list[str]
    actions: dict[str, dict[str, Any]]  # name → {type, mode, params (rendered)}
    not_recorded: list[str]  # probes the rule asks for that the incident has no result of

    @property
    def matched(self) -> bool:
        return self.scenario != UNCLASSIFIED

    @property
    def auto(self) -> list[str]:
        return [n for n, a in self.actions.items() if a["mode"] in ("auto", "shadow")]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "scenario": self.scenario,
            "summary": self.summary,
            "steps": self.steps,
            "actions": self.actions,
            "not_recorded": self.not_recorded,
        }


@dataclass
class IncidentReplay:
    incident: Incident
    live: Verdict
    candidate: Verdict
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # (what, live, candidate)

    @property
    def category(self) -> str:
        if not self.live.matched and self.candidate.matched:
            return NEWLY_MATCHED
        if self.live.matched and not self.candidate.matched:
            return NO_LONGER_MATCHED
        return CHANGED if self.changes else UNCHANGED

    def as_dict(self) -> dict[str, Any]:
        d = self.incident.diagnosis
        return {
            "incident": self.incident.id,
            "alertname": self.incident.alertname,
            "starts_at": self.incident.starts_at.isoformat(),
            "recorded_scenario": d.scenario if d else None,
            "category": self.category,
            "live": self.live.as_dict(),
            "candidate": self.candidate.as_dict(),
            "changes": [{"what": w, "live": a, "candidate": b} for w, a, b in self.changes],
            "truncated_evidence": [n for n, f in (d.findings if d else {}).items() if f.truncated],
        }


def _rendered(params: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    """Params as they would run: templated over the alert and the findings (a
    template error shows in the value, as it would in the message)."""
    return dict(templates.render_params(params, scope))


def reclassify(
    incident: Incident,
    rules: RuleSet,
    actions: Registry,
    limits: sample.Limits = sample.DEFAULT_LIMITS,
) -> Verdict:
    recorded = incident.diagnosis.findings if incident.diagnosis else {}
    rule = rules.match(incident.labels)
    findings: dict[str, Finding] = {}
    missing: list[str] = []
    for call in rule.probes if rule else ():
        found = recorded.get(call.name)
        if found is None or found.type != call.type:
            missing.append(call.name)
            found = Finding(probe=call.name, type=call.type, ok=False, error=NOT_RECORDED)
        findings[call.name] = found
    variables = alert_variables(incident.labels, incident.annotations)
    diagnosis: Diagnosis = classify(rule, findings, variables, actions, limits)
    scope = {
        **variables,
        "annotations": incident.annotations,
        "incident": {"id": incident.id, "alertname": incident.alertname},
        **{n: f.as_cel_value() for n, f in findings.items()},
    }
    return Verdict(
        rule=diagnosis.rule,
        scenario=diagnosis.scenario,
        summary=diagnosis.summary,
        steps=diagnosis.steps,
        actions={
            a.name: {"type": a.type, "mode": a.mode, "params": _rendered(a.params, scope)}
            for a in diagnosis.actions
        },
        not_recorded=missing,
    )


def differences(live: Verdict, candidate: Verdict) -> list[tuple[str, Any, Any]]:
    out: list[tuple[str, Any, Any]] = []
    for what in ("rule", "scenario"):
        a, b = getattr(live, what), getattr(candidate, what)
        if a != b:
            out.append((what, a, b))
    if list(live.actions) != list(candidate.actions):
        out.append(("proposed actions", list(live.actions), list(candidate.actions)))
    if live.auto != candidate.auto:
        out.append(("automatic actions", live.auto, candidate.auto))
    for name in live.actions.keys() & candidate.actions.keys():
        for key in ("type", "mode", "params"):
            a, b = live.actions[name][key], candidate.actions[name][key]
            if a != b:
                out.append((f"{name} {key}", a, b))
    if live.summary != candidate.summary:
        out.append(("summary", live.summary, candidate.summary))
    if live.steps != candidate.steps:
        out.append(("steps", live.steps, candidate.steps))
    return out


def replay(
    incidents: list[Incident],
    live: RuleSet,
    candidate: RuleSet,
    actions: Registry,
    limits: sample.Limits = sample.DEFAULT_LIMITS,
) -> list[IncidentReplay]:
    """Each incident classified by both rule sets, seeing the data as the bot
    would (``limits``: HONUA_BOT_RULE_DATA_MAX_ITEMS)."""
    out = []
    for incident in sorted(incidents, key=lambda i: i.starts_at):
        a = reclassify(incident, live, actions, limits)
        b = reclassify(incident, candidate, actions, limits)
        out.append(IncidentReplay(incident, a, b, differences(a, b)))
    return out


def summary_counts(results: list[IncidentReplay]) -> dict[str, int]:
    counts = dict.fromkeys(CATEGORIES, 0)
    for r in results:
        counts[r.category] += 1
    return counts


def summary_line(results: list[IncidentReplay], skipped: int = 0) -> str:
    counts = summary_counts(results)
    text = f"{len(results)} incident(s): " + ", ".join(f"{n} {c}" for c, n in counts.items())
    if skipped:
        text += f"; {skipped} skipped (never diagnosed, nothing recorded to replay)"
    return text


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_lines(results: list[IncidentReplay], verbose: bool = False) -> list[str]:
    lines = []
    for r in results:
        when = r.incident.starts_at.strftime("%Y-%m-%d %H:%M UTC")
        head = f"{r.incident.id}  {r.incident.alertname:<28} {when}  {r.category}"
        if r.category == UNCHANGED and not verbose:
            lines.append(f"{head}  ({r.live.scenario})")
            continue
        lines.append(head)
        for what, a, b in r.changes:
            lines.append(f"    {what}: {_short(a)} → {_short(b)}")
        for side, verdict in (("live", r.live), ("candidate", r.candidate)):
            if verdict.not_recorded:
                lines.append(
                    f"    note ({side}): no recorded result for {', '.join(verdict.not_recorded)};"
                    " treated as failed"
                )
        d = r.incident.diagnosis
        trimmed = [n for n, f in (d.findings if d else {}).items() if f.truncated]
        if trimmed:
            lines.append(f"    note: evidence of {', '.join(trimmed)} was trimmed when stored")
    return lines


def in_window(incident: Incident, since: datetime) -> bool:
    return incident.starts_at >= since
