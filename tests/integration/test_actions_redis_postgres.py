"""redis.bgsave against a private redis-server writing to a temp dir, and
postgres.terminate_idle against the machine's PostgreSQL (127.0.0.1:5432, trust
auth, database ``test``). The PostgreSQL tests work as a role of their own, so
they can only ever terminate their own sessions, never another test's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from pydantic import ValidationError

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.base import ActionContext, Limits, Outcome, Plan, Refused
from bot.adapters import Adapters
from bot.adapters.errors import AdapterError
from bot.adapters.postgres import PostgresClient
from bot.adapters.target_redis import TargetRedisClient
from bot.registry import actions
from tests.helpers import RedisServer, free_port, wait_for
from tests.integration.conftest import POSTGRES_DSN as DSN


async def run(name: str, params: dict[str, Any], ctx: ActionContext) -> tuple[Plan, Outcome]:
    entry = actions.get(name)
    assert entry is not None
    model = entry.params_model.model_validate(params)
    plan = await entry.impl.plan(model, ctx)
    return plan, await entry.impl.execute(model, ctx, plan)


# -- redis.bgsave --------------------------------------------------------------------------------
@pytest.fixture
def saving_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(data_dir=tmp_path).start()
    yield server
    server.stop()


async def test_bgsave_completes_and_lastsave_advances(
    saving_redis: RedisServer, tmp_path: Path
) -> None:
    own = aioredis.Redis.from_url(saving_redis.url)
    adapters = Adapters(target_redis_client=TargetRedisClient(saving_redis.url))
    try:
        await own.mset({f"honua:process:{i}": "{}" for i in range(50)})
        before = int((await own.lastsave()).timestamp())
        # LASTSAVE counts whole seconds: let the server's clock pass the last save first
        await wait_for(lambda: _server_time_after(own, before), timeout=5)
        ctx = ActionContext(adapters=adapters, poll_interval=0.05)
        plan, outcome = await run("redis.bgsave", {"wait": "10s"}, ctx)
        assert plan.target == "redis"
        assert plan.summary.startswith(f"BGSAVE 127.0.0.1:{saving_redis.port}: last save ")
        assert "50 changes since" in plan.summary and "50 keys" in plan.summary
        assert outcome.ok, outcome.message
        assert outcome.message.startswith(f"BGSAVE on 127.0.0.1:{saving_redis.port} finished in ")
        after = int((await own.lastsave()).timestamp())
        assert after > before and outcome.details["last_save"] == after
        assert (tmp_path / "dump.rdb").stat().st_size > 0
        info = await own.info("persistence")
        assert info["rdb_changes_since_last_save"] == 0 and info["rdb_last_bgsave_status"] == "ok"
    finally:
        await own.aclose()
        await adapters.aclose()


async def _server_time_after(client: aioredis.Redis, ts: int) -> bool:
    seconds, _ = await client.time()
    return int(seconds) > ts


async def test_bgsave_on_unreachable_redis_names_it() -> None:
    port = free_port()
    adapters = Adapters(target_redis_client=TargetRedisClient(f"redis://127.0.0.1:{port}/0"))
    try:
        with pytest.raises(AdapterError, match=f"connection refused: 127.0.0.1:{port}"):
            await run("redis.bgsave", {}, ActionContext(adapters=adapters))
    finally:
        await adapters.aclose()


# -- postgres.terminate_idle ---------------------------------------------------------------------
def _dsn_as(role: str) -> str:
    return DSN.replace("postgres@", f"{role}@", 1)


@pytest.fixture
async def role(admin: asyncpg.Connection) -> AsyncIterator[str]:
    """A login role of this test's own; its sessions are dropped with it."""
    name = f"honua_idle_{uuid.uuid4().hex[:10]}"
    await admin.execute(f"CREATE ROLE {name} LOGIN")
    try:
        yield name
    finally:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", name
        )
        # a role with sessions cannot be dropped
        await wait_for(lambda: _no_sessions(admin, name), timeout=10)
        await admin.execute(f"DROP ROLE {name}")


async def _no_sessions(admin: asyncpg.Connection, role: str) -> bool:
    return not await admin.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1", role
    )


async def _open(role: str, app: str, count: int) -> list[asyncpg.Connection]:
    return [
        await asyncpg.connect(_dsn_as(role), server_settings={"application_name": app})
        for _ in range(count)
    ]


async def _pids(conns: list[asyncpg.Connection]) -> list[int]:
    return sorted([c.get_server_pid() for c in conns])


async def _idle_longer(admin: asyncpg.Connection, role: str, app: str, seconds: float) -> int:
    return int(
        await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = $2"
            " AND state = 'idle' AND state_change < now() - make_interval(secs => $3)",
            role,
            app,
            seconds,
        )
    )


async def test_terminates_only_sessions_idle_past_the_threshold_never_the_bots(
    role: str, admin: asyncpg.Connection
) -> None:
    app = f"idle-{uuid.uuid4().hex[:6]}"
    # the bot connects as the same role: its own session matches the filter but is spared
    bot = PostgresClient(_dsn_as(role))
    adapters = Adapters(postgres_client=bot)
    ctx = ActionContext(adapters=adapters, limits=Limits(max_processes=5), poll_interval=0.05)
    entry = actions.get("postgres.terminate_idle")
    assert entry is not None
    params = entry.params_model.model_validate({"older_than": "1.5s", "user": role})
    old = await _open(role, app, 3)
    fresh: list[asyncpg.Connection] = []
    try:
        old_pids = await _pids(old)
        assert (await bot.health()).database == "test"  # the bot's session, now idle too
        # both the three sessions and the bot's own are idle past the threshold
        await wait_for(lambda: _idle_longer(admin, role, app, 1.5), timeout=10, interval=0.1)
        await wait_for(
            lambda: _idle_longer(admin, role, "honua-bot", 1.5), timeout=10, interval=0.1
        )
        fresh = await _open(role, app, 2)  # idle for less than the threshold
        plan = await entry.impl.plan(params, ctx)
        assert sorted(plan.state["pids"]) == old_pids
        assert plan.target == "postgres/test"
        assert plan.summary == (
            f"terminate 3 sessions idle longer than 1.5s in the bot's database of user {role}"
            " on 127.0.0.1:5432"
        )
        assert all(w.startswith("pid ") and f"app {app}" in w for w in plan.warnings)
        outcome = await entry.impl.execute(params, ctx, plan)

        assert outcome.ok, outcome.message
        assert sorted(outcome.details["terminated"]) == old_pids
        assert outcome.message.startswith("terminated 3 of 3 sessions idle longer than 1.5s")
        assert not await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", old_pids
        )
        for conn in fresh:
            assert await conn.fetchval("SELECT 1") == 1
        # the bot's own sessions are all still there
        assert (
            await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND application_name = $2",
                role,
                "honua-bot",
            )
            >= 1
        )
    finally:
        for conn in [*old, *fresh]:
            conn.terminate()
        await adapters.aclose()


async def test_cap_and_idle_in_transaction(role: str) -> None:
    app = f"idle-{uuid.uuid4().hex[:6]}"
    adapters = Adapters(postgres_client=PostgresClient(_dsn_as(role)))
    ctx = ActionContext(adapters=adapters, limits=Limits(max_processes=2), poll_interval=0.05)
    idle = await _open(role, app, 3)
    [in_tx] = await _open(role, app, 1)
    tx = in_tx.transaction()
    await tx.start()
    await in_tx.fetchval("SELECT 1")  # now "idle in transaction"
    try:
        refused_idle = {"older_than": 0, "user": role}
        with pytest.raises(Refused) as caught:
            await run("postgres.terminate_idle", refused_idle, ctx)
        assert caught.value.gate == "blast_radius"
        assert "3 sessions idle longer than 0s" in caught.value.message
        assert "more than the limit of 2" in caught.value.message

        plan, outcome = await run(
            "postgres.terminate_idle",
            {"older_than": 0, "user": role, "state": "idle in transaction"},
            ctx,
        )
        assert plan.state["pids"] == [in_tx.get_server_pid()]
        assert outcome.ok and outcome.details["terminated"] == [in_tx.get_server_pid()]
        for conn in idle:
            assert await conn.fetchval("SELECT 1") == 1
        with pytest.raises(Refused) as caught:
            await run("postgres.terminate_idle", {"older_than": 0, "user": "nobody_here"}, ctx)
        assert caught.value.gate == "not_found"
    finally:
        for conn in [*idle, in_tx]:
            conn.terminate()
        await adapters.aclose()


def test_unknown_state_is_refused_naming_the_field() -> None:
    entry = actions.get("postgres.terminate_idle")
    assert entry is not None
    with pytest.raises(ValidationError) as caught:
        entry.params_model.model_validate({"state": "active"})
    assert caught.value.errors()[0]["loc"] == ("state",)
