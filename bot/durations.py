"""How the bot says a duration: one module for every message.

``human_seconds`` is the short form (``45s``, ``2m``, ``1h30m``, ``2d3h``); with
``padded`` it reads like a countdown (``9m05s``, ``1h05m``: two units, the second
always two digits). ``spoken`` is the prose form rule text uses through the
``duration`` template filter (``25 minutes``, ``3.5 hours``, ``3 days``).
Parsing what people write (``1h30m``) is :mod:`bot.rules.durations`.
"""

from __future__ import annotations

from typing import Any


def human_seconds(seconds: float, padded: bool = False) -> str:
    if padded:
        whole = max(0, round(seconds))
        if whole >= 3600:
            return f"{whole // 3600}h{(whole % 3600) // 60:02d}m"
        if whole >= 60:
            return f"{whole // 60}m{whole % 60:02d}s"
        return f"{whole}s"
    if seconds < 10:
        return f"{round(seconds, 1):g}s"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def spoken(seconds: Any) -> str:
    """An age as people say it; ``?`` when there is no number (a probe gave none)."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return "?"
    minutes = round(seconds / 60)
    if seconds < 7200:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    if seconds < 172800:
        return f"{round(seconds / 3600, 1):g} hours"
    return f"{round(seconds / 86400, 1):g} days"
