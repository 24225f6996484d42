"""Redis store: a Stream with a consumer group for the queue, JSON incidents
with TTLs, and SET NX locks. Shared by every replica."""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from bot.logs import get_logger
from bot.models import Incident, IncidentStatus
from bot.store.base import QueueEntry, StoreUnavailable
from bot.store.keys import (
    AUDIT,
    DEAD,
    INDEX,
    PREFIX,  # noqa: F401 (re-exported: tests read raw keys)
    STREAM,
    redis_incident,
    redis_lock,
    redis_value,
)
from bot.store.sentinel import follow_master, is_sentinel_url, sentinel_client

AUDIT_MAXLEN = 100_000
GROUP = "workers"
log = get_logger("store")

# take a free lock, or extend it when the caller already holds it
_ACQUIRE = """
local v = redis.call('get', KEYS[1])
if not v then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) return 1 end
return 0
"""

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def _entries(raw: list[Any], deliveries: dict[str, int] | None = None) -> list[QueueEntry]:
    out = []
    for entry_id, fields in raw:
        if fields is None:  # deleted while pending
            continue
        eid = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
        out.append(QueueEntry(eid, fields[b"payload"], (deliveries or {}).get(eid, 1), "redis"))
    return out


# One round trip and one command per batch: redis-py's per-command cost (packing,
# parsing, pipeline bookkeeping) was the largest part of the enqueue path.
_XADD_MANY = """
local ids = {}
for i = 1, #ARGV do
  ids[i] = redis.call('XADD', KEYS[1], '*', 'payload', ARGV[i])
end
return ids
"""
_MAX_BATCH = 256  # entries per script call
_MAX_BATCH_BYTES = 8 * 1024 * 1024  # payload bytes per script call


class _Batcher:
    """Group commit for XADD: requests that arrive while one is being queued share
    one round trip (one EVALSHA that XADDs each payload as its own entry). Each
    caller's future resolves only after its entry is in the stream."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._xadd_many = client.register_script(_XADD_MANY)
        self._buffer: list[tuple[bytes, asyncio.Future[str]]] = []
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self._scripted = True

    async def add(self, payload: bytes) -> str:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        self._buffer.append((payload, future))
        if len(self._buffer) == 1:
            loop.call_soon(self._start_flush)
        return await future

    def _start_flush(self) -> None:
        task = asyncio.ensure_future(self._flush())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    def _chunks(
        batch: list[tuple[bytes, asyncio.Future[str]]],
    ) -> list[list[tuple[bytes, asyncio.Future[str]]]]:
        chunks: list[list[tuple[bytes, asyncio.Future[str]]]] = [[]]
        size = 0
        for item in batch:
            if chunks[-1] and (
                len(chunks[-1]) >= _MAX_BATCH or size + len(item[0]) > _MAX_BATCH_BYTES
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(item)
            size += len(item[0])
        return chunks

    async def _xadd(self, payloads: list[bytes]) -> list[Any]:
        if self._scripted:
            try:
                return list(await self._xadd_many(keys=[STREAM], args=payloads))
            except ResponseError as exc:
                # A Redis that refuses scripts (ACL without EVALSHA, a proxy): fall back
                # to pipelined XADDs, and stay there if they work.
                ids = await self._xadd_pipelined(payloads)
                self._scripted = False
                log.warning("EVALSHA refused; queueing with pipelined XADD", error=str(exc))
                return ids
        return await self._xadd_pipelined(payloads)

    async def _xadd_pipelined(self, payloads: list[bytes]) -> list[Any]:
        async with self._client.pipeline(transaction=False) as pipe:
            for payload in payloads:
                pipe.xadd(STREAM, {"payload": payload})
            return list(await pipe.execute())

    async def _flush(self) -> None:
        batch, self._buffer = self._buffer, []
        chunks = self._chunks(batch)
        for i, chunk in enumerate(chunks):
            try:
                ids = await self._xadd([payload for payload, _ in chunk])
            except BaseException as exc:
                error = StoreUnavailable(f"redis: {exc}")
                for rest in chunks[i:]:
                    for _, future in rest:
                        if not future.done():
                            future.set_exception(error)
                if not isinstance(exc, Exception):
                    raise  # cancelled: callers are answered, then let it through
                return
            for (_, future), entry_id in zip(chunk, ids, strict=True):
                if not future.done():
                    future.set_result(
                        entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    )


class RedisStore:
    degraded = False  # see Store.degraded

    def __init__(self, url: str) -> None:
        self.url = url
        options: dict[str, Any] = {
            "socket_timeout": 5,
            "socket_connect_timeout": 2,
            "health_check_interval": 10,
            # A pooled connection the server closed (Redis restarted, an idle
            # timeout, a failover) fails its next command with "Connection closed
            # by server" even though Redis answers: redo the command once on a
            # fresh connection (commands, pipelines and scripts alike) instead of
            # reporting the store unavailable. ``from_url`` builds its own pool
            # and so gets none of redis-py's default retries: without this one
            # stale connection per worker put the whole store back in degraded
            # mode after every recovery. Timeouts are not retried (a hung Redis
            # would cost twice socket_timeout per call), a refused reconnect
            # fails at once.
            "retry": Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            "retry_on_error": [RedisConnectionError],
        }
        # redis+sentinel://: the master is looked up through the Sentinels and
        # followed across failovers (see bot/store/sentinel.py)
        self._sentinel: Sentinel | None = None
        self._follower: asyncio.Task[None] | None = None
        self.client: aioredis.Redis
        if is_sentinel_url(url):
            self.client, self._sentinel = sentinel_client(url, **options)
        else:
            self.client = aioredis.Redis.from_url(url, **options)
        self._batcher = _Batcher(self.client)
        self._release = self.client.register_script(_RELEASE)
        self._acquire = self.client.register_script(_ACQUIRE)

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except ResponseError:
            raise
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def start(self) -> None:
        if self._sentinel is not None and self._follower is None:
            self._follower = asyncio.create_task(follow_master(self.client))
        try:
            await self._call(self.client.xgroup_create(STREAM, GROUP, id="0", mkstream=True))
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def close(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
            self._follower = None
        await self.client.aclose()
        if self._sentinel is not None:
            try:
                await self._sentinel.aclose()
            except (RedisError, OSError) as exc:  # closing must not fail the shutdown
                log.warning("closing the sentinel connections failed", error=str(exc))

    async def ping(self) -> None:
        await self._call(self.client.ping())

    # queue -----------------------------------------------------------------
    async def enqueue(self, payload: bytes) -> str:
        return await self._batcher.add(payload)

    async def dequeue(self, consumer: str, count: int, block_ms: int) -> list[QueueEntry]:
        try:
            raw = await self._call(
                self.client.xreadgroup(
                    GROUP, consumer, {STREAM: ">"}, count=count, block=block_ms or None
                )
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # stream deleted under us (e.g. FLUSHALL): recreate
                await self.start()
                return []
            raise
        return [e for _, items in raw or [] for e in _entries(items)]

    async def reclaim(self, consumer: str, min_idle_ms: int, count: int) -> list[QueueEntry]:
        pending = await self._call(
            self.client.xpending_range(
                STREAM, GROUP, min="-", max="+", count=count, idle=min_idle_ms
            )
        )
        if not pending:
            return []
        deliveries = {
            (
                p["message_id"].decode() if isinstance(p["message_id"], bytes) else p["message_id"]
            ): p["times_delivered"] + 1
            for p in pending
        }
        claimed = await self._call(
            self.client.xclaim(STREAM, GROUP, consumer, min_idle_ms, list(deliveries))
        )
        entries = _entries(claimed, deliveries)
        # An id XCLAIM did not return was either claimed first by another
        # consumer (it is no longer idle: leave it alone, it is being worked on)
        # or its data was deleted (nothing left to process: ack it away).
        unclaimed = sorted(set(deliveries) - {e.id for e in entries})
        if unclaimed:
            async with self.client.pipeline(transaction=False) as pipe:
                for eid in unclaimed:
                    pipe.xrange(STREAM, eid, eid)
                found = await self._call(pipe.execute())
            gone = [eid for eid, rows in zip(unclaimed, found, strict=True) if not rows]
            if gone:
                await self._call(self.client.xack(STREAM, GROUP, *gone))
        return entries

    async def ack(self, entry: QueueEntry) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.xack(STREAM, GROUP, entry.id)
            pipe.xdel(STREAM, entry.id)
            await self._call(pipe.execute())

    async def dead_letter(self, entry: QueueEntry, reason: str) -> None:
        await self._call(
            self.client.xadd(
                DEAD, {"payload": entry.payload, "reason": reason, "id": entry.id}, maxlen=10_000
            )
        )
        await self.ack(entry)

    async def queue_depth(self) -> int:
        return int(await self._call(self.client.xlen(STREAM)))

    # incidents -------------------------------------------------------------
    async def get_incident(self, incident_id: str) -> Incident | None:
        raw = await self._call(self.client.get(redis_incident(incident_id)))
        return Incident.model_validate_json(raw) if raw else None

    async def save_incident(self, incident: Incident, ttl_seconds: int) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(redis_incident(incident.id), incident.model_dump_json(), ex=ttl_seconds)
            pipe.zadd(INDEX, {incident.id: incident.created_at.timestamp()})
            await self._call(pipe.execute())

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        ids = await self._call(self.client.zrevrange(INDEX, 0, max(limit * 4, 200)))
        if not ids:
            return []
        raws = await self._call(self.client.mget([redis_incident(i.decode()) for i in ids]))
        expired = [i for i, raw in zip(ids, raws, strict=True) if raw is None]
        if expired:
            await self._call(self.client.zrem(INDEX, *expired))
        found = [Incident.model_validate_json(r) for r in raws if r]
        return [i for i in found if status is None or i.status == status][:limit]

    # locks -----------------------------------------------------------------
    async def acquire(self, name: str, owner: str, ttl_seconds: float) -> bool:
        key = redis_lock(name)
        got = await self._call(self._acquire(keys=[key], args=[owner, int(ttl_seconds * 1000)]))
        return bool(got)

    async def release(self, name: str, owner: str) -> None:
        await self._call(self._release(keys=[redis_lock(name)], args=[owner]))

    # values ----------------------------------------------------------------
    async def get_value(self, key: str) -> str | None:
        raw = await self._call(self.client.get(redis_value(key)))
        return raw.decode() if raw is not None else None

    async def set_value(
        self, key: str, value: str, ttl_seconds: float | None = None, only_if_absent: bool = False
    ) -> bool:
        px = int(ttl_seconds * 1000) if ttl_seconds else None
        done = await self._call(self.client.set(redis_value(key), value, px=px, nx=only_if_absent))
        return bool(done)

    async def delete_value(self, key: str) -> None:
        await self._call(self.client.delete(redis_value(key)))

    async def index_add(self, key: str, member: str, score: float) -> None:
        await self._call(self.client.zadd(redis_value(key), {member: score}))

    async def index_remove(self, key: str, *members: str) -> None:
        if members:
            await self._call(self.client.zrem(redis_value(key), *members))

    async def index_members(self, key: str) -> list[str]:
        return [m.decode() for m in await self._call(self.client.zrange(redis_value(key), 0, -1))]

    async def append_audit(self, fields: dict[str, str]) -> str:
        entry = await self._call(
            self.client.xadd(AUDIT, dict(fields.items()), maxlen=AUDIT_MAXLEN, approximate=True)
        )
        return str(entry.decode() if isinstance(entry, bytes) else entry)

    async def read_audit(self, since_ms: int, count: int) -> list[tuple[str, dict[str, str]]]:
        rows = await self._call(self.client.xrange(AUDIT, min=f"{since_ms}-0", count=count))
        return [
            (eid.decode(), {k.decode(): v.decode() for k, v in data.items()}) for eid, data in rows
        ]

    async def incr(self, key: str, ttl_seconds: float | None = None) -> int:
        full = redis_value(key)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            if ttl_seconds:
                pipe.pexpire(full, int(ttl_seconds * 1000), nx=True)
            result = await self._call(pipe.execute())
        return int(result[0])
