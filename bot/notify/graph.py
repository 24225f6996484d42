"""A PNG of an alert's metric over the last hour, with its threshold line.

``alert_query`` finds what to draw: the alert's own PromQL (``g0.expr`` of its
``generatorURL``) split at its comparison (``… > 10`` → the series and a
threshold of 10), else the rule's first ``prometheus.query`` expression.
``render_png`` draws it; matplotlib is imported there, only when a graph is
drawn (the ``graphs`` extra), and it uses no global state (a ``Figure``, no
pyplot), so it is safe to call from a worker thread.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

TITLE = 95  # characters that fit above an 8-inch graph

_COMPARISON = re.compile(
    r"^(?P<expr>.+?)\s*(?P<op>>=|<=|==|!=|>|<)\s*(?:bool\s+)?(?P<value>-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$",
    re.S,
)


@dataclass(frozen=True)
class GraphQuery:
    expr: str
    threshold: float | None = None
    op: str = ""


@dataclass
class Line:
    label: str
    times: list[datetime]
    values: list[float]


@dataclass
class Graph:
    title: str
    lines: list[Line]
    threshold: float | None = None
    op: str = ""
    markers: list[tuple[datetime, str]] = field(default_factory=list)  # an action, when


def split_comparison(expr: str) -> GraphQuery:
    """``a / b * 100 > 10`` → ``GraphQuery("a / b * 100", 10.0, ">")``; a comparison
    inside parentheses or a non-numeric right side is left as it is."""
    text = " ".join(expr.split())
    m = _COMPARISON.match(text)
    if m is None or m["expr"].count("(") != m["expr"].count(")"):
        return GraphQuery(text)
    return GraphQuery(m["expr"].strip(), float(m["value"]), m["op"])


def alert_query(generator_url: str, fallback_expr: str = "") -> GraphQuery | None:
    expr = ""
    if generator_url:
        query = parse_qs(urlsplit(generator_url).query)
        expr = (query.get("g0.expr") or [""])[0]
    expr = expr or fallback_expr
    return split_comparison(expr) if expr.strip() else None


def render_png(graph: Graph, width: float = 8.0, height: float = 3.2) -> bytes:
    """The graph as PNG bytes (matplotlib, imported here)."""
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    for line in graph.lines[:8]:  # more lines would be unreadable
        ax.plot(date2num(line.times), line.values, linewidth=1.6, label=line.label or None)
    if graph.threshold is not None:
        ax.axhline(graph.threshold, color="#d62728", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"alert when {graph.op} {graph.threshold:g}" if graph.op else "threshold",
            xy=(0.0, graph.threshold),
            xycoords=("axes fraction", "data"),
            xytext=(4, 3),
            textcoords="offset points",
            color="#d62728",
            fontsize=8,
        )
    for moment, text in graph.markers:
        ax.axvline(float(date2num(moment)), color="#555555", linestyle=":", linewidth=1.2)
        ax.annotate(
            text,
            xy=(float(date2num(moment)), 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            color="#555555",
        )
    title = graph.title if len(graph.title) <= TITLE else graph.title[: TITLE - 1] + "…"
    ax.set_title(title, fontsize=9, loc="left")
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    ax.grid(True, alpha=0.3)
    if any(line.label for line in graph.lines[:8]) and len(graph.lines) > 1:
        ax.legend(fontsize=7, loc="upper left")
    if not any(line.values for line in graph.lines):
        ax.text(0.5, 0.5, "no data in the last hour", ha="center", transform=ax.transAxes)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
