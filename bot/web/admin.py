"""Token-protected admin endpoints: the kill switch for automatic actions.

``GET /admin/pause`` shows it, ``POST /admin/pause`` (JSON ``{"reason": "…",
"by": "…"}``, both optional) sets it, ``POST /admin/resume`` clears it. With no
``HONUA_BOT_ADMIN_TOKEN`` the endpoints answer 404: there is no admin API."""

from __future__ import annotations

import json

from aiohttp import web

from bot.app import Service
from bot.logs import get_logger

log = get_logger("admin")


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


def routes(service: Service) -> list[web.RouteDef]:
    async def state(request: web.Request) -> web.Response:
        paused = await service.engine.safety.paused()
        return web.json_response({"paused": bool(paused), "reason": paused})

    async def pause(request: web.Request) -> web.Response:
        body: object = {}
        if request.can_read_body:
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError as exc:
                return _error(400, f"body: not JSON: {exc}")
        if not isinstance(body, dict) or not all(
            isinstance(body.get(k, ""), str) for k in ("reason", "by")
        ):
            return _error(400, "body: expected an object with string fields reason and by")
        by = f"admin:{body.get('by') or request.remote or '?'}"
        await service.engine.safety.pause(by, str(body.get("reason", "")))
        log.warning("automatic actions paused", by=by, reason=body.get("reason", ""))
        return await state(request)

    async def resume(request: web.Request) -> web.Response:
        await service.engine.safety.resume()
        log.warning("automatic actions resumed", remote=request.remote)
        return await state(request)

    return [
        web.get("/admin/pause", state),
        web.post("/admin/pause", pause),
        web.post("/admin/resume", resume),
    ]
