"""Item 1: one alert that cannot be processed never costs its neighbours."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.alerts.pipeline import Outcome
from bot.alerts.worker import Worker
from bot.metrics import Metrics
from bot.models import WebhookMessage
from bot.models.alertmanager import Alert
from bot.store.memory import MemoryStore
from bot.store.redis import DEAD, GROUP, PREFIX, STREAM
from tests.helpers import BotHarness, alert, notification, wait_for

ISSUE_PAYLOAD = {
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "X"},
            "startsAt": "0001-01-01T00:00:00+14:00",
        },
        {
            "status": "firing",
            "labels": {"alertname": "Good"},
            "startsAt": "2026-01-01T00:00:00Z",
        },
    ],
}


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def test_out_of_range_start_is_clamped_not_rejected() -> None:
    message = WebhookMessage.model_validate(ISSUE_PAYLOAD)
    early = message.alerts[0]
    assert early.starts_at.isoformat() == "0001-01-01T00:00:00+00:00"
    assert early.incident_id.startswith("inc-")
    late = Alert.model_validate(
        {"status": "firing", "labels": {}, "startsAt": "9999-12-31T23:59:59-14:00"}
    )
    assert late.starts_at.year == 9999 and late.incident_id


async def test_issue_payload_processes_every_alert(redis_url: str, r: aioredis.Redis) -> None:
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5) as bot:
        resp = await bot.post(ISSUE_PAYLOAD)
        assert resp.status_code == 200, resp.text
        ids = [Alert.model_validate(a).incident_id for a in ISSUE_PAYLOAD["alerts"]]
        for inc in ids:
            await wait_for(lambda inc=inc: r.exists(f"{PREFIX}:incident:{inc}"), timeout=10)
        await wait_for(lambda: _drained(r))
        assert await r.xlen(DEAD) == 0


async def _drained(r: aioredis.Redis) -> bool:
    return await r.xlen(STREAM) == 0 and int((await r.xpending(STREAM, GROUP))["pending"]) == 0


class PoisonPipeline:
    """Raises for alerts named Poison on every delivery; records the rest."""

    def __init__(self) -> None:
        self.handled: list[str] = []

    async def handle(self, a: Alert, external_url: str = "") -> Outcome:
        if a.alertname == "Poison":
            raise RuntimeError("rule code exploded")
        self.handled.append(a.alertname)
        return Outcome.DONE


async def _run_deliveries(store: MemoryStore, worker: Worker, times: int) -> None:
    for _ in range(times):
        entries = await store.dequeue("w", 10, 10) or await store.reclaim("w", 0, 10)
        for entry in entries:
            await worker.process(entry)


async def test_alert_failing_every_delivery_is_dead_lettered_alone() -> None:
    store = MemoryStore()
    pipeline = PoisonPipeline()
    worker = Worker(store, pipeline, Metrics(), "w", claim_idle_seconds=0, max_deliveries=3)  # type: ignore[arg-type]
    body = notification(
        alert("Good1", fingerprint="a"),
        alert("Poison", fingerprint="b"),
        alert("Good2", fingerprint="c"),
    )
    await store.enqueue(json.dumps(body).encode())
    await store.enqueue(json.dumps(notification(alert("Next", fingerprint="d"))).encode())
    await _run_deliveries(store, worker, 6)
    assert {"Good1", "Good2", "Next"} <= set(pipeline.handled)
    assert await store.queue_depth() == 0
    assert len(store.dead) == 1
    entry, reason = store.dead[0]
    dead_alerts = json.loads(entry.payload)["alerts"]
    assert [a["labels"]["alertname"] for a in dead_alerts] == ["Poison"]
    assert "rule code exploded" in reason


class BrokenAckStore(MemoryStore):
    """ack raises a programming error for the first entry only."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = set()

    async def ack(self, entry: Any) -> None:
        if entry.id in self.broken:
            raise KeyError("boom")
        await super().ack(entry)


async def test_exception_in_one_entry_does_not_skip_the_batch() -> None:
    store = BrokenAckStore()
    pipeline = PoisonPipeline()
    worker = Worker(store, pipeline, Metrics(), "w")  # type: ignore[arg-type]
    first = await store.enqueue(json.dumps(notification(alert("First", fingerprint="a"))).encode())
    await store.enqueue(json.dumps(notification(alert("Second", fingerprint="b"))).encode())
    store.broken.add(first)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    try:
        # one batch of two: the first entry's error must not skip the second
        await wait_for(lambda: pipeline.handled == ["First", "Second"], timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
