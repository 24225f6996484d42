"""Graceful shutdown of a real ``honua-bot serve`` on SIGTERM.

A probe against a server that never answers keeps one queue entry in flight for
its whole timeout. Then SIGTERM: readiness fails at once (the process still
answers), new alerts are refused with 503 so Alertmanager retries elsewhere, and

- within the grace period the entry is finished here and the process exits 0;
- past the grace period the entry is left pending in the stream, never acked,
  the process still exits 0, and another replica finishes it.

Either way the alert is diagnosed and notified exactly once.
"""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from bot.models import Incident
from bot.models.alertmanager import Alert
from bot.store.redis import DEAD, GROUP, PREFIX, STREAM
from tests.helpers import RedisServer, alert, notification, wait_for
from tests.integration.serve_support import (  # noqa: F401 - `serve` is a fixture
    ServeProcess,
    StartServe,
    serve,
    write_rules,
)

PROBE_TIMEOUT = 3  # seconds the probe hangs: how long the entry stays in flight
RULE = """\
name: slow-status
match:
  alertname: SlowStatus
probes:
  status:
    http.json_field: {url: "%s/status", path: state}
    timeout: %ds
diagnosis:
  - scenario: status-unreachable
    when: '!status.ok'
    summary: 'status page: {{ status.error }}'
"""


@pytest.fixture
def blackhole() -> Iterator[str]:
    """Takes connections and never answers: a probe against it hangs to its timeout."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.fixture
async def r(private_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


@pytest.fixture
def env(tmp_path: Path, private_redis: RedisServer, blackhole: str) -> dict[str, str]:
    rules = write_rules(tmp_path / "rules", RULE % (blackhole, PROBE_TIMEOUT))
    return {
        "HONUA_BOT_REDIS_URL": private_redis.url,
        "HONUA_BOT_RULES": str(rules),
        "HONUA_BOT_CLAIM_IDLE_SECONDS": "1",
    }


async def stored(r: aioredis.Redis, incident_id: str) -> Incident | None:
    raw = await r.get(f"{PREFIX}:incident:{incident_id}")
    return Incident.model_validate_json(raw) if raw else None


async def pending(r: aioredis.Redis) -> int:
    return int((await r.xpending(STREAM, GROUP))["pending"])


async def in_flight(r: aioredis.Redis, incident_id: str) -> bool:
    """The entry is taken and unacked, its incident opened but not yet diagnosed."""
    incident = await stored(r, incident_id)
    return incident is not None and incident.diagnosis is None and await pending(r) == 1


async def exited(bot: ServeProcess, timeout: float) -> int:
    await wait_for(lambda: bot.proc.poll() is not None, timeout)
    return bot.proc.returncode


async def watch_shutdown(bot: ServeProcess, r: aioredis.Redis, incident_id: str) -> None:
    """SIGTERM ``bot`` and check, while it is still running and the entry still in
    flight, that it is unready and refuses new work."""
    bot.terminate()
    async with httpx.AsyncClient(base_url=bot.url, timeout=2) as http:

        async def unready() -> bool:
            return (await http.get("/readyz")).status_code == 503

        await wait_for(unready, timeout=2, interval=0.02)
        assert bot.proc.poll() is None  # still running, still answering
        ready = (await http.get("/readyz")).json()
        assert ready["ready"] is False and "shutting down" in ready["problems"]
        assert (await http.get("/healthz")).status_code == 200

        other = alert("SlowStatus", fingerprint="fp-too-late")
        refused = await http.post("/alerts", json=notification(other))
        assert refused.status_code == 503, refused.text
        assert "shutting down" in refused.json()["error"]
    assert await in_flight(r, incident_id)  # readiness failed before the work ended
    assert await stored(r, Alert.model_validate(other).incident_id) is None


async def test_sigterm_finishes_the_in_flight_entry_within_the_grace_period_and_exits_0(
    r: aioredis.Redis,
    env: dict[str, str],
    serve: StartServe,  # noqa: F811
) -> None:
    bot = serve("graceful", **env, HONUA_BOT_SHUTDOWN_GRACE_SECONDS="20")
    await bot.wait_ready()
    a = alert("SlowStatus", fingerprint="fp-graceful")
    incident_id = Alert.model_validate(a).incident_id
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.post(f"{bot.url}/alerts", json=notification(a))).status_code == 200
    await wait_for(lambda: in_flight(r, incident_id), timeout=5, interval=0.02)

    sent = time.monotonic()
    await watch_shutdown(bot, r, incident_id)
    assert await exited(bot, timeout=PROBE_TIMEOUT + 10) == 0, bot.diagnostics()
    assert time.monotonic() - sent < PROBE_TIMEOUT + 5  # it waited for the entry, no longer

    incident = await stored(r, incident_id)
    assert incident is not None and incident.diagnosis is not None
    assert incident.diagnosis.scenario == "status-unreachable"
    assert "timed out" in (incident.diagnosis.findings["status"].error or "")
    assert incident.notified == ["diagnosed"]
    assert bot.stdout.count(incident_id) == 1  # notified here, once
    assert await r.xlen(STREAM) == 0 and await pending(r) == 0  # acked
    assert await r.xlen(DEAD) == 0
    assert '"event": "stopped"' in bot.stderr


async def test_sigterm_past_the_grace_period_leaves_the_entry_for_another_replica(
    r: aioredis.Redis,
    env: dict[str, str],
    serve: StartServe,  # noqa: F811
) -> None:
    first = serve("first", **env, HONUA_BOT_SHUTDOWN_GRACE_SECONDS="0.5")
    await first.wait_ready()
    a = alert("SlowStatus", fingerprint="fp-handed-over")
    incident_id = Alert.model_validate(a).incident_id
    async with httpx.AsyncClient(timeout=5) as http:
        assert (await http.post(f"{first.url}/alerts", json=notification(a))).status_code == 200
    await wait_for(lambda: in_flight(r, incident_id), timeout=5, interval=0.02)

    await watch_shutdown(first, r, incident_id)
    assert await exited(first, timeout=10) == 0, first.diagnostics()
    # it gave up on the entry without acking it: still pending, nothing notified
    assert await pending(r) == 1 and await r.xlen(STREAM) == 1
    incident = await stored(r, incident_id)
    assert incident is not None and incident.notified == []
    assert incident.diagnosis is None  # cut short, not half-recorded
    assert first.stdout.count(incident_id) == 0
    assert "unfinished entries stay pending" in first.stderr

    second = serve("second", **env)
    await second.wait_ready()

    async def notified() -> Incident | None:
        found = await stored(r, incident_id)
        return found if found is not None and found.notified == ["diagnosed"] else None

    done = await wait_for(notified, timeout=PROBE_TIMEOUT + 10, interval=0.1)
    assert done.diagnosis is not None and done.diagnosis.scenario == "status-unreachable"
    assert "timed out" in (done.diagnosis.findings["status"].error or "")

    async def acked() -> bool:
        return await pending(r) == 0 and await r.xlen(STREAM) == 0

    await wait_for(acked, timeout=5)
    assert second.stop() == 0, second.diagnostics()
    assert second.stdout.count(incident_id) == 1
    assert first.stdout.count(incident_id) == 0
    assert await r.xlen(DEAD) == 0
