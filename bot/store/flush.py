"""On recovery, what the bot wrote to memory while its Redis was down goes to
Redis: incidents, replay and double-click markers, counters, the audit trail,
index entries (incidents with a mitigation to offer for restoring).
Otherwise they stay in one process's memory, unseen by other replicas and by
``honua-bot act`` until their next save (some never have one).

Conflicts: an incident already in Redis is overwritten only by a newer copy
(``updated_at``); a value already in Redis is kept (markers are set-if-absent).
"""

from __future__ import annotations

from bot.logs import get_logger
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore

log = get_logger("store")


async def flush_memory(memory: MemoryStore, redis: RedisStore) -> dict[str, int]:
    """Copy and then forget; raises StoreUnavailable if Redis goes away again
    (what was not copied stays in memory for the next recovery)."""
    incidents, values, audit = memory.pending_writes()
    written = {"incidents": 0, "values": 0, "audit": 0}
    flushed_ids: list[str] = []
    for incident, ttl in incidents:
        if ttl <= 0:
            continue
        there = await redis.get_incident(incident.id)
        if there is None or there.updated_at <= incident.updated_at:
            await redis.save_incident(incident, ttl)
            written["incidents"] += 1
        flushed_ids.append(incident.id)
    flushed_keys: list[str] = []
    for key, value, left in values:
        if left is not None and left <= 0:
            continue
        if await redis.set_value(key, value, left, only_if_absent=True):
            written["values"] += 1
        flushed_keys.append(key)
    for fields in audit:
        await redis.append_audit(fields)
        written["audit"] += 1
    memory.forget_flushed(flushed_ids, flushed_keys, len(audit))
    entries = memory.pending_index_entries()
    for key, member, score in entries:
        await redis.index_add(key, member, score)
    memory.forget_index_entries(entries)
    written["index_entries"] = len(entries)
    if any(written.values()):
        log.warning("degraded-mode writes flushed to redis", **written)
    return written
