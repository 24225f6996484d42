"""HTTP surface: /alerts, /incidents, /slack/events, /healthz, /readyz, /metrics."""

from __future__ import annotations

import functools
import json

from aiohttp import web

from bot.alerts.intake import IntakeError, accept
from bot.app import Service
from bot.logs import get_logger
from bot.models import IncidentStatus
from bot.web.admin import routes as admin_routes
from bot.web.auth import Guard, bearer_middleware
from bot.web.timeline import routes as timeline_routes
from bot.web_errors import json_errors, read_body

log = get_logger("web")
SERVICE = web.AppKey("service", Service)
_CONTENT_TYPE_LATEST = "text/plain; version=0.0.4; charset=utf-8"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


async def post_alerts(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    metrics = service.metrics
    try:
        if service.stopping.is_set():
            raise IntakeError(503, "shutting_down", "shutting down; retry another replica")
        settings = service.settings.http
        body = await read_body(request, settings.max_body_bytes, settings.body_timeout_seconds)
        message, _ = await accept(body, service.store)
    except IntakeError as exc:
        metrics.rejected.labels(exc.reason).inc()
        if exc.status >= 500 or exc.status == 401:
            log.warning(
                "notification refused",
                status=exc.status,
                reason=exc.reason,
                error=exc.message,
                remote=request.remote,
            )
        else:
            log.info(
                "notification refused", status=exc.status, reason=exc.reason, error=exc.message
            )
        return _error(exc.status, exc.message)
    metrics.received.labels(message.status).inc()
    return web.Response(body=_queued_body(len(message.alerts)), content_type="application/json")


@functools.lru_cache(maxsize=64)
def _queued_body(alerts: int) -> bytes:
    """The 200 answer, serialised once per alert count (the hot path answers it
    thousands of times a second)."""
    return json.dumps({"status": "queued", "alerts": alerts}).encode()


async def get_incidents(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    status_q = request.query.get("status")
    try:
        status = IncidentStatus(status_q) if status_q else None
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 500:
            raise ValueError(limit)
    except ValueError:
        return _error(400, "status must be open or resolved; limit must be a number from 1 to 500")
    found = await service.store.list_incidents(status, limit)
    return web.json_response([i.model_dump(mode="json") for i in found])


async def get_incident(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    incident = await service.store.get_incident(request.match_info["id"])
    if incident is None:
        return _error(404, f"no incident {request.match_info['id']}")
    return web.json_response(incident.model_dump(mode="json"))


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    problems: list[str] = []
    if service.stopping.is_set():
        problems.append("shutting down")
    if not service.rulebook.loaded:
        problems.append("rules not loaded")
    body = {
        "ready": not problems,
        "problems": problems,
        "degraded": service.degraded_reasons,
        "rules": {
            "path": str(service.rulebook.path),
            "loaded": [r.name for r in service.rulebook.current.rules],
            "last_error": service.rulebook.last_error,
        },
        "store": type(service.store).__name__,
    }
    return web.json_response(body, status=200 if not problems else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[SERVICE].metrics.render()
    return web.Response(body=body, headers={"Content-Type": _CONTENT_TYPE_LATEST})


def create_app(service: Service, start_service: bool = True) -> web.Application:
    # client_max_size makes aiohttp refuse an oversized body while reading it,
    # so a chunked upload without Content-Length is bounded too.
    admin_token = service.settings.http.admin_token

    def alert_refused(request: web.Request, reason: str) -> None:
        service.metrics.rejected.labels("unauthorized").inc()
        log.warning(
            "notification refused",
            status=401,
            reason="unauthorized",
            error=reason,
            remote=request.remote,
        )

    def admin_refused(request: web.Request, reason: str) -> None:
        log.warning("admin request refused", reason=reason, remote=request.remote)

    guards = [
        Guard("/alerts", lambda: service.token, refused=alert_refused),
        Guard("/incidents", lambda: service.token),
        Guard(
            "/admin",
            lambda: admin_token.get_secret_value() if admin_token else None,
            disabled="admin API disabled: set HONUA_BOT_ADMIN_TOKEN to enable it",
            refusal="Authorization: a valid admin bearer token is required",
            refused=admin_refused,
        ),
    ]
    app = web.Application(
        client_max_size=service.settings.http.max_body_bytes,
        # json_errors outermost: whatever fails below answers JSON with an error id
        middlewares=[json_errors, bearer_middleware(guards)],
    )
    app[SERVICE] = service
    app.router.add_post("/alerts", post_alerts)
    app.router.add_get("/incidents", get_incidents)
    app.router.add_get("/incidents/{id}", get_incident)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_routes(admin_routes(service))
    app.router.add_routes(timeline_routes(service))
    if service.slack_app is not None:
        service.slack_app.mount(app)  # POST /slack/events
    if start_service:

        async def _start(_: web.Application) -> None:
            await service.start()

        async def _stop(_: web.Application) -> None:
            await service.stop()

        app.on_startup.append(_start)
        app.on_shutdown.append(_stop)
    return app
