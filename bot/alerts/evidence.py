"""The probe results kept with each incident, bounded in size.

They are the evidence ``honua-bot rules replay`` re-classifies later, and what
an action's params template over, so the bound keeps the scalars a condition
usually tests (counts, flags, names) and trims the bulk: the longest lists are
halved, then long strings cut, until the finding fits. A trimmed finding says so
(``truncated``), and replay reports it. Retention is the incident's own:
``HONUA_BOT_INCIDENT_TTL_SECONDS`` after it resolves (7 days by default),
``HONUA_BOT_OPEN_INCIDENT_TTL_SECONDS`` while open (30 days).
"""

from __future__ import annotations

import json
from typing import Any

from bot.models import Diagnosis, Finding

MAX_FINDING_BYTES = 16 * 1024  # per probe, as JSON
MAX_STRING = 512  # a string longer than this is cut once lists alone do not suffice


def _size(value: Any) -> int:
    return len(json.dumps(value, default=str, separators=(",", ":")))


def _lists(value: Any) -> list[list[Any]]:
    """Every list inside ``value`` (itself included), outermost first."""
    found: list[list[Any]] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            found.append(item)
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STRING:
        return value[:MAX_STRING] + "…"
    if isinstance(value, list):
        return [_cut_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _cut_strings(v) for k, v in value.items()}
    return value


def bounded(data: Any, limit: int = MAX_FINDING_BYTES) -> tuple[Any, bool]:
    """``data`` trimmed to at most ``limit`` bytes of JSON, and whether it was."""
    if _size(data) <= limit:
        return data, False
    data = json.loads(json.dumps(data, default=str))  # a private copy to trim in place
    while _size(data) > limit:
        longest = max(_lists(data), key=_size, default=None)
        if longest is None or len(longest) <= 1:
            break
        del longest[len(longest) // 2 :]
    if _size(data) > limit:
        data = _cut_strings(data)
    if _size(data) > limit:
        data = {"truncated": True, "bytes": _size(data)}
    return data, True


def bound_findings(diagnosis: Diagnosis, limit: int = MAX_FINDING_BYTES) -> None:
    """Trim the diagnosis's findings in place (after classification used them whole)."""
    for name, finding in list(diagnosis.findings.items()):
        data, trimmed = bounded(finding.data, limit)
        if trimmed:
            diagnosis.findings[name] = finding.model_copy(update={"data": data, "truncated": True})
            diagnosis.notes.append(f"findings of {name} trimmed to {limit // 1024} KiB when stored")


__all__ = ["MAX_FINDING_BYTES", "Finding", "bound_findings", "bounded"]
