"""Prometheus probes: a PromQL instant query as a number and per-label values."""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes


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
