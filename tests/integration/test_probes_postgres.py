"""PostgreSQL probes against the machine's PostgreSQL (127.0.0.1:5432, trust auth,
database ``test``), through the run_probe path the engine uses."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters import Adapters
from bot.adapters.postgres import PostgresClient
from bot.alerts.diagnose import run_probe
from bot.config import Settings
from bot.models import Finding
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.helpers import free_port, silent_tcp_server, wait_for
from tests.integration.conftest import POSTGRES_DSN as DSN


async def probe(adapters: Adapters, type_: str, params: dict[str, Any] | None = None) -> Finding:
    return await run_probe(
        ProbeCall("p", type_, params or {}), probes, ProbeContext(adapters), 5, {}
    )


@pytest.fixture
async def pg(admin: asyncpg.Connection) -> AsyncIterator[Adapters]:
    a = Adapters.from_settings(Settings(postgres_dsn=DSN).targets)
    yield a
    await a.aclose()


async def one_off(dsn: str, type_: str = "postgres.health", **client: Any) -> Finding:
    a = Adapters(postgres_client=PostgresClient(dsn, **client))
    try:
        return await probe(a, type_)
    finally:
        await a.aclose()


async def test_health_reports_version_and_connections_against_max(
    pg: Adapters, admin: asyncpg.Connection
) -> None:
    f = await probe(pg, "postgres.health")
    assert f.ok, f.error
    d = f.data
    assert d["version"] == await admin.fetchval("SHOW server_version")
    assert d["max_connections"] == int(await admin.fetchval("SHOW max_connections"))
    assert d["reserved_connections"] == int(
        await admin.fetchval("SHOW superuser_reserved_connections")
    )
    assert d["database"] == "test"
    assert d["connections"]["active"] >= 1  # the probe's own query
    assert d["connections"].get("idle", 0) >= 1  # the test's admin connection
    assert d["total"] == sum(d["connections"].values()) >= 2
    assert 2 <= d["database_connections"] <= d["total"]
    assert d["used_ratio"] == round(d["total"] / d["max_connections"], 4)
    assert d["available"] == d["max_connections"] - d["reserved_connections"] - d["total"]


async def test_the_probe_session_is_read_only_and_named(pg: Adapters) -> None:
    f = await probe(pg, "postgres.health")
    assert f.ok, f.error
    pool = await pg.postgres._get_pool()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SHOW default_transaction_read_only") == "on"
        assert await conn.fetchval("SHOW application_name") == "honua-bot"
        with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
            await conn.execute("CREATE TEMP TABLE t (x int)")


@pytest.fixture
async def idle_sessions(admin: asyncpg.Connection) -> AsyncIterator[str]:
    """Three idle sessions with an application_name of their own."""
    app = f"honua-test-idle-{uuid.uuid4().hex[:8]}"
    conns = [
        await asyncpg.connect(DSN, server_settings={"application_name": app}) for _ in range(3)
    ]
    try:
        for c in conns:
            await c.fetchval("SELECT 1")
        await wait_for(
            lambda: _idle_count(admin, app),
            timeout=10,
        )
        yield app
    finally:
        for c in conns:
            await c.close()


async def _idle_count(admin: asyncpg.Connection, app: str) -> bool:
    n = await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'",
        app,
    )
    return bool(n == 3)


async def test_idle_connections_older_than(
    pg: Adapters, admin: asyncpg.Connection, idle_sessions: str
) -> None:
    app = idle_sessions
    all_idle = await probe(
        pg, "postgres.idle_connections", {"older_than": "0s", "application": app}
    )
    assert all_idle.ok, all_idle.error
    d = all_idle.data
    assert d["count"] == 3 and len(d["sample"]) == 3
    pids = set(
        await admin.fetchval(
            "SELECT array_agg(pid) FROM pg_stat_activity WHERE application_name = $1", app
        )
    )
    assert {s["pid"] for s in d["sample"]} == pids
    for s in d["sample"]:
        assert s["user"] == "postgres" and s["application"] == app and s["database"] == "test"
        assert s["idle_seconds"] >= 0
    assert d["oldest_seconds"] == d["sample"][0]["idle_seconds"]
    assert [s["idle_seconds"] for s in d["sample"]] == sorted(
        (s["idle_seconds"] for s in d["sample"]), reverse=True
    )

    two = await probe(
        pg, "postgres.idle_connections", {"older_than": 0, "sample": 2, "application": app}
    )
    assert two.data["count"] == 3 and len(two.data["sample"]) == 2

    everyone = await probe(pg, "postgres.idle_connections", {"older_than": "0s", "sample": 100})
    assert everyone.ok and everyone.data["count"] >= 4  # ours and the test's admin connection

    young = await probe(pg, "postgres.idle_connections", {"older_than": "10h", "application": app})
    assert young.ok, young.error
    assert young.data == {"count": 0, "oldest_seconds": None, "sample": []}

    other_db = await probe(
        pg,
        "postgres.idle_connections",
        {"older_than": "0s", "application": app, "database": "postgres"},
    )
    assert other_db.ok and other_db.data["count"] == 0


async def test_idle_connections_default_is_the_runbooks_ten_minutes(pg: Adapters) -> None:
    entry = probes.get("postgres.idle_connections")
    assert entry is not None
    assert entry.params_model.model_validate({}).older_than == 600  # type: ignore[attr-defined]
    bad = await probe(pg, "postgres.idle_connections", {"older_than": "soon"})
    assert not bad.ok and bad.error is not None and bad.error.startswith("bad params")


async def test_wrong_database_and_role_read_as_the_server_says() -> None:
    f = await one_off("postgresql://postgres@127.0.0.1:5432/no_such_db_honua")
    assert not f.ok
    assert f.error == 'database "no_such_db_honua" does not exist (127.0.0.1:5432)'
    f = await one_off("postgresql://no_such_role_honua@127.0.0.1:5432/test")
    assert not f.ok
    assert f.error == 'role "no_such_role_honua" does not exist (127.0.0.1:5432)'


async def test_refused_port_names_host_port_never_the_password() -> None:
    port = free_port()
    for dsn in (
        f"postgresql://postgres:hunter2-pw@127.0.0.1:{port}/test",
        f"host=127.0.0.1 port={port} user=postgres password=hunter2-pw dbname=test",
    ):
        f = await one_off(dsn)
        assert not f.ok
        assert f.error == f"connection refused: 127.0.0.1:{port}"
        assert "hunter2" not in f.model_dump_json()


async def test_a_database_that_never_answers_times_out() -> None:
    async with silent_tcp_server() as port:
        f = await one_off(f"postgresql://postgres@127.0.0.1:{port}/test", connect_timeout=0.3)
    assert not f.ok
    assert f.error == f"timed out after 0.3 s connecting: 127.0.0.1:{port}"


async def test_not_configured_names_the_setting() -> None:
    f = await probe(Adapters(), "postgres.health")
    assert not f.ok and f.error == "postgres is not configured (set HONUA_BOT_POSTGRES_DSN)"
