"""Limits of the HTTP listener: how many connections at once, and what the
event loop logs when the process runs out of file descriptors.

Beyond ``max_connections`` a new connection gets a 503 (``Connection: close``)
written straight to the socket and is closed: cheap, and the client (an
Alertmanager) retries. When ``accept()`` fails for want of descriptors, asyncio
logs a traceback every second; one line a minute says it instead.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from bot.logs import get_logger

log = get_logger("web")
_BUSY_BODY = json.dumps(
    {"status": "error", "error": "too many connections; retry shortly"}
).encode()
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
    + str(len(_BUSY_BODY)).encode()
    + b"\r\n\r\n"
    + _BUSY_BODY
)
EXHAUSTION_LOG_EVERY = 60.0  # seconds between "out of file descriptors" lines


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


class CappedTCPSite(web.TCPSite):
    """A TCPSite that refuses connections beyond ``max_connections``."""

    def __init__(self, runner: web.AppRunner, *args: Any, max_connections: int, **kw: Any):
        super().__init__(runner, *args, **kw)
        self.max_connections = max_connections
        self.refused = 0

    def _protocol(self) -> asyncio.Protocol:
        server = self._runner.server
        assert server is not None
        if len(server.connections) >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:
                log.warning(
                    "connection refused: too many open connections",
                    limit=self.max_connections,
                    refused=self.refused,
                )
            return _Refuse()
        return server()

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


def install_loop_exception_handler(loop: asyncio.AbstractEventLoop) -> None:
    """Descriptor exhaustion logged once a minute without a traceback; everything
    else through the JSON log with its traceback."""
    last = [-EXHAUSTION_LOG_EVERY]
    skipped = [0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", "event loop error"))
        exc = context.get("exception")
        if message.startswith("socket.accept() out of system resource"):
            now = time.monotonic()
            if now - last[0] < EXHAUSTION_LOG_EVERY:
                skipped[0] += 1
                return
            log.error(
                "cannot accept connections: out of file descriptors (raise ulimit -n "
                "or lower HONUA_BOT_MAX_CONNECTIONS)",
                error=str(exc),
                repeats_since_last=skipped[0],
            )
            last[0], skipped[0] = now, 0
            return
        fields = {k: repr(v)[:300] for k, v in context.items() if k not in ("message", "exception")}
        if isinstance(exc, BaseException):
            log.error(message, exc_info=exc, **fields)
        else:
            log.error(message, **fields)

    loop.set_exception_handler(handler)
