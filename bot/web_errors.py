"""What the HTTP surface answers when a request cannot be handled.

A body that cannot be read (a ``Content-Encoding`` it does not match, a
connection cut mid-body) is the caller's fault: 400. Anything else a handler
raises is the bot's: a JSON 500 carrying an error id that the log line carries
too, so a report from the caller finds the traceback. Never a bare traceback.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from bot.alerts.intake import IntakeError
from bot.logs import get_logger

log = get_logger("web")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLOSE_AFTER = web.RequestKey("close_after", bool)  # the body read failed: do not reuse


def error_id() -> str:
    return uuid.uuid4().hex[:12]


async def read_body(request: web.Request, limit: int, timeout: float = 10.0) -> bytes:
    """The whole body within ``timeout`` seconds, or an :class:`IntakeError`
    naming why it cannot be had."""
    if request.content_length is not None and request.content_length > limit:
        raise IntakeError(
            413, "too_large", f"body is {request.content_length} bytes; the limit is {limit}"
        )
    try:
        return await asyncio.wait_for(request.read(), timeout)
    except TimeoutError as exc:
        # aiohttp's decompressor can wait for ever on a body it cannot finish
        # (deflate b"\x00"): that connection's parser is stuck, so close it
        request[CLOSE_AFTER] = True
        raise IntakeError(408, "body_timeout", f"body not received within {timeout:g} s") from exc
    except web.HTTPRequestEntityTooLarge as exc:
        raise IntakeError(413, "too_large", f"body exceeds the limit of {limit} bytes") from exc
    except RequestPayloadError as exc:
        request[CLOSE_AFTER] = True
        encoding = request.headers.get("Content-Encoding", "")
        what = f" (Content-Encoding: {encoding})" if encoding else ""
        raise IntakeError(400, "unreadable_body", f"body could not be read{what}") from exc


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
        if request.get(CLOSE_AFTER):
            response.force_close()
        return response
    except web.HTTPException:
        raise
    except RequestPayloadError:
        return web.json_response({"status": "error", "error": "body could not be read"}, status=400)
    except Exception:
        ref = error_id()
        log.exception("request failed", error_id=ref, method=request.method, path=request.path)
        return web.json_response(
            {"status": "error", "error": "internal error", "error_id": ref}, status=500
        )
