"""Plain HTTP probes: a field of a JSON document, e.g. an LLM provider's status page (Runbook 4)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from bot.adapters.http import check_url
from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes

JsonScalar = str | int | float | bool


class HttpJsonField(ProbeParams):
    url: str = Field(
        min_length=1,
        description="absolute http(s) URL of a JSON document, e.g. https://status.openai.com/api/v2/status.json",
    )
    path: str = Field(
        default="",
        description="dotted path of the field, e.g. status.indicator; a number indexes a list; empty = the whole document",
    )
    expect: JsonScalar | None = Field(
        default=None, description="when given, `matches` tells whether the value equals it"
    )

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str) -> str:
        return check_url(url.strip())


@probes.register("http.json_field")
async def http_json_field(params: HttpJsonField, ctx: ProbeContext) -> dict[str, Any]:
    """GET a JSON document and read one field at a dotted path.

    Returns `status_code`, `found` (the path exists), `value` (null when not
    found) and, when `expect` is given, `matches` (value == expect). An answer of
    400 or more, a body that is not JSON, or no answer at all is a failed
    finding whose `error` says which ("HTTP 503 from host/path: …",
    "connection refused: host:port/path").
    """
    reading = await ctx.adapters.http.read_field(params.url, params.path)
    result: dict[str, Any] = {
        "status_code": reading.status_code,
        "found": reading.found,
        "value": reading.value,
    }
    if params.expect is not None:
        result["matches"] = reading.found and reading.value == params.expect
    return result
