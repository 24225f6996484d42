"""The probe data a rule's conditions and templates see, cut to a size whose
worst allowed evaluation holds the GIL briefly.

The CEL binding (a Rust extension) holds the GIL for all of ``execute``: turning
the variables into CEL values (~1.3 µs per value) and then evaluating. A worker
thread cannot stop it, so while it runs the event loop (health checks, intake,
Slack clicks) is frozen. Its cost grows with the data: two nested comprehensions
over a 50,000-item list froze the loop ~15 s. Conditions are limited to cost
N² in the length N of the lists they iterate (``cel.MAX_DEGREE``), so bounding
N bounds the freeze: lists and maps beyond ``max_items`` entries keep their first
``max_items``, strings beyond ``MAX_CHARS`` their first characters, and what
lies below one probe's own fields at most ``max_items * NODES_PER_ITEM`` values
(spent so that the fields stay there and list items stay whole: ``_Walk``).
Measured figures: bench/rule_eval.py, docs/reliability.md.

A cut is never silent: each finding's value carries ``cut`` (field path →
original length, ``{}`` when nothing was cut), and the diagnosis notes name the
probe, the field and its original length.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
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


class _OverBudget(Exception):
    """A list item does not fit whole in what is left of the probe's budget."""


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list | tuple)


class _Walk:
    """Spends one probe's node budget so that what is kept stays well formed:

    - the probe's own fields are always all there (its first ``max_items``),
      outside the budget: a big first field cannot make a later one vanish;
    - a nested map keeps all its (first ``max_items``) fields, paying one node
      each, or becomes ``{}`` when the budget cannot pay them;
    - a map's scalars are placed before its containers spend the rest; a
      container over budget becomes an empty list or map, never goes missing;
    - a list keeps its first items, each whole (a list item never loses keys to
      the budget: that would turn a false ``exists`` into an error), up to the
      first item that does not fit;
    - every list or map cut by the budget is recorded like one cut by length.

    An item found not to fit is walked for nothing; past ``max_nodes`` of such
    waste the budget counts as spent, so the walk's own work stays bounded.
    """

    def __init__(self, probe: str, limits: Limits) -> None:
        self.probe = probe
        self.limits = limits
        self.nodes_left = limits.max_nodes
        self.waste_left = limits.max_nodes
        self.cuts: list[Cut] = []

    def cut(self, at: int, path: str, original: int, kept: int, unit: str) -> None:
        self.cuts.insert(at, Cut(self.probe, path, original, kept, unit))  # parents first

    def lengths(self) -> dict[str, int]:
        return {c.path: c.original for c in self.cuts}  # "" when the probe's map was cut

    def spend(self, nodes: int) -> bool:
        if nodes > self.nodes_left:
            return False
        self.nodes_left -= nodes
        return True

    def scalar(self, value: Any, path: str) -> Any:
        if isinstance(value, str) and len(value) > MAX_CHARS:
            self.cut(len(self.cuts), path, len(value), MAX_CHARS, "characters")
            return value[:MAX_CHARS]
        return value

    def fill(self, value: Any, path: str, whole: bool) -> Any:
        """``value`` bounded, its own node paid for already. ``whole``: inside a
        list item, where running out of budget drops the item (raises)."""
        if isinstance(value, dict):
            return self.fill_map(value, path, whole, fields_paid=False)
        if isinstance(value, list | tuple):
            return self.fill_list(value, path, whole)
        return self.scalar(value, path)

    def fill_map(self, value: dict[Any, Any], path: str, whole: bool, fields_paid: bool) -> Any:
        at, kept = len(self.cuts), min(len(value), self.limits.max_items)
        if not fields_paid and not self.spend(kept):  # all its fields, or none
            if whole:
                raise _OverBudget
            if value:
                self.cut(at, path, len(value), 0, "entries")
            return {}
        entries = list(islice(value.items(), kept))
        out = dict.fromkeys(key for key, _ in entries)  # the fields in their order
        for key, item in entries:  # scalars first: a container cannot starve them
            if not _is_container(item):
                out[key] = self.scalar(item, f"{path}.{key}" if path else str(key))
        for key, item in entries:
            if _is_container(item):
                out[key] = self.fill(item, f"{path}.{key}" if path else str(key), whole)
        if kept < len(value):
            self.cut(at, path, len(value), kept, "entries")
        return out

    def fill_list(self, value: list[Any] | tuple[Any, ...], path: str, whole: bool) -> Any:
        at, items = len(self.cuts), list[Any]()
        for item in value[: self.limits.max_items]:
            nodes_left, cuts = self.nodes_left, len(self.cuts)
            try:
                if not self.spend(1):
                    raise _OverBudget
                items.append(self.fill(item, f"{path}[{len(items)}]", whole=True))
            except _OverBudget:
                if whole:  # the enclosing list item is dropped instead
                    raise
                self.waste_left -= nodes_left - self.nodes_left
                self.nodes_left = nodes_left if self.waste_left > 0 else 0
                del self.cuts[cuts:]  # the dropped item's own cuts
                break
        if len(items) < len(value):
            self.cut(at, path, len(value), len(items), "items")
        return items


def bound_value(probe: str, value: Any, limits: Limits) -> tuple[Any, list[Cut]]:
    """``value`` (one finding's CEL value) within ``limits``, and what was cut.
    A dict gets ``cut``: field path → original length."""
    walk = _Walk(probe, limits)
    if not isinstance(value, dict):
        walk.nodes_left -= 1
        return walk.fill(value, "", whole=False), walk.cuts
    # the fields every finding has (ok, error, configured) are never cut
    kept = {k: v for k, v in value.items() if k in COMMON}
    rest = {k: v for k, v in value.items() if k not in COMMON}
    out = walk.fill_map(rest, "", whole=False, fields_paid=True)
    return {**out, **kept, CUT_FIELD: walk.lengths()}, walk.cuts


def bound_scope(scope: dict[str, Any], limits: Limits, probes: set[str] | None = None) -> Bounded:
    """Each of ``probes`` (default: every name) in ``scope`` bounded; others as they are."""
    out = dict(scope)
    cuts: list[Cut] = []
    for name, value in scope.items():
        if probes is None or name in probes:
            out[name], found = bound_value(name, value, limits)
            cuts.extend(found)
    return Bounded(out, cuts)
