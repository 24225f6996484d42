from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from tests.fakes.honua_sim import Simulator, create_app
from tests.fakes.server import ThreadedServer
from tests.helpers import wait_for_sync
from tests.realbins import PrometheusServer

POSTGRES_DSN = os.environ.get(
    "HONUA_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
async def admin() -> AsyncIterator[asyncpg.Connection]:
    """The test's own superuser connection to PostgreSQL, to set up and to check."""
    try:
        conn = await asyncpg.connect(POSTGRES_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - environment problem
        pytest.fail(f"PostgreSQL is not reachable at {POSTGRES_DSN}: {exc}")
    yield conn
    await conn.close()


@dataclass
class RunningSim:
    sim: Simulator
    server: ThreadedServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def honua_sim(request: pytest.FixtureRequest) -> Iterator[RunningSim]:
    """The Honua simulator on a free port. Parametrise indirectly with a dict of
    Simulator keyword arguments to change the fault, rate or Redis URL."""
    kwargs = {"fault": "llm-rate-limit", "rate": 20, "seed": 7, **getattr(request, "param", {})}
    sim = Simulator(**kwargs)
    sim.seed_history(40)
    server = ThreadedServer(create_app(sim)).start()
    yield RunningSim(sim, server)
    server.stop()


@pytest.fixture
def prometheus(honua_sim: RunningSim) -> Iterator[PrometheusServer]:
    """Real Prometheus scraping the simulator every second, ready once rate() has data."""
    prom = PrometheusServer([f"127.0.0.1:{honua_sim.server.port}"], scrape_interval="1s").start()
    wait_for_sync(lambda: bool(prom.query("rate(honua_process_started_total[5m]) > 0")), 30, 0.5)
    yield prom
    prom.stop()
