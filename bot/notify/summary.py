"""Findings as plain text for people, shared by the notifiers that are not Slack
(the console, the CLI): the rule's facts when it has them, else each probe's
numbers with their names in words and ages as durations — never ``key=value``."""

from __future__ import annotations

import json

from bot.models import Diagnosis, Finding
from bot.rules.templates import duration

MAX_VALUE = 160


def short(value: object, limit: int = MAX_VALUE) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_seconds") and isinstance(value, int | float):
        return duration(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return f"{len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        if "message" in value and "count" in value:
            return f'"{short(value["message"], 80)}" \u00d7 {value["count"]}'
        return f"{len(value)} entries"
    return short("none" if value is None else value, 80)


def humanize(data: object) -> str:
    """``{"ping_ms": 18.5, "last_save_age_seconds": 300}`` → ``ping ms 18.5 · last save
    age 5 minutes``; the first few entries only."""
    if not isinstance(data, dict):
        return short(data)
    parts = [
        f"{key.removesuffix('_seconds').replace('_', ' ')} {_value(key, value)}"
        for key, value in list(data.items())[:6]
    ]
    more = f" · … {len(data) - 6} more" if len(data) > 6 else ""
    return " · ".join(parts) + more


def finding_line(finding: Finding) -> str:
    return f"{finding.probe}: {humanize(finding.data)}"


def fact_lines(d: Diagnosis) -> list[str]:
    """One line per fact (``Failure rate: 23.5 % (alert at 10 %)``), then probes the
    rule does not display, in words."""
    lines = [f"{f.label}: {f.text}" + (f" ({f.threshold})" if f.threshold else "") for f in d.facts]
    shown = {f.probe for f in d.facts}
    lines += [finding_line(f) for f in d.findings.values() if f.ok and f.probe not in shown]
    return lines


def problem_lines(d: Diagnosis) -> list[str]:
    """Probes that failed, then those not set up here with the setting to set — each once."""
    failed = [f"could not read {f.probe}: {f.error}" for f in d.failed_probes if f.configured]
    unchecked = [
        f"not checked {u.probe} ({u.what}): set {u.setting}"
        if u.setting
        else f"not checked {u.probe}"
        for u in d.unchecked
    ]
    return failed + unchecked
