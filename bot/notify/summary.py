"""What a human scans a finding for, shared by every notifier (console, Slack)."""

from __future__ import annotations

import json

MAX_VALUE = 160


def short(value: object, limit: int = MAX_VALUE) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scalar(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else short(value)


def _inline(mapping: dict[str, object]) -> str:
    return ", ".join(
        f"{k}={_scalar(v)}" for k, v in mapping.items() if not isinstance(v, dict | list)
    )


def _parts(data: dict[str, object]) -> list[tuple[str, str, list[object]]]:
    """(key, one-line text, list items) for each entry of a probe's result."""
    out: list[tuple[str, str, list[object]]] = []
    for key, value in data.items():
        if isinstance(value, float):
            out.append((key, f"{key}={value:.4g}", []))
        elif isinstance(value, list):
            out.append((key, f"{key}: {len(value)}", value))
        elif isinstance(value, dict):
            out.append((key, f"{key}: {{{_inline(value)}}}", []))
        else:
            out.append((key, f"{key}={short(value)}", []))
    return out


def finding_summary(data: object) -> str:
    """The numbers a human scans for: scalars as they are, lists as counts,
    small mappings (a top error, say) inline."""
    if not isinstance(data, dict):
        return short(data)
    return short("; ".join(text for _, text, _ in _parts(data)))


def _item(item: object) -> str:
    """One entry of a short list: a group with a count reads "message (count)"."""
    if isinstance(item, dict):
        count = next((item[k] for k in ("count", "n", "value") if k in item), None)
        label = next(
            (item[k] for k in ("message", "key", "name", "status", "label", "id") if k in item),
            None,
        )
        if label is not None and count is not None:
            return f"{short(label, 80)} ({_scalar(count)})"
        return short(_inline(item), 100)
    return short(item, 100) if item not in (None, "") else ""


def finding_lines(data: object, max_items: int = 3) -> list[str]:
    """Like :func:`finding_summary`, one entry a line, and the first few items of each
    non-empty list written out (top errors with their counts, pods and their states)."""
    if not isinstance(data, dict):
        return [short(data)]
    lines: list[str] = []
    for _, text, items in _parts(data):
        lines.append(text)
        shown = [t for t in (_item(item) for item in items[:max_items]) if t]
        lines += [f"  • {t}" for t in shown]
        if shown and len(items) > max_items:
            lines.append(f"  • … {len(items) - max_items} more")
    return lines
