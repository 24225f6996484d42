"""Provider status pages (Runbook 4): a JSON document at an arbitrary http(s)
URL named in a rule, read at a dotted path, e.g. ``status.indicator`` of a
Statuspage.io ``/api/v2/summary.json``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.adapters.http import UrlJsonClient

_MISSING = object()


def lookup(document: Any, path: str) -> tuple[bool, Any]:
    """(found, value) at a dotted path; a numeric part indexes a list
    (``components.0.status``). An empty path is the whole document."""
    current = document
    for part in [p for p in path.split(".") if p] if path else []:
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit():
            index = int(part)
            current = current[index] if -len(current) <= index < len(current) else _MISSING
        else:
            current = _MISSING
        if current is _MISSING:
            return False, None
    return True, current


@dataclass(frozen=True)
class FieldReading:
    status_code: int
    found: bool
    value: Any


class StatusPageClient(UrlJsonClient):
    async def read_field(self, url: str, path: str) -> FieldReading:
        answer = await self.get_json(url)
        found, value = lookup(answer.body, path)
        return FieldReading(status_code=answer.status_code, found=found, value=value)
