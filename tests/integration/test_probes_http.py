"""http.json_field against a local aiohttp server playing a provider's status
page (Statuspage.io summary.json shape), through the run_probe path the engine uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters import AdapterError, Adapters
from bot.adapters.status_page import StatusPageClient, lookup
from bot.alerts.diagnose import run_probe
from bot.models import Finding
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.helpers import free_port

SUMMARY = {
    "page": {"id": "abc", "name": "OpenAI"},
    "status": {"indicator": "minor", "description": "Partially Degraded Service"},
    "components": [
        {"name": "API", "status": "operational"},
        {"name": "Chat Completions", "status": "degraded_performance"},
    ],
    "incidents": [],
}


@pytest.fixture
async def status_site() -> AsyncIterator[str]:
    async def summary(_: web.Request) -> web.Response:
        return web.json_response(SUMMARY)

    async def broken(_: web.Request) -> web.Response:
        return web.Response(status=500, text="upstream exploded")

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>maintenance</html>", content_type="text/html")

    async def moved(_: web.Request) -> web.Response:
        raise web.HTTPFound("/api/v2/summary.json")

    async def big(_: web.Request) -> web.Response:
        return web.json_response({"padding": "x" * 5000})

    app = web.Application()
    app.router.add_get("/api/v2/summary.json", summary)
    app.router.add_get("/broken", broken)
    app.router.add_get("/html", html)
    app.router.add_get("/moved", moved)
    app.router.add_get("/big", big)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.fixture
async def adapters() -> AsyncIterator[Adapters]:
    a = Adapters()  # http needs no configuration
    yield a
    await a.aclose()


async def probe(
    adapters: Adapters, params: dict[str, Any], variables: dict[str, Any] | None = None
) -> Finding:
    return await run_probe(
        ProbeCall("p", "http.json_field", params),
        probes,
        ProbeContext(adapters),
        5,
        variables or {},
    )


async def test_reads_a_field_at_a_dotted_path(adapters: Adapters, status_site: str) -> None:
    url = f"{status_site}/api/v2/summary.json"
    f = await probe(adapters, {"url": url, "path": "status.indicator"})
    assert f.ok, f.error
    assert f.data == {"status_code": 200, "found": True, "value": "minor"}

    ok = await probe(adapters, {"url": url, "path": "status.indicator", "expect": "minor"})
    bad = await probe(adapters, {"url": url, "path": "status.indicator", "expect": "none"})
    assert ok.data["matches"] is True and bad.data["matches"] is False

    listed = await probe(adapters, {"url": url, "path": "components.1.status"})
    assert listed.data["value"] == "degraded_performance"
    whole = await probe(adapters, {"url": url})
    assert whole.data["value"] == SUMMARY

    missing = await probe(adapters, {"url": url, "path": "status.nope", "expect": "none"})
    assert missing.ok and missing.data == {
        "status_code": 200,
        "found": False,
        "value": None,
        "matches": False,
    }


async def test_url_from_alert_labels_and_redirects_followed(
    adapters: Adapters, status_site: str
) -> None:
    variables = {"labels": {"status_url": f"{status_site}/moved"}}
    f = await probe(adapters, {"url": "{{ labels.status_url }}", "path": "page.name"}, variables)
    assert f.ok, f.error
    assert f.data["value"] == "OpenAI" and f.data["status_code"] == 200


async def test_server_error_is_a_failed_finding(adapters: Adapters, status_site: str) -> None:
    f = await probe(adapters, {"url": f"{status_site}/broken", "path": "status.indicator"})
    assert not f.ok
    host = status_site.removeprefix("http://")
    assert f.error == f"HTTP 500 from {host}/broken: upstream exploded"


async def test_non_json_answer_is_a_failed_finding(adapters: Adapters, status_site: str) -> None:
    f = await probe(adapters, {"url": f"{status_site}/html", "path": "status"})
    assert not f.ok
    host = status_site.removeprefix("http://")
    assert f.error == f"{host}/html: answer is not JSON (text/html; charset=utf-8)"


async def test_refused_names_host_port(adapters: Adapters) -> None:
    port = free_port()
    f = await probe(adapters, {"url": f"http://127.0.0.1:{port}/api/v2/status.json?t=secret"})
    assert not f.ok
    assert f.error == f"connection refused: 127.0.0.1:{port}/api/v2/status.json"


async def test_only_http_and_https(adapters: Adapters) -> None:
    for url in ("file:///etc/passwd", "ftp://example.com/x.json", "/relative/path"):
        f = await probe(adapters, {"url": url})
        assert not f.ok and f.error is not None
        assert f.error.startswith("bad params after templating"), f.error
        assert "only http and https" in f.error
    with pytest.raises(AdapterError, match="only http and https"):
        await adapters.http.get_json("file:///etc/passwd")
    extra = await probe(adapters, {"url": "http://127.0.0.1/x", "pth": "status"})
    assert not extra.ok  # extra="forbid": a typo in a rule does not pass silently


async def test_answer_larger_than_the_limit_is_refused(status_site: str) -> None:
    client = StatusPageClient(max_bytes=1000)
    try:
        with pytest.raises(AdapterError, match="answer larger than 1000 bytes"):
            await client.get_json(f"{status_site}/big")
    finally:
        await client.aclose()


def test_lookup_paths() -> None:
    doc = {"a": {"b": [10, {"c": None}]}, "n": 0}
    assert lookup(doc, "a.b.0") == (True, 10)
    assert lookup(doc, "a.b.-1.c") == (True, None)
    assert lookup(doc, "a.b.2") == (False, None)
    assert lookup(doc, "a.x") == (False, None)
    assert lookup(doc, "n.z") == (False, None)
    assert lookup(doc, "") == (True, doc)
