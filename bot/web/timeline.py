"""``GET /incidents/{id}/timeline``: an incident's history for a postmortem, behind
the same bearer token as ``/incidents`` (the middleware in :mod:`bot.web.auth`). JSON by default; Markdown (what
``honua-bot timeline`` prints) with ``?format=markdown`` or ``Accept: text/markdown``."""

from __future__ import annotations

from aiohttp import web

from bot.app import Service
from bot.tuning import timeline


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


def routes(service: Service) -> list[web.RouteDef]:
    async def get_timeline(request: web.Request) -> web.Response:
        incident_id = request.match_info["id"]
        found = await timeline.load(service.store, incident_id)
        if found is None:
            return _error(404, f"no incident {incident_id}")
        incident, steps = found
        wants = request.query.get("format", "")
        if wants not in ("", "json", "markdown"):
            return _error(400, "format must be json or markdown")
        if wants == "markdown" or (
            not wants and "text/markdown" in request.headers.get("Accept", "")
        ):
            return web.Response(
                text=timeline.markdown(incident, steps), content_type="text/markdown"
            )
        return web.json_response(timeline.as_dict(incident, steps))

    return [web.get("/incidents/{id}/timeline", get_timeline)]
