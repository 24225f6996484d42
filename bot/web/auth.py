"""The one bearer-token check of the HTTP API (:func:`bot.alerts.intake.check_bearer`,
constant time), as an aiohttp middleware:
``/alerts`` and ``/incidents`` take the webhook token, ``/admin`` the admin token.
Every refusal is a 401 JSON error; a token that is not configured leaves its
routes open (webhook) or switched off with a 404 (admin)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.alerts.intake import IntakeError, check_bearer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, message: str) -> web.Response:
    return web.json_response({"status": "error", "error": message}, status=status)


@dataclass(frozen=True)
class Guard:
    """The token for the paths under ``prefix``."""

    prefix: str
    token: Callable[[], str | None]
    disabled: str = ""  # when no token is set: 404 with this message ("" : open)
    refusal: str = ""  # the 401 message ("": the reason, missing / wrong token)
    refused: Callable[[web.Request, str], None] | None = None  # count it, log it

    def covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


def bearer_middleware(
    guards: Sequence[Guard],
) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        guard = next((g for g in guards if g.covers(request.path)), None)
        if guard is None:
            return await handler(request)
        token = guard.token()
        if token is None and guard.disabled:
            return error(404, guard.disabled)
        try:
            check_bearer(request.headers.get("Authorization"), token)
        except IntakeError as exc:
            if guard.refused is not None:
                guard.refused(request, exc.message)
            return error(401, guard.refusal or exc.message)
        return await handler(request)

    return middleware
