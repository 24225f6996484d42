"""Durations as rule authors write them: ``5s``, ``30m``, ``1h``, ``1h30m``, or seconds."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 5m or 1h")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("duration must not be negative")
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            return float(text)
        if text and _PART.sub("", text) == "":
            return sum(float(n) * _UNIT[u] for n, u in _PART.findall(text))
    raise ValueError(f"bad duration {value!r}: expected e.g. 30s, 5m, 1h30m")


Duration = Annotated[float, BeforeValidator(parse_duration)]
