"""The process framework's PostgreSQL (Runbook 8), read-only but for one thing:
terminating idle sessions (``pg_terminate_backend``, a signal, which read-only
transactions allow).

A small asyncpg pool, created on first use (so the bot starts while the
database is down), whose sessions are read-only (``default_transaction_read_only``)
and named ``honua-bot`` in ``pg_stat_activity``. Failures become an
:class:`AdapterError` with the server's own sentence or "connection refused:
host:port", never the DSN or its password.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from bot.adapters.errors import AdapterError, _caused_by

if TYPE_CHECKING:  # asyncpg is imported when PostgreSQL is configured and first used
    import asyncpg

_HEALTH = """
SELECT current_setting('server_version') AS version,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved,
       current_database() AS database
"""

# Other users' sessions show state NULL without pg_monitor / pg_read_all_stats.
_BY_STATE = """
SELECT coalesce(state, 'unknown') AS state,
       count(*)::int AS total,
       (count(*) FILTER (WHERE datname = current_database()))::int AS in_database
FROM pg_stat_activity
WHERE backend_type = 'client backend'
GROUP BY 1
"""

_IDLE = """
SELECT pid, usename, application_name, datname,
       extract(epoch FROM statement_timestamp() - state_change)::float8 AS idle_seconds
FROM pg_stat_activity
WHERE state = 'idle'
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND state_change < statement_timestamp() - make_interval(secs => $1)
  AND ($2::text IS NULL OR application_name = $2)
  AND ($3::text IS NULL OR datname = $3)
ORDER BY state_change
"""

APPLICATION_NAME = "honua-bot"
SESSION_STATES = ("idle", "idle in transaction", "idle in transaction (aborted)")

# $1 older than (s), $2 state, $3 database (NULL: the bot's own), $4 user (NULL: any).
# Never the bot: not this backend, nor any session named honua-bot (its pool, replicas).
_SESSION_FILTER = f"""
FROM pg_stat_activity
WHERE backend_type = 'client backend'
  AND state = $2
  AND pid <> pg_backend_pid()
  AND application_name IS DISTINCT FROM '{APPLICATION_NAME}'
  AND state_change < statement_timestamp() - make_interval(secs => $1)
  AND datname = coalesce($3::text, current_database())
  AND ($4::text IS NULL OR usename = $4)
"""

_SESSIONS = f"""
SELECT pid, usename, application_name, datname, state,
       extract(epoch FROM statement_timestamp() - state_change)::float8 AS idle_seconds
{_SESSION_FILTER}
ORDER BY state_change
"""

# the same filter again, so a listed session that has since become active is spared
_TERMINATE = f"""
SELECT pid, pg_terminate_backend(pid) AS terminated
{_SESSION_FILTER}
  AND pid = ANY($5::int[])
"""

_ALIVE = "SELECT pid FROM pg_stat_activity WHERE pid = ANY($1::int[])"


@dataclass(frozen=True)
class Session:
    pid: int
    user: str | None
    application: str | None
    database: str | None
    state: str
    idle_seconds: float


@dataclass(frozen=True)
class PostgresHealth:
    version: str
    database: str
    max_connections: int
    reserved_connections: int
    connections: dict[str, int]
    """Client connections on the whole server by state (active, idle, idle in transaction, …)."""
    database_connections: int
    """Client connections to this database."""

    @property
    def total(self) -> int:
        return sum(self.connections.values())


@dataclass(frozen=True)
class IdleConnection:
    pid: int
    user: str | None
    application: str | None
    database: str | None
    idle_seconds: float


def dsn_parts(dsn: str) -> dict[str, str]:
    """host, port, user, password and database of a URL or key=value DSN."""
    if "://" in dsn:
        u = urlsplit(dsn)
        try:
            port = u.port
        except ValueError:
            port = None
        parts = {
            "host": u.hostname or "",
            "port": str(port or ""),
            "user": unquote(u.username or ""),
            "password": unquote(u.password or ""),
            "database": unquote(u.path.lstrip("/")),
        }
    else:
        pairs = dict(p.split("=", 1) for p in dsn.split() if "=" in p)
        parts = {
            "host": pairs.get("host", ""),
            "port": pairs.get("port", ""),
            "user": pairs.get("user", ""),
            "password": pairs.get("password", "").strip("'"),
            "database": pairs.get("dbname", ""),
        }
    return parts


def _connect_args(dsn: str) -> dict[str, Any]:
    """asyncpg takes URL DSNs; a libpq key=value DSN is passed as keywords."""
    if "://" in dsn:
        return {"dsn": dsn}
    parts = dsn_parts(dsn)
    args: dict[str, Any] = {
        "host": parts["host"] or None,
        "port": int(parts["port"]) if parts["port"].isdigit() else None,
        "user": parts["user"] or None,
        "password": parts["password"] or None,
        "database": parts["database"] or None,
    }
    sslmode = dict(p.split("=", 1) for p in dsn.split() if "=" in p).get("sslmode")
    if sslmode:
        args["ssl"] = sslmode
    return {k: v for k, v in args.items() if v is not None}


def postgres_where(dsn: str) -> str:
    parts = dsn_parts(dsn)
    host = parts["host"] or "localhost"
    if host.startswith("/"):
        return host
    if ":" in host and "," not in host:
        host = f"[{host}]"
    return f"{host}:{parts['port'] or 5432}"


class PostgresClient:
    def __init__(
        self,
        dsn: str,
        connect_timeout: float = 3.0,
        command_timeout: float = 5.0,
        max_size: int = 2,
    ) -> None:
        self._dsn = dsn
        self.where = postgres_where(dsn)
        self.database = dsn_parts(dsn)["database"]  # as configured; "" = the server's default
        self._password = dsn_parts(dsn)["password"]
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def _get_pool(self) -> asyncpg.Pool:
        import asyncpg

        if self._pool is None:
            async with self._lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        **_connect_args(self._dsn),
                        min_size=0,
                        max_size=self._max_size,
                        max_inactive_connection_lifetime=60,
                        timeout=self.connect_timeout,
                        command_timeout=self.command_timeout,
                        statement_cache_size=0,  # PgBouncer-safe; the bot asks rarely
                        server_settings={
                            "application_name": APPLICATION_NAME,
                            "default_transaction_read_only": "on",
                        },
                    )
        return self._pool

    async def _fetch(self, query: str, *args: Any) -> list[Any]:
        with self._errors():
            pool = await self._get_pool()
            try:
                conn = await pool.acquire(timeout=self.connect_timeout)
            except TimeoutError as exc:
                raise AdapterError(
                    f"timed out after {self.connect_timeout:g} s connecting: {self.where}"
                ) from exc
            try:
                return list(await conn.fetch(query, *args))
            except TimeoutError as exc:
                raise AdapterError(
                    f"timed out after {self.command_timeout:g} s waiting for a query: {self.where}"
                ) from exc
            finally:
                await pool.release(conn)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import asyncpg

        try:
            yield
        except AdapterError:
            raise
        except TimeoutError as exc:
            raise AdapterError(f"timed out after {self.connect_timeout:g} s: {self.where}") from exc
        except asyncpg.PostgresError as exc:
            # the server's own sentence: 'password authentication failed for user "x"',
            # 'database "x" does not exist', 'sorry, too many clients already', ...
            raise AdapterError(self._scrub(f"{exc} ({self.where})")) from exc
        except socket.gaierror as exc:
            raise AdapterError(f"cannot resolve host: {self.where}") from exc
        except OSError as exc:
            if _caused_by(exc, ConnectionRefusedError) or "connect call failed" in str(exc).lower():
                raise AdapterError(f"connection refused: {self.where}") from exc
            raise AdapterError(self._scrub(f"cannot connect: {self.where}: {exc}")) from exc
        except (asyncpg.InterfaceError, asyncpg.InternalClientError) as exc:
            raise AdapterError(self._scrub(f"postgres error: {exc} ({self.where})")) from exc

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    async def health(self) -> PostgresHealth:
        settings = (await self._fetch(_HEALTH))[0]
        rows = await self._fetch(_BY_STATE)
        return PostgresHealth(
            version=settings["version"],
            database=settings["database"],
            max_connections=settings["max_connections"],
            reserved_connections=settings["reserved"],
            connections={r["state"]: r["total"] for r in rows},
            database_connections=sum(r["in_database"] for r in rows),
        )

    async def idle_connections(
        self,
        older_than_seconds: float,
        application: str | None = None,
        database: str | None = None,
    ) -> list[IdleConnection]:
        """Client sessions idle for longer than ``older_than_seconds``, oldest first."""
        rows = await self._fetch(_IDLE, float(older_than_seconds), application, database)
        return [
            IdleConnection(
                pid=r["pid"],
                user=r["usename"],
                application=r["application_name"],
                database=r["datname"],
                idle_seconds=round(r["idle_seconds"], 1),
            )
            for r in rows
        ]

    async def sessions(
        self,
        older_than_seconds: float,
        state: str = "idle",
        database: str | None = None,
        user: str | None = None,
    ) -> list[Session]:
        """Client sessions (never the bot's) in ``state`` for longer than
        ``older_than_seconds`` in ``database`` (default: the bot's), oldest first."""
        rows = await self._fetch(_SESSIONS, float(older_than_seconds), state, database, user)
        return [
            Session(
                pid=r["pid"],
                user=r["usename"],
                application=r["application_name"],
                database=r["datname"],
                state=r["state"],
                idle_seconds=round(r["idle_seconds"], 1),
            )
            for r in rows
        ]

    async def terminate(
        self,
        pids: list[int],
        older_than_seconds: float,
        state: str = "idle",
        database: str | None = None,
        user: str | None = None,
    ) -> list[int]:
        """``pg_terminate_backend`` for those of ``pids`` that still match the filter;
        the pids signalled."""
        if not pids:
            return []
        rows = await self._fetch(
            _TERMINATE, float(older_than_seconds), state, database, user, list(pids)
        )
        return [r["pid"] for r in rows if r["terminated"]]

    async def alive(self, pids: list[int]) -> list[int]:
        """Which of ``pids`` still have a backend (termination takes a moment)."""
        rows = await self._fetch(_ALIVE, list(pids)) if pids else []
        return [r["pid"] for r in rows]

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), 5)
        except TimeoutError:
            pool.terminate()
