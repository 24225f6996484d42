"""Shared test helpers: payload builders, polling, free ports, a private redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alert(
    alertname: str = "HighProcessFailureRate",
    status: str = "firing",
    starts_at: str = "2026-11-27T03:00:00Z",
    fingerprint: str | None = "fp-0001",
    **labels: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": alertname, "namespace": "honua-process-framework", **labels},
        "annotations": {"summary": f"{alertname} is {status}"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else datetime.now(UTC).isoformat(),
        "generatorURL": "http://prometheus:9090/graph",
    }
    if fingerprint is not None:
        out["fingerprint"] = fingerprint
    return out


def notification(*alerts: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    alerts = alerts or (alert(),)
    return {
        "version": "4",
        "receiver": "honua-bot",
        "status": status or alerts[0]["status"],
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


async def wait_for(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any],
    timeout: float = 10.0,
    interval: float = 0.05,
) -> Any:
    """Poll until ``check()`` returns something truthy; fail with a clear message at the deadline."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


def wait_for_sync(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s (last value: {last!r})")


class RedisServer:
    """A private redis-server on a free port, for tests that kill or corrupt Redis."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.data_dir = data_dir  # where SAVE/BGSAVE write; None: the working directory

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *(["--dir", str(self.data_dir)] if self.data_dir else []),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_for_sync(lambda: _pings(client), timeout=10)
        client.close()
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


class BotHarness:
    """A whole bot (Service + aiohttp app) on a real loopback port, with a Recorder
    notifier, for tests that talk HTTP to it. Use as ``async with BotHarness(...) as h``."""

    def __init__(self, notifier: Any = None, watch_rules: bool = False, **settings: Any) -> None:
        from bot.config import Settings
        from bot.notify import Recorder

        settings.setdefault("rules", REPO / "rules")
        settings.setdefault("port", 0)
        self.settings = Settings(**settings)
        self.recorder = notifier or Recorder()
        self.watch_rules = watch_rules

    async def __aenter__(self) -> BotHarness:
        import httpx
        from aiohttp import web

        from bot.app import Service
        from bot.web import create_app

        self.service = Service(self.settings, notifier=self.recorder)
        await self.service.start(watch_rules=self.watch_rules)
        self.runner = web.AppRunner(create_app(self.service, start_service=False), access_log=None)
        await self.runner.setup()
        self.port = free_port()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()
        await self.service.stop(grace=5)
        await self.runner.cleanup()

    async def post(self, payload: Any, token: str | None = None, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.post("/alerts", json=payload, headers=headers, **kw)


@contextlib.asynccontextmanager
async def silent_tcp_server() -> AsyncIterator[int]:
    """Accepts connections and never answers: a hung Redis or PostgreSQL."""
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            await reader.read()  # until the client hangs up

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for w in writers:
            w.close()
        await server.wait_closed()


class GatedNotifier:
    """A notifier that holds every call until ``release`` is set, so queued work cannot drain."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        self.events: list[tuple[Any, Any]] = []

    async def notify(self, incident: Any, event: Any) -> None:
        self.entered.set()
        await self.release.wait()
        self.events.append((event, incident.model_copy(deep=True)))
