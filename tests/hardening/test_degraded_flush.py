"""Item 11: what was written while the bot's Redis was down reaches Redis when it
comes back, so other replicas and `honua-bot act` see it."""

from __future__ import annotations

import pytest

from bot.models import Alert, Incident
from bot.store import keys
from bot.store.memory import MemoryStore
from bot.store.redis import RedisStore
from bot.store.resilient import ResilientStore
from tests.helpers import RedisServer, alert, wait_for


@pytest.fixture
def server() -> RedisServer:
    return RedisServer()


async def test_degraded_writes_are_flushed_on_recovery(server: RedisServer) -> None:
    server.start()
    store = ResilientStore(RedisStore(server.url), MemoryStore(), check_interval=0.1)
    await store.start()
    port = server.port
    try:
        server.stop()
        incident = Incident.from_alert(Alert.model_validate(alert(fingerprint="fp-degraded")))
        await store.save_incident(incident, 3600)  # Redis is down: memory
        assert store.degraded
        assert await store.set_value("slack:once:v:U1", "1", 60, only_if_absent=True)
        await store.append_audit({"event": "refused", "incident": incident.id})
        await store.index_add(keys.mitigations_index(), incident.id, 1.0)

        server.port = port
        server.start()  # back, empty (no persistence): only the flush can fill it
        await wait_for(lambda: not store.degraded, timeout=15)

        other = RedisStore(server.url)  # another replica, or `honua-bot act`
        await other.start()
        try:
            seen = await other.get_incident(incident.id)
            assert seen is not None and seen.fingerprint == "fp-degraded"
            assert await other.get_value("slack:once:v:U1") == "1"
            # the marker still works as a marker: a second click elsewhere is refused
            assert not await other.set_value("slack:once:v:U1", "1", 60, only_if_absent=True)
            audit = await other.read_audit(0, 10)
            assert [f["event"] for _, f in audit] == ["refused"]
            assert await other.index_members(keys.mitigations_index()) == [incident.id]
        finally:
            await other.close()
    finally:
        await store.close()
        server.stop()
