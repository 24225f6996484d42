"""An incident's history for a postmortem: the incident record (alert, diagnosis,
thread lines, acknowledgement, resolution) merged with its audit entries (clicks,
gates, approvals, plans, executions, verification, undo), in time order, with UTC
timestamps and the time between steps."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.audit import AuditEntry, AuditLog
from bot.models import Finding, Incident
from bot.store.base import Store

MAX_FACTS = 6


@dataclass(frozen=True)
class Step:
    at: datetime
    kind: str  # alert | diagnosis | thread | click | auto | gate | approval | plan | execution |
    #            verification | undo | shadow | acknowledged | resolved
    text: str
    actor: str = ""
    order: int = 0  # keeps steps of the same instant in the order they were recorded


def _fact(f: Finding) -> str:
    if not f.ok:
        return f"{f.probe}: failed ({f.error})"
    data = f.data
    if isinstance(data, dict):
        shown = {
            k: round(v, 3) if isinstance(v, float) else v
            for k, v in data.items()
            if not isinstance(v, list | dict)
        }
        text = ", ".join(f"{k}={v}" for k, v in list(shown.items())[:5]) or "ok"
    elif isinstance(data, list):
        text = f"{len(data)} item(s)"
    else:
        text = json.dumps(data, default=str)
    return f"{f.probe}: {text[:120]}"


def _who(entry: AuditEntry) -> str:
    return f"{entry.actor} in {entry.channel}" if entry.channel else entry.actor


def _audit_step(e: AuditEntry, order: int) -> Step | None:
    undo = e.action.startswith("undo-")
    plan = "; ".join(e.plan[:5])
    texts: dict[str, tuple[str, str]] = {
        "requested": ("click", f"{_who(e)} asked for `{e.action}`"),
        "refused": ("gate", f"`{e.action}` refused by gate {e.gate}: {e.message}"),
        "needs_approval": ("approval", e.message),
        "duplicate": ("gate", f"`{e.action}` not run twice: {e.message}"),
        "dry_run": ("plan", f"dry run of `{e.action}` on {e.target}: {plan}"),
        "started": ("undo" if undo else "execution", f"`{e.action}` started on {e.target}: {plan}"),
        "succeeded": ("undo" if undo else "execution", f"`{e.action}` succeeded: {e.message}"),
        "failed": ("undo" if undo else "execution", f"`{e.action}` failed: {e.message}"),
        "verified": ("verification", f"`{e.action}` verified: {e.message}"),
        "verification_failed": ("verification", f"`{e.action}` NOT verified: {e.message}"),
        "verification_abandoned": ("verification", f"`{e.action}`: {e.message}"),
        "outcome_unknown": ("execution", f"`{e.action}` outcome unknown: {e.message}"),
        "would_have_run": ("shadow", f"shadow: `{e.action}` would have run on {e.target}: {plan}"),
    }
    if e.event not in texts:
        return None  # diagnosed / resolved come from the incident record itself
    kind, text = texts[e.event]
    if e.event == "requested" and e.actor == "auto":
        kind, text = "auto", f"`{e.action}` started automatically (its mode, after the diagnosis)"
    if e.duration_ms is not None and e.event in ("succeeded", "failed", "verified"):
        text += f" ({e.duration_ms / 1000:.1f} s)"
    return Step(e.at, kind, text, e.actor, order)


def steps(incident: Incident, audit: list[AuditEntry]) -> list[Step]:
    found: list[Step] = []
    rule = f" (rule {incident.rule})" if incident.rule else " (no rule matches)"
    found.append(Step(incident.starts_at, "alert", f"alert {incident.alertname} fired{rule}"))
    found.append(Step(incident.created_at, "alert", "alert received by honua-bot"))
    d = incident.diagnosis
    if d is not None:
        facts = [_fact(f) for f in list(d.findings.values())[:MAX_FACTS]]
        text = f"diagnosed: scenario {d.scenario}: {d.summary}"
        if facts:
            text += " — key facts: " + "; ".join(facts)
        if d.actions:
            text += " — proposed: " + ", ".join(f"{a.name} ({a.mode})" for a in d.actions)
        found.append(Step(d.diagnosed_at, "diagnosis", text, "honua-bot"))
    for i, a in enumerate(incident.activity):
        found.append(Step(a.at, "thread", " ".join(a.text.split()), a.actor, i))
    for i, e in enumerate(audit):
        step = _audit_step(e, i)
        if step is not None:
            found.append(step)
    if incident.acknowledged_at is not None:
        found.append(
            Step(incident.acknowledged_at, "acknowledged", "acknowledged", incident.acknowledged_by)
        )
    if incident.ends_at is not None:
        found.append(Step(incident.ends_at, "resolved", "alert resolved"))
    kinds = ["alert", "diagnosis"]
    return sorted(
        found,
        key=lambda s: (s.at, kinds.index(s.kind) if s.kind in kinds else 2, s.kind != "click"),
    )


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"


def as_dict(incident: Incident, found: list[Step]) -> dict[str, Any]:
    out = []
    previous = None
    for s in found:
        out.append(
            {
                "at": s.at.isoformat(),
                "kind": s.kind,
                "actor": s.actor,
                "text": s.text,
                "since_alert_s": round((s.at - incident.starts_at).total_seconds(), 3),
                "since_previous_s": round((s.at - previous).total_seconds(), 3)
                if previous
                else 0.0,
            }
        )
        previous = s.at
    return {
        "incident": incident.id,
        "alertname": incident.alertname,
        "rule": incident.rule,
        "status": incident.status.value,
        "steps": out,
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(incident: Incident, found: list[Step]) -> str:
    d = incident.diagnosis
    lines = [
        f"# Incident {incident.id}: {incident.alertname}",
        "",
        f"- Rule: {incident.rule or 'none'}; scenario: {d.scenario if d else 'not diagnosed'}",
        f"- Labels: {', '.join(f'{k}={v}' for k, v in sorted(incident.labels.items()))}",
        f"- Status: {incident.status.value}",
    ]
    if incident.ends_at is not None:
        lines.append(
            f"- Duration: {_duration((incident.ends_at - incident.starts_at).total_seconds())}"
        )
    lines += [
        "",
        "| Time (UTC) | +alert | +previous | Step | Who | What |",
        "|---|---|---|---|---|---|",
    ]
    previous = None
    for s in found:
        since = _duration((s.at - incident.starts_at).total_seconds())
        delta = _duration((s.at - previous).total_seconds()) if previous else "-"
        stamp = s.at.strftime("%Y-%m-%d %H:%M:%S")
        lines.append(
            f"| {stamp} | {since} | {delta} | {s.kind} | {_cell(s.actor)} | {_cell(s.text)} |"
        )
        previous = s.at
    return "\n".join(lines) + "\n"


async def load(store: Store, incident_id: str) -> tuple[Incident, list[Step]] | None:
    """The incident and its steps, or None when the store has no such incident."""
    incident = await store.get_incident(incident_id)
    if incident is None:
        return None
    age = time.time() - incident.starts_at.timestamp() + 3600  # its whole life, and some
    entries = await AuditLog(store).read(max(age, 3600), incident=incident_id, limit=1_000_000)
    return incident, steps(incident, entries)
