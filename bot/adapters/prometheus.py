"""Prometheus HTTP API: instant queries shaped into numbers and labelled series."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.adapters.errors import AdapterError
from bot.adapters.http import JsonHttpClient


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    values: list[float]
    times: list[float] = field(default_factory=list)  # unix seconds of each value


def _number(raw: Any) -> float:
    value = float(raw)
    return value if math.isfinite(value) else float("nan")


class PrometheusClient(JsonHttpClient):
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout, "prometheus")

    def _status_error(self, resp: httpx.Response) -> str:
        try:
            body = resp.json()
            return f"prometheus rejected the query ({body.get('errorType')}): {body.get('error')}"
        except ValueError:
            return super()._status_error(resp)

    async def query(self, expr: str) -> list[Sample]:
        body = await self.get_json("/api/v1/query", {"query": expr})
        if body.get("status") != "success":
            raise AdapterError(f"prometheus: {body.get('errorType')}: {body.get('error')}")
        data = body["data"]
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [Sample(dict(r["metric"]), _number(r["value"][1])) for r in result]
        if kind == "scalar":
            return [Sample({}, _number(result[1]))]
        if kind == "matrix":
            return [
                Sample(dict(r["metric"]), _number(r["values"][-1][1]))
                for r in result
                if r["values"]
            ]
        raise AdapterError(f"prometheus: unsupported result type {kind!r}")

    async def query_range(self, expr: str, seconds: float, step: float) -> list[Series]:
        end = time.time()
        params = {
            "query": expr,
            "start": f"{end - seconds:.3f}",
            "end": f"{end:.3f}",
            "step": f"{step:g}",
        }
        body = await self.get_json("/api/v1/query_range", params)
        if body.get("status") != "success":
            raise AdapterError(f"prometheus: {body.get('errorType')}: {body.get('error')}")
        return [
            Series(
                dict(r["metric"]),
                [_number(v) for _, v in r["values"]],
                [float(t) for t, _ in r["values"]],
            )
            for r in body["data"]["result"]
        ]
