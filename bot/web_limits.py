"""Limits of the HTTP listener: how many connections at once, and what the
event loop logs when the process runs out of file descriptors.

A connection that has not sent a complete request head within
``header_timeout`` seconds (of connecting, or of the first byte of its next
request on keep-alive) gets a 408 and is closed: aiohttp itself has no such
timeout, so a client dribbling its headers would hold the connection.

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


def _raw_json_response(status: str, error: str, extra_headers: bytes = b"") -> bytes:
    """A whole HTTP/1.1 response written straight to a transport that aiohttp never saw."""
    body = json.dumps({"status": "error", "error": error}).encode()
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n".encode()
        + extra_headers
        + f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


_BUSY = _raw_json_response(
    "503 Service Unavailable", "too many connections; retry shortly", b"Retry-After: 1\r\n"
)
EXHAUSTION_LOG_EVERY = 60.0  # seconds between "out of file descriptors" lines
_SLOW_HEAD = _raw_json_response("408 Request Timeout", "request headers not received in time")


class _Refuse(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_BUSY)
        transport.close()


def _heads_parsed(handler: web.RequestHandler) -> int:
    # aiohttp counts the request heads its parser has completed; there is no
    # public hook for "head complete", and tests/hardening pin this behaviour
    return int(getattr(handler, "_request_count", 0))


def _awaiting_request(handler: web.RequestHandler) -> bool:
    # set while the handler waits for the next request (idle, between requests)
    return getattr(handler, "_waiter", None) is not None


class HeadDeadline(asyncio.Protocol):
    """aiohttp's RequestHandler plus a deadline for each request head.

    Armed when the connection opens and when the first byte of a further request
    arrives on an idle keep-alive connection; disarmed as soon as aiohttp has
    parsed a complete head. When it fires: a 408, ``Connection: close``, closed.
    """

    def __init__(self, inner: web.RequestHandler, timeout: float, on_timeout: Any) -> None:
        self.inner = inner
        self.timeout = timeout
        self.on_timeout = on_timeout
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.heads = 0

    def _arm(self) -> None:
        self.heads = _heads_parsed(self.inner)
        self.timer = asyncio.get_running_loop().call_later(self.timeout, self._expire)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _expire(self) -> None:
        self.timer = None
        if self.transport is None or _heads_parsed(self.inner) != self.heads:
            return
        self.on_timeout()
        self.transport.write(_SLOW_HEAD)
        self.inner.force_close()
        self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        idle = _awaiting_request(self.inner)
        self.inner.data_received(data)
        if _heads_parsed(self.inner) != self.heads:
            self._disarm()
            self.heads = _heads_parsed(self.inner)
        elif self.timer is None and idle and data:
            self._arm()  # the first bytes of the next request on a keep-alive connection

    def eof_received(self) -> None:
        self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.transport = None
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class CappedTCPSite(web.TCPSite):
    """A TCPSite that refuses connections beyond ``max_connections`` and closes
    those that do not send a request head within ``header_timeout`` seconds."""

    def __init__(
        self,
        runner: web.AppRunner,
        *args: Any,
        max_connections: int,
        header_timeout: float | None = None,
        **kw: Any,
    ):
        super().__init__(runner, *args, **kw)
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.refused = 0
        self.slow_heads = 0

    def _slow_head(self) -> None:
        self.slow_heads += 1
        if self.slow_heads == 1 or self.slow_heads % 1000 == 0:
            log.warning(
                "connection closed: request headers not received in time (408)",
                header_timeout_seconds=self.header_timeout,
                closed=self.slow_heads,
            )

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
        handler = server()
        if self.header_timeout is None:
            return handler
        return HeadDeadline(handler, self.header_timeout, self._slow_head)

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
