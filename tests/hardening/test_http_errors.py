"""Item 3 (and 12): /alerts and the other handlers never answer a bare 500."""

from __future__ import annotations

import io
import json
from typing import Any

import structlog

from bot import logs
from tests.helpers import BotHarness, notification


async def test_gzip_declared_but_junk_body_is_400() -> None:
    async with BotHarness() as bot:
        resp = await bot.http.post(
            "/alerts",
            content=b'{"status": "firing"} and not gzip',
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
        assert resp.status_code == 400, resp.text
        assert "Content-Encoding: gzip" in resp.json()["error"]


async def test_handler_exception_is_json_500_with_error_id_in_the_log() -> None:
    buf = io.StringIO()
    logs.configure("info", stream=buf)
    try:
        async with BotHarness() as bot:

            async def broken(*_: Any, **__: Any) -> Any:
                raise RuntimeError("store bug")

            bot.service.store.list_incidents = broken  # type: ignore[method-assign]
            resp = await bot.http.get("/incidents")
            assert resp.status_code == 500
            body = resp.json()
            ref = body["error_id"]
            assert body["status"] == "error" and "store bug" not in resp.text
    finally:
        structlog.reset_defaults()
    lines = [json.loads(x) for x in buf.getvalue().splitlines() if x.strip()]
    [failed] = [x for x in lines if x.get("error_id") == ref]
    assert "RuntimeError: store bug" in failed["exception"]


async def test_incidents_limit_out_of_range_is_400() -> None:
    async with BotHarness() as bot:
        assert (await bot.post(notification())).status_code == 200
        for bad in ("-1", "0", "501", "1e9"):
            resp = await bot.http.get("/incidents", params={"limit": bad})
            assert resp.status_code == 400, (bad, resp.text)
        assert (await bot.http.get("/incidents", params={"limit": "500"})).status_code == 200


async def test_undecodable_deflate_body_does_not_stall_the_connection() -> None:
    """aiohttp's decompressor may wait for ever on a deflate body it cannot
    finish: the body timeout answers 408 and the connection is not reused."""
    import httpx

    async with BotHarness(body_timeout_seconds=1) as bot:
        async with httpx.AsyncClient(base_url=bot.url, timeout=8) as http:
            for _ in range(3):
                junk = await http.post(
                    "/alerts", content=b"\x00", headers={"Content-Encoding": "deflate"}
                )
                assert junk.status_code in (400, 408), junk.text
                after = await http.post("/alerts", json=notification())
                assert after.status_code == 200, after.text
