"""The probe data a rule's conditions and templates see, cut to a size whose
worst allowed evaluation holds the GIL briefly.

The CEL binding (a Rust extension) holds the GIL for all of ``execute``: turning
the variables into CEL values (~1.3 µs per value) and then evaluating. A worker
thread cannot stop it, so while it runs the event loop (health checks, intake,
Slack clicks) is frozen. Its cost grows with the data: two nested comprehensions
over a 50,000-item list froze the loop ~15 s. Conditions are limited to cost
N² in the length N of the lists they iterate (``cel.MAX_DEGREE``), so bounding
N bounds the freeze: lists and maps beyond ``max_items`` entries keep their first
``max_items``, strings beyond ``MAX_CHARS`` their first characters, and the
whole of one probe's value at most ``max_items * NODES_PER_ITEM`` values.
Measured figures: bench/rule_eval.py, docs/reliability.md.

A cut is never silent: each finding's value carries ``cut`` (field path →
original length, ``{}`` when nothing was cut), and the diagnosis notes name the
probe, the field and its original length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_MAX_ITEMS = 300
MAX_CHARS = 2_000  # characters of one string (a log line, a message)
NODES_PER_ITEM = 20  # values of one probe's data, as a multiple of max_items
CUT_FIELD = "cut"
COMMON = frozenset({"ok", "error", "configured"})  # see Finding.as_cel_value
_NOTES_SHOWN = 5


@dataclass(frozen=True)
class Limits:
    max_items: int = DEFAULT_MAX_ITEMS

    @property
    def max_nodes(self) -> int:
        return self.max_items * NODES_PER_ITEM


@dataclass(frozen=True)
class Cut:
    probe: str
    path: str  # "" for the probe's value itself, else e.g. "pods" or "groups[3].key"
    original: int
    kept: int
    unit: str  # items, entries, characters

    def text(self) -> str:
        where = f"{self.probe}.{self.path}" if self.path else self.probe
        return f"{where}: {self.original} {self.unit}, cut to {self.kept}"


DEFAULT_LIMITS = Limits()


@dataclass
class Bounded:
    scope: dict[str, Any]
    cuts: list[Cut] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What the diagnosis says about the cuts: the condition saw a sample."""
        if not self.cuts:
            return []
        shown = "; ".join(c.text() for c in self.cuts[:_NOTES_SHOWN])
        more = len(self.cuts) - _NOTES_SHOWN
        if more > 0:
            shown += f"; and {more} more"
        return [
            "conditions and templates saw a sample of the probe data "
            f"(HONUA_BOT_RULE_DATA_MAX_ITEMS): {shown}. size() of a cut field counts the "
            "sample; its full length is in <probe>.cut"
        ]


class _Walk:
    def __init__(self, probe: str, limits: Limits) -> None:
        self.probe = probe
        self.limits = limits
        self.nodes_left = limits.max_nodes
        self.cuts: list[Cut] = []
        self.lengths: dict[str, int] = {}

    def cut(self, at: int, path: str, original: int, kept: int, unit: str) -> None:
        self.cuts.insert(at, Cut(self.probe, path, original, kept, unit))  # parents first
        self.lengths[path] = original  # "" when the probe's top-level map was cut

    def value(self, value: Any, path: str) -> Any:
        self.nodes_left -= 1
        if isinstance(value, str):
            if len(value) > MAX_CHARS:
                self.cut(len(self.cuts), path, len(value), MAX_CHARS, "characters")
                return value[:MAX_CHARS]
            return value
        if isinstance(value, dict):
            at, out = len(self.cuts), dict[Any, Any]()
            for key, item in list(value.items())[: self.limits.max_items]:
                if self.nodes_left <= 0:  # the probe's whole budget is spent
                    break
                out[key] = self.value(item, f"{path}.{key}" if path else str(key))
            if len(out) < len(value):
                self.cut(at, path, len(value), len(out), "entries")
            return out
        if isinstance(value, list | tuple):
            at, items = len(self.cuts), list[Any]()
            for item in value[: self.limits.max_items]:
                if self.nodes_left <= 0:
                    break
                items.append(self.value(item, f"{path}[{len(items)}]"))
            if len(items) < len(value):
                self.cut(at, path, len(value), len(items), "items")
            return items
        return value


def bound_value(probe: str, value: Any, limits: Limits) -> tuple[Any, list[Cut]]:
    """``value`` (one finding's CEL value) within ``limits``, and what was cut.
    A dict gets ``cut``: field path → original length."""
    walk = _Walk(probe, limits)
    if not isinstance(value, dict):
        return walk.value(value, ""), walk.cuts
    # the fields every finding has (ok, error, configured) are never cut
    kept = {k: v for k, v in value.items() if k in COMMON}
    out = walk.value({k: v for k, v in value.items() if k not in COMMON}, "")
    return {**out, **kept, CUT_FIELD: walk.lengths}, walk.cuts


def bound_scope(scope: dict[str, Any], limits: Limits, probes: set[str] | None = None) -> Bounded:
    """Each of ``probes`` (default: every name) in ``scope`` bounded; others as they are."""
    out = dict(scope)
    cuts: list[Cut] = []
    for name, value in scope.items():
        if probes is None or name in probes:
            out[name], found = bound_value(name, value, limits)
            cuts.extend(found)
    return Bounded(out, cuts)
