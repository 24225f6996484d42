"""Redis probes against a private redis-server (and real Prometheus for
DBSIZE vs honua_active_processes), through the run_probe path the engine uses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web

import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters import Adapters
from bot.adapters.prometheus import PrometheusClient
from bot.adapters.target_redis import TargetRedisClient
from bot.alerts.diagnose import run_probe
from bot.config import Settings
from bot.models import Finding
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.fakes.server import ThreadedServer
from tests.helpers import RedisServer, free_port, silent_tcp_server, wait_for, wait_for_sync
from tests.realbins import PrometheusServer


async def probe(adapters: Adapters, type_: str, params: dict[str, Any] | None = None) -> Finding:
    return await run_probe(
        ProbeCall("p", type_, params or {}), probes, ProbeContext(adapters), 5, {}
    )


@pytest.fixture
async def target(private_redis: RedisServer) -> AsyncIterator[Adapters]:
    a = Adapters(target_redis_client=TargetRedisClient(private_redis.url, timeout=2))
    yield a
    await a.aclose()


@pytest.fixture
async def raw(private_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


async def add_process_keys(
    client: aioredis.Redis, count: int, ttl: int | None, start: int = 0
) -> None:
    async with client.pipeline(transaction=False) as pipe:
        for i in range(start, start + count):
            pipe.set(f"honua:process:{i}", '{"status":"Running"}', ex=ttl)
        await pipe.execute()


async def test_health_reads_memory_persistence_and_clients(
    target: Adapters, raw: aioredis.Redis
) -> None:
    no_limit = await probe(target, "redis.health")
    assert no_limit.ok, no_limit.error
    assert no_limit.data["maxmemory"] == 0 and no_limit.data["memory_used_ratio"] is None

    await raw.config_set("maxmemory", str(64 * 1024 * 1024))
    await raw.config_set("maxmemory-policy", "allkeys-lru")
    await add_process_keys(raw, 12, ttl=3600)
    blocked = asyncio.create_task(raw.blpop(["honua:nothing"], timeout=10))
    try:
        f = await wait_for(
            lambda: _with_blocked_client(target), timeout=5
        )  # BLPOP reaches the server a moment after the task starts
    finally:
        blocked.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await blocked
    d = f.data
    assert d["maxmemory"] == 64 * 1024 * 1024
    assert d["policy"] == "allkeys-lru"
    assert d["used_memory"] > 0 and d["used_memory_human"].endswith(("K", "M"))
    assert d["memory_used_ratio"] == round(d["used_memory"] / d["maxmemory"], 4)
    assert 0 < d["memory_used_ratio"] < 1
    assert d["ping_ms"] > 0
    assert d["connected_clients"] >= 2 and d["blocked_clients"] == 1
    assert d["dbsize"] == 12
    assert d["rdb_last_bgsave_status"] == "ok" and d["aof_last_write_status"] == "ok"
    assert d["rdb_changes_since_last_save"] >= 12
    assert d["rdb_bgsave_in_progress"] is False and d["aof_enabled"] is False
    assert 0 <= d["last_save_age_seconds"] < 120  # never saved: counted from the server's start


async def _with_blocked_client(target: Adapters) -> Finding | None:
    f = await probe(target, "redis.health")
    assert f.ok, f.error
    return f if f.data["blocked_clients"] == 1 else None


async def test_keys_counts_with_scan_and_samples_ttls(
    target: Adapters, raw: aioredis.Redis
) -> None:
    await add_process_keys(raw, 30, ttl=3600)
    await add_process_keys(raw, 5, ttl=None, start=100)
    await raw.mset({f"other:{i}": "x" for i in range(10)})

    f = await probe(target, "redis.keys", {"sample_ttls": 100})
    assert f.ok, f.error
    assert f.data["count"] == 35 and f.data["scanned"] == 45 and f.data["truncated"] is False
    ttl = f.data["ttl_sample"]
    assert ttl["sampled"] == 35 and ttl["no_ttl"] == 5 and ttl["with_ttl"] == 30
    assert 3500 < ttl["min_seconds"] <= ttl["max_seconds"] <= 3600

    none = await probe(target, "redis.keys", {"sample_ttls": 0})
    assert none.data["count"] == 35
    assert none.data["ttl_sample"] == {
        "sampled": 0,
        "no_ttl": 0,
        "with_ttl": 0,
        "min_seconds": None,
        "max_seconds": None,
    }
    no_ttl_only = await probe(target, "redis.keys", {"pattern": "honua:process:1??"})
    assert no_ttl_only.data["count"] == 5
    assert no_ttl_only.data["ttl_sample"]["no_ttl"] == 5
    assert no_ttl_only.data["ttl_sample"]["min_seconds"] is None


async def test_keys_cap_on_scanned_keys_over_many_scan_calls(
    target: Adapters, raw: aioredis.Redis
) -> None:
    await add_process_keys(raw, 2500, ttl=600)
    full = await probe(target, "redis.keys", {"sample_ttls": 3})
    assert full.ok, full.error
    assert full.data["count"] == 2500 and full.data["scanned"] == 2500
    assert full.data["truncated"] is False and full.data["ttl_sample"]["sampled"] == 3

    capped = await probe(target, "redis.keys", {"max_scan": 1500})
    assert capped.ok, capped.error
    assert capped.data["scanned"] == 1500 and capped.data["truncated"] is True
    assert capped.data["count"] == 1500  # every key matches, so count is a lower bound


@pytest.mark.parametrize(
    "pattern",
    [
        "honua:process:*",
        "honua:process:1?",
        "honua:process:[0-2]*",
        "honua:process:[^0-4]",
        "honua:process:[a\\-]*",
        "*:process:*1",
        "honua:\\*",
        "*weird[*",
        "*weird[x",
        "other*",
        "honua:process:[3-1]",
        "honua:process:[a-]*",
        "honua:process:[]",
        "honua:process:[^]",
        "honua:process:1\\",
    ],
)
async def test_pattern_matches_like_redis_scan_match(
    target: Adapters, raw: aioredis.Redis, pattern: str
) -> None:
    """The keys are matched in the bot (to cap the scan exactly); Redis's own
    SCAN MATCH must agree on every pattern."""
    await add_process_keys(raw, 40, ttl=None)
    odd = ["honua:*", "honua:process:a", "honua:process:-x", "honua:process:1\\", "other"]
    await raw.mset(dict.fromkeys([*odd, "weird[x", "weirdx", "weird*"], 1))
    expected = {k async for k in raw.scan_iter(match=pattern, count=1000)}
    f = await probe(target, "redis.keys", {"pattern": pattern, "sample_ttls": 0})
    assert f.ok, f.error
    assert f.data["count"] == len(expected)


@pytest.fixture
def active_processes_metric() -> Iterator[ThreadedServer]:
    async def metrics(_: web.Request) -> web.Response:
        body = (
            "# TYPE honua_active_processes gauge\n"
            'honua_active_processes{pod="a"} 30\nhonua_active_processes{pod="b"} 10\n'
        )
        return web.Response(text=body, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    server = ThreadedServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def prometheus_active(active_processes_metric: ThreadedServer) -> Iterator[PrometheusServer]:
    prom = PrometheusServer([f"127.0.0.1:{active_processes_metric.port}"]).start()
    wait_for_sync(lambda: bool(prom.query("sum(honua_active_processes) == 40")), 30, 0.2)
    yield prom
    prom.stop()


async def test_dbsize_against_active_processes_in_prometheus(
    private_redis: RedisServer, raw: aioredis.Redis, prometheus_active: PrometheusServer
) -> None:
    await add_process_keys(raw, 25, ttl=3600)
    a = Adapters(
        target_redis_client=TargetRedisClient(private_redis.url),
        prometheus_client=PrometheusClient(prometheus_active.url),
    )
    try:
        f = await probe(a, "redis.dbsize_vs", {})
        per_pod = await probe(a, "redis.dbsize_vs", {"expected_expr": "honua_active_processes"})
        empty = await probe(a, "redis.dbsize_vs", {"expected_expr": "honua_no_such_metric"})
    finally:
        await a.aclose()
    assert f.ok, f.error
    assert f.data == {"dbsize": 25, "expected": 40, "ratio": 0.625, "missing": 15}
    assert per_pod.ok and per_pod.data["expected"] in (30, 10)  # the first series
    assert empty.ok and empty.data == {
        "dbsize": 25,
        "expected": None,
        "ratio": None,
        "missing": None,
    }


async def test_dbsize_vs_without_prometheus_says_what_to_set(target: Adapters) -> None:
    f = await probe(target, "redis.dbsize_vs", {"expected_expr": "honua_active_processes"})
    assert not f.ok
    assert f.error == "prometheus is not configured (set HONUA_BOT_PROMETHEUS_URL)"


async def test_not_configured_names_the_setting() -> None:
    a = Adapters()
    try:
        f = await probe(a, "redis.health")
    finally:
        await a.aclose()
    assert not f.ok
    assert f.error == "target Redis is not configured (set HONUA_BOT_TARGET_REDIS_URL)"


async def test_connection_refused_names_host_port_never_the_password() -> None:
    port = free_port()
    settings = Settings(target_redis_url=f"redis://:s3cret-pw@127.0.0.1:{port}/0")
    a = Adapters.from_settings(settings.targets)
    try:
        found = [
            await probe(a, t, p)
            for t, p in (("redis.health", {}), ("redis.keys", {}), ("redis.dbsize_vs", {}))
        ]
    finally:
        await a.aclose()
    for f in found:
        assert not f.ok
        assert f.error == f"connection refused: 127.0.0.1:{port}", f.error
        assert "s3cret" not in f.model_dump_json()


async def test_wrong_or_missing_password_is_an_authentication_failure(
    private_redis: RedisServer, raw: aioredis.Redis
) -> None:
    await raw.config_set("requirepass", "right-pw")
    for url in (
        f"redis://:wrong-pw@127.0.0.1:{private_redis.port}/0",
        f"redis://127.0.0.1:{private_redis.port}/0",
    ):
        a = Adapters(target_redis_client=TargetRedisClient(url))
        try:
            f = await probe(a, "redis.health")
        finally:
            await a.aclose()
        assert not f.ok
        assert f.error == f"authentication failed: 127.0.0.1:{private_redis.port}"
        assert "wrong-pw" not in f.model_dump_json()
    good = Adapters(
        target_redis_client=TargetRedisClient(f"redis://:right-pw@127.0.0.1:{private_redis.port}/0")
    )
    try:
        f = await probe(good, "redis.health")
    finally:
        await good.aclose()
    assert f.ok, f.error


async def test_a_redis_that_never_answers_times_out_with_its_address() -> None:
    async with silent_tcp_server() as port:
        a = Adapters(
            target_redis_client=TargetRedisClient(f"redis://127.0.0.1:{port}/0", timeout=0.3)
        )
        try:
            f = await probe(a, "redis.health")
        finally:
            await a.aclose()
    assert not f.ok
    assert f.error == f"timed out after 0.3 s: 127.0.0.1:{port}"
    assert f.duration_ms < 3000
