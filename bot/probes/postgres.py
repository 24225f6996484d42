"""Probes of the process framework's PostgreSQL (Runbook 8), read-only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic import Field

from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes
from bot.rules.durations import Duration


class PostgresHealth(ProbeParams):
    pass


@probes.register("postgres.health")
async def postgres_health(params: PostgresHealth, ctx: ProbeContext) -> dict[str, Any]:
    """Connect to PostgreSQL; its version and client connections against max_connections.

    Returns `version` (server_version), `database`, `max_connections`,
    `reserved_connections` (superuser_reserved_connections), `connections`
    ({state: count} over the whole server: active, idle, "idle in transaction",
    … and "unknown" for sessions the bot's role may not see), `total`,
    `database_connections` (to this database), `available` (max - reserved -
    total) and `used_ratio` (total/max_connections). A database that cannot be
    reached is a failed finding whose `error` is the reason ("connection refused:
    host:port", 'password authentication failed for user "x"', …).
    """
    health = await ctx.adapters.postgres.health()
    total = health.total
    return {
        "version": health.version,
        "database": health.database,
        "max_connections": health.max_connections,
        "reserved_connections": health.reserved_connections,
        "connections": health.connections,
        "total": total,
        "database_connections": health.database_connections,
        "available": health.max_connections - health.reserved_connections - total,
        "used_ratio": round(total / health.max_connections, 4) if health.max_connections else None,
    }


class PostgresIdle(ProbeParams):
    older_than: Duration = Field(
        default=600, description="idle for longer than this, e.g. 10m (the runbook's cut-off)"
    )
    sample: int = Field(default=10, ge=0, le=100, description="list up to this many, oldest first")
    application: str | None = Field(
        default=None, description="only sessions with this application_name"
    )
    database: str | None = Field(default=None, description="only sessions to this database")


@probes.register("postgres.idle_connections")
async def postgres_idle_connections(params: PostgresIdle, ctx: ProbeContext) -> dict[str, Any]:
    """Client sessions idle for longer than `older_than` (pg_stat_activity state 'idle').

    Returns `count`, `oldest_seconds` (null when none) and `sample`, oldest
    first: `pid`, `user`, `application`, `database`, `idle_seconds`. These are
    the sessions Runbook 8 terminates when the pool is exhausted; the probe only
    reads.
    """
    idle = await ctx.adapters.postgres.idle_connections(
        params.older_than, application=params.application, database=params.database
    )
    return {
        "count": len(idle),
        "oldest_seconds": idle[0].idle_seconds if idle else None,
        "sample": [asdict(c) for c in idle[: params.sample]],
    }
