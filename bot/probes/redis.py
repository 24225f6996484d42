"""Probes of the monitored Redis (Runbooks 3 and 6): health, keys, DBSIZE vs expected."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from pydantic import Field

from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes


class RedisHealth(ProbeParams):
    pass


@probes.register("redis.health")
async def redis_health(params: RedisHealth, ctx: ProbeContext) -> dict[str, Any]:
    """PING latency, memory against maxmemory, persistence and clients of the target Redis.

    Returns `ping_ms`; `used_memory`, `used_memory_human`, `maxmemory` (0 = no
    limit), `memory_used_ratio` (used/max, null without a limit) and `policy`
    (maxmemory-policy); `connected_clients`, `blocked_clients`; `dbsize`;
    `rdb_last_bgsave_status` ("ok"/"err"), `rdb_changes_since_last_save`,
    `rdb_bgsave_in_progress`, `last_save_age_seconds` (by the server's clock),
    `aof_enabled`, `aof_last_write_status`. An unreachable Redis is a failed
    finding whose `error` reads "connection refused: host:port".
    """
    redis = ctx.adapters.target_redis
    ping_ms = await redis.ping_ms()
    memory = await redis.memory()
    persistence = await redis.persistence()
    clients = await redis.clients()
    dbsize = await redis.dbsize()
    ratio = memory.used_memory / memory.maxmemory if memory.maxmemory else None
    return {
        "ping_ms": ping_ms,
        "used_memory": memory.used_memory,
        "used_memory_human": memory.used_memory_human,
        "maxmemory": memory.maxmemory,
        "memory_used_ratio": None if ratio is None else round(ratio, 4),
        "policy": memory.maxmemory_policy,
        **asdict(clients),
        "dbsize": dbsize,
        "rdb_last_bgsave_status": persistence.rdb_last_bgsave_status,
        "rdb_changes_since_last_save": persistence.rdb_changes_since_last_save,
        "rdb_bgsave_in_progress": persistence.rdb_bgsave_in_progress,
        "rdb_last_save_time": persistence.rdb_last_save_time,
        "last_save_age_seconds": persistence.last_save_age_seconds,
        "aof_enabled": persistence.aof_enabled,
        "aof_last_write_status": persistence.aof_last_write_status,
    }


class RedisKeys(ProbeParams):
    pattern: str = Field(
        default="honua:process:*",
        min_length=1,
        description="Redis glob matched against key names (*, ?, [a-z], [^x], \\ escapes)",
    )
    max_scan: int = Field(
        default=100_000,
        ge=1,
        le=10_000_000,
        description="stop after SCAN has returned this many keys (matching or not)",
    )
    sample_ttls: int = Field(
        default=20, ge=0, le=1000, description="read the TTL of up to this many matching keys"
    )


@probes.register("redis.keys")
async def redis_keys(params: RedisKeys, ctx: ProbeContext) -> dict[str, Any]:
    """Count the keys matching a pattern with SCAN (never KEYS) and sample their TTLs.

    Returns `count` (matching keys seen), `scanned` (keys looked at), `truncated`
    (true when `max_scan` stopped the scan early, so `count` is a lower bound) and
    `ttl_sample`: `sampled` (keys whose TTL was read), `no_ttl` (how many have
    none, TTL -1: they never expire), `with_ttl`, and `min_seconds`/`max_seconds`
    over the keys that have a TTL (null when none does).
    """
    redis = ctx.adapters.target_redis
    found = await redis.scan_count(params.pattern, params.max_scan, keep=params.sample_ttls)
    ttls = await redis.ttls(found.sample)
    expiring = [t for t in ttls if t >= 0]
    return {
        "count": found.count,
        "scanned": found.scanned,
        "truncated": found.truncated,
        "ttl_sample": {
            "sampled": len(ttls),
            "no_ttl": sum(1 for t in ttls if t == -1),
            "with_ttl": len(expiring),
            "min_seconds": min(expiring) if expiring else None,
            "max_seconds": max(expiring) if expiring else None,
        },
    }


class RedisDbsizeVs(ProbeParams):
    expected_expr: str = Field(
        default="sum(honua_active_processes)",
        min_length=1,
        description="PromQL whose first value is the number of keys Redis should hold",
    )


def _number(value: float) -> float | int:
    return int(value) if value.is_integer() else value


@probes.register("redis.dbsize_vs")
async def redis_dbsize_vs(params: RedisDbsizeVs, ctx: ProbeContext) -> dict[str, Any]:
    """DBSIZE of the target Redis against the count Prometheus expects (Runbook 6).

    Returns `dbsize`, `expected` (the query's first value; null when the query
    returns nothing), `ratio` (dbsize/expected; null when expected is null or 0)
    and `missing` (expected - dbsize; negative when Redis holds more keys than
    expected; null when expected is null).
    """
    dbsize = await ctx.adapters.target_redis.dbsize()
    samples = await ctx.adapters.prometheus.query(params.expected_expr)
    value = samples[0].value if samples else float("nan")
    expected = None if math.isnan(value) else _number(value)
    return {
        "dbsize": dbsize,
        "expected": expected,
        "ratio": round(dbsize / expected, 4) if expected else None,
        "missing": None if expected is None else _number(float(expected - dbsize)),
    }
