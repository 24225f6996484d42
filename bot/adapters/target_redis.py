"""The Redis the bot monitors (the process framework's ``redis-0``), never the
bot's own store: a separate pooled client with short timeouts and no retries,
so a dead Redis is reported within one timeout rather than after a backoff.

Every failure becomes an :class:`AdapterError` naming ``host:port`` and never
the password: "connection refused: redis-0.redis:6379".
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis import exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.adapters.errors import AdapterError, _caused_by

_SCAN_BATCH = 1000


@dataclass(frozen=True)
class RedisMemory:
    used_memory: int
    used_memory_human: str
    maxmemory: int
    maxmemory_policy: str


@dataclass(frozen=True)
class RedisPersistence:
    rdb_last_save_time: int
    rdb_last_bgsave_status: str
    rdb_changes_since_last_save: int
    rdb_bgsave_in_progress: bool
    aof_enabled: bool
    aof_last_write_status: str
    last_save_age_seconds: int
    """Seconds between the last successful save and now, both by the server's clock."""


@dataclass(frozen=True)
class RedisClients:
    connected_clients: int
    blocked_clients: int


@dataclass(frozen=True)
class KeyScan:
    count: int
    """Distinct keys matching the pattern among those scanned."""
    scanned: int
    """Keys SCAN returned (and were matched here), at most ``max_scan``."""
    truncated: bool
    """True when the cap stopped the scan before the whole keyspace was seen."""
    sample: list[bytes]
    """The first matching keys, as many as were asked for."""


def redis_where(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL; never the credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path or "unix socket"
    host = parts.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port or 6379
    except ValueError:
        port = 6379
    return f"{host}:{port}"


def glob_to_regex(pattern: bytes) -> re.Pattern[bytes]:
    """Redis's glob (``*``, ``?``, ``[a-z]``, ``[^x]``, ``\\`` escapes) as a regex.

    The keys are matched here rather than with ``SCAN MATCH`` so that the cap on
    keys scanned is exact (with MATCH the server walks an unknown number of keys
    per call). This follows Redis's ``stringmatchlen`` quirks too: an unclosed
    ``[`` takes the rest of the pattern as its class, ranges may be reversed.
    """
    out: list[bytes] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i : i + 1]
        if c == b"*":
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"[":
            regex, i = _char_class(pattern, i + 1)
            out.append(regex)
            continue
        else:
            if c == b"\\" and n - i >= 2:
                i += 1
                c = pattern[i : i + 1]
            out.append(re.escape(c))
        i += 1
    return re.compile(b"".join(out) + rb"\Z", re.DOTALL)


def _char_class(p: bytes, i: int) -> tuple[bytes, int]:
    """The class starting at ``p[i]`` (just after ``[``): its regex and the index after it."""
    n = len(p)
    negate = p[i : i + 1] == b"^"
    if negate:
        i += 1
    items: list[bytes] = []
    while i < n:
        c = p[i : i + 1]
        if c == b"\\" and n - i >= 2:
            i += 1
            items.append(re.escape(p[i : i + 1]))
        elif c == b"]":
            break
        elif n - i >= 3 and p[i + 1 : i + 2] == b"-":
            lo, hi = sorted((c, p[i + 2 : i + 3]))
            items.append(re.escape(lo) + b"-" + re.escape(hi))
            i += 2
        else:
            items.append(re.escape(c))
        i += 1
    if not items:
        return (rb"[\s\S]" if negate else rb"[^\s\S]"), i + 1
    return b"[" + (b"^" if negate else b"") + b"".join(items) + b"]", i + 1


def _int(info: dict[str, Any], key: str) -> int:
    value = info.get(key, 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class TargetRedisClient:
    def __init__(self, url: str, timeout: float = 2.0, max_connections: int = 8) -> None:
        self.where = redis_where(url)
        self.timeout = timeout
        self._password = unquote(urlsplit(url).password or "") if "://" in url else ""
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout,  # waiting for a free pooled connection
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            client_name="honua-bot",
        )
        self._redis = aioredis.Redis(connection_pool=pool)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except rexc.AuthenticationError as exc:
            raise AdapterError(f"authentication failed: {self.where}") from exc
        except rexc.TimeoutError as exc:
            raise AdapterError(f"timed out after {self.timeout:g} s: {self.where}") from exc
        except rexc.ConnectionError as exc:
            raise AdapterError(self._connection_error(exc)) from exc
        except rexc.ResponseError as exc:
            if str(exc).startswith(("NOAUTH", "WRONGPASS", "NOPERM")):
                raise AdapterError(f"authentication failed: {self.where}") from exc
            raise AdapterError(self._scrub(f"redis error: {exc} ({self.where})")) from exc
        except rexc.RedisError as exc:
            raise AdapterError(self._scrub(f"redis error: {exc} ({self.where})")) from exc
        except OSError as exc:
            raise AdapterError(self._scrub(f"cannot connect: {self.where}: {exc}")) from exc

    def _connection_error(self, exc: rexc.ConnectionError) -> str:
        text = str(exc)
        lowered = text.lower()
        if "refused" in lowered or _caused_by(exc, ConnectionRefusedError):
            return f"connection refused: {self.where}"
        if "name or service not known" in lowered or "nodename nor servname" in lowered:
            return f"cannot resolve host: {self.where}"
        if "timeout" in lowered or "timed out" in lowered:
            return f"timed out after {self.timeout:g} s: {self.where}"
        if "closed by server" in lowered or "connection reset" in lowered:
            return f"connection closed by server: {self.where}"
        return self._scrub(f"cannot connect: {self.where}: {text}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._password, "***") if self._password else text

    async def ping_ms(self) -> float:
        with self._errors():
            started = time.perf_counter()
            await self._redis.ping()
            return round((time.perf_counter() - started) * 1000, 3)

    async def info(self, section: str) -> dict[str, Any]:
        with self._errors():
            return dict(await self._redis.info(section))

    async def memory(self) -> RedisMemory:
        info = await self.info("memory")
        return RedisMemory(
            used_memory=_int(info, "used_memory"),
            used_memory_human=str(info.get("used_memory_human", "")),
            maxmemory=_int(info, "maxmemory"),
            maxmemory_policy=str(info.get("maxmemory_policy", "")),
        )

    async def persistence(self) -> RedisPersistence:
        info = await self.info("persistence")
        with self._errors():
            now, _ = await self._redis.time()
        last_save = _int(info, "rdb_last_save_time")
        return RedisPersistence(
            rdb_last_save_time=last_save,
            rdb_last_bgsave_status=str(info.get("rdb_last_bgsave_status", "")),
            rdb_changes_since_last_save=_int(info, "rdb_changes_since_last_save"),
            rdb_bgsave_in_progress=bool(_int(info, "rdb_bgsave_in_progress")),
            aof_enabled=bool(_int(info, "aof_enabled")),
            aof_last_write_status=str(info.get("aof_last_write_status", "")),
            last_save_age_seconds=max(0, int(now) - last_save),
        )

    async def clients(self) -> RedisClients:
        info = await self.info("clients")
        return RedisClients(
            connected_clients=_int(info, "connected_clients"),
            blocked_clients=_int(info, "blocked_clients"),
        )

    async def bgsave(self) -> bool:
        """Start a background save (BGSAVE). False when one is already running, in
        which case the caller waits for that one instead of failing. Not SCHEDULE:
        a save that only starts later could not be told apart from one that ended."""
        with self._errors():
            try:
                await self._redis.bgsave(schedule=False)
            except rexc.ResponseError as exc:
                if "already in progress" in str(exc).lower():
                    return False
                raise
        return True

    async def lastsave(self) -> int:
        """LASTSAVE: Unix time of the last successful save (one-second resolution)."""
        with self._errors():
            value = await self._redis.lastsave()
        # redis-py turns the reply into a naive local datetime (fold set), which
        # timestamp() maps back exactly; the server's own number is what is compared
        if isinstance(value, datetime):
            return int(value.timestamp())
        return int(value or 0)

    async def dbsize(self) -> int:
        with self._errors():
            return int(await self._redis.dbsize())

    async def scan_count(self, pattern: str, max_scan: int, keep: int = 0) -> KeyScan:
        """Count keys matching ``pattern`` with SCAN (never KEYS), looking at no more
        than ``max_scan`` keys; keep the first ``keep`` matches as a sample."""
        matcher = glob_to_regex(pattern.encode())
        matched: set[bytes] = set()
        sample: list[bytes] = []
        scanned = 0
        cursor: int = 0
        truncated = False
        with self._errors():
            while True:
                room = max_scan - scanned
                cursor, batch = await self._redis.scan(cursor, count=min(_SCAN_BATCH, room))
                if len(batch) > room:
                    batch, truncated = batch[:room], True
                scanned += len(batch)
                for raw in batch:
                    key = raw if isinstance(raw, bytes) else str(raw).encode()
                    if matcher.match(key) and key not in matched:
                        matched.add(key)
                        if len(sample) < keep:
                            sample.append(key)
                if cursor == 0 or truncated:
                    break
                if scanned >= max_scan:
                    truncated = True
                    break
        return KeyScan(count=len(matched), scanned=scanned, truncated=truncated, sample=sample)

    async def ttls(self, keys: list[bytes]) -> list[int]:
        """TTL of each key in seconds: -1 has no TTL; keys gone meanwhile are left out."""
        if not keys:
            return []
        with self._errors():
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.ttl(key)
                answers = await pipe.execute()
        return [int(t) for t in answers if int(t) != -2]

    async def aclose(self) -> None:
        await self._redis.aclose()
        await self._redis.connection_pool.disconnect()
