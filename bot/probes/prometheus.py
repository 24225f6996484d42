"""Prometheus probes: a PromQL instant query as a number and per-label values."""

from __future__ import annotations

import math
import time
from typing import Any

from pydantic import Field

from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes
from bot.rules.durations import Duration


class PrometheusQuery(ProbeParams):
    expr: str = Field(min_length=1, description="PromQL instant query")
    by: str | None = Field(default=None, description="label whose values key `by_label`")


@probes.register("prometheus.query")
async def prometheus_query(params: PrometheusQuery, ctx: ProbeContext) -> dict[str, Any]:
    """Run a PromQL instant query.

    Returns `value` (first sample, or null when empty), `empty`, `series`
    (labels and value of each sample) and, with `by`, `by_label` {label value: value}.
    """
    samples = await ctx.adapters.prometheus.query(params.expr)
    values = [None if math.isnan(s.value) else s.value for s in samples]
    result: dict[str, Any] = {
        "value": values[0] if values else None,
        "empty": not samples,
        "series": [{"labels": s.labels, "value": v} for s, v in zip(samples, values, strict=True)],
    }
    if params.by:
        result["by_label"] = {
            s.labels.get(params.by, ""): v for s, v in zip(samples, values, strict=True)
        }
    return result


class PrometheusRange(ProbeParams):
    expr: str = Field(min_length=1, description="PromQL evaluated over a time range")
    range: Duration = Field(default=3600, gt=0, description="how far back, e.g. 1h")
    step: Duration = Field(default=60, gt=0, description="resolution, e.g. 1m")


def _stats(values: list[float]) -> dict[str, float | None]:
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return {"min": None, "max": None, "avg": None, "last": None}
    return {
        "min": min(finite),
        "max": max(finite),
        "avg": sum(finite) / len(finite),
        "last": finite[-1],
    }


@probes.register("prometheus.range")
async def prometheus_range(params: PrometheusRange, ctx: ProbeContext) -> dict[str, Any]:
    """Run a PromQL range query and summarise each series.

    Returns `series` (labels, min, max, avg, last, points), `empty`, the first
    series' `min`, `max`, `avg` and `last` at the top level, and its `samples`
    [{age_seconds, value}] (oldest first; value null where not a number), so a rule
    can compare before and after a moment such as a rollout.
    """
    found = await ctx.adapters.prometheus.query_range(params.expr, params.range, params.step)
    series = [{"labels": s.labels, **_stats(s.values), "points": len(s.values)} for s in found]
    first = series[0] if series else {**_stats([]), "points": 0}
    now = time.time()
    samples = (
        [
            {"age_seconds": round(now - t, 1), "value": None if math.isnan(v) else v}
            for t, v in zip(found[0].times, found[0].values, strict=False)
        ]
        if found
        else []
    )
    return {
        "series": series,
        "empty": not series,
        **{k: first[k] for k in ("min", "max", "avg", "last")},
        "samples": samples,
    }
