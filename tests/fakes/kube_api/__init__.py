"""A faithful in-memory Kubernetes API server (the REST wire protocol, for the real
``kubernetes_asyncio`` client). See ``FakeKube`` for the knobs and ``seed_honua`` for
the Honua namespace.

    fake = seed_honua(FakeKube())
    with KubeFakeServer(fake) as server:          # background thread, free loopback port
        Configuration(host=server.url) ...
    async with serve(fake) as url: ...            # on the running event loop

    python -m tests.fakes.kube_api --port 8001 --seed honua
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from tests.fakes.kube_api.errors import KubeError
from tests.fakes.kube_api.fake import DEFAULT_USER, FakeKube, Rule
from tests.fakes.kube_api.routes import create_app
from tests.fakes.kube_api.seed import NAMESPACE, seed_honua
from tests.fakes.server import ThreadedServer
from tests.helpers import free_port


class KubeFakeServer:
    """``FakeKube`` served from a background thread; ``url`` for ``Configuration(host=...)``."""

    def __init__(self, fake: FakeKube | None = None) -> None:
        self.fake = fake or FakeKube()
        self._server = ThreadedServer(create_app(self.fake))

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> KubeFakeServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> KubeFakeServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@asynccontextmanager
async def serve(
    fake: FakeKube, host: str = "127.0.0.1", port: int | None = None
) -> AsyncIterator[str]:
    """Serve ``fake`` on the running loop; yields the base URL."""
    runner = web.AppRunner(create_app(fake), access_log=None)
    await runner.setup()
    port = port or free_port()
    await web.TCPSite(runner, host, port).start()
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


__all__ = [
    "DEFAULT_USER",
    "NAMESPACE",
    "FakeKube",
    "KubeError",
    "KubeFakeServer",
    "Rule",
    "create_app",
    "seed_honua",
    "serve",
]
