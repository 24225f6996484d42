"""Workers and the incident pipeline on a real Redis: effectively-once processing.

Alertmanager delivers at least once, re-sends every repeat_interval and runs as an
HA pair; workers crash and replicas share the stream. Whatever happens, one alert
episode (fingerprint + startsAt) gives one incident, one diagnosis and one
notification per event. The first tests run the bot in-process (BotHarness);
the last ones run real ``honua-bot serve`` processes and SIGKILL one of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families

from bot.alerts.pipeline import Outcome
from bot.models import Incident, IncidentStatus
from bot.models.alertmanager import Alert
from bot.notify import Event
from bot.store.redis import DEAD, GROUP, PREFIX, STREAM
from tests.helpers import REPO, BotHarness, alert, notification, wait_for
from tests.integration.serve_support import ServeProcess

# --- helpers -----------------------------------------------------------------


def incident_id(a: dict[str, Any]) -> str:
    return Alert.model_validate(a).incident_id


async def stored(r: aioredis.Redis, inc_id: str) -> Incident | None:
    raw = await r.get(f"{PREFIX}:incident:{inc_id}")
    return Incident.model_validate_json(raw) if raw else None


async def pending(r: aioredis.Redis) -> int:
    return int((await r.xpending(STREAM, GROUP))["pending"])


async def drained(r: aioredis.Redis) -> bool:
    """Every queued entry was processed and acked (ack also deletes the entry)."""
    return await r.xlen(STREAM) == 0 and await pending(r) == 0


async def incident_keys(r: aioredis.Redis) -> list[bytes]:
    return [k async for k in r.scan_iter(match=f"{PREFIX}:incident:*", count=1000)]


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


async def bot_metric(bot: BotHarness, name: str, **labels: str) -> float:
    resp = await bot.http.get("/metrics")
    assert resp.status_code == 200
    return metric_sum(resp.text, name, **labels)


def kinds(events: list[tuple[Event, Incident]]) -> list[Event]:
    return [event for event, _ in events]


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """An HTTP 'server' that takes connections and never answers: a probe against it
    runs until its timeout, so processing is reliably in flight for that long."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)  # the kernel completes handshakes; nobody ever reads or replies
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


class FailsFirst:
    """A notifier whose first call raises, as a worker dying mid-notification would."""

    def __init__(self, failures: int = 1) -> None:
        self.failures = failures
        self.calls = 0
        self.events: list[tuple[Event, Incident]] = []

    async def notify(self, incident: Incident, event: Event) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("notifier down (simulated)")
        self.events.append((event, incident.model_copy(deep=True)))


class BlocksFirst:
    """A notifier whose first call hangs until released: a stuck worker."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0
        self.events: list[tuple[Event, Incident]] = []

    async def notify(self, incident: Incident, event: Event) -> None:
        self.calls += 1
        if self.calls == 1:
            await self.release.wait()
        self.events.append((event, incident.model_copy(deep=True)))


# --- duplicates, repeats, resolution ----------------------------------------


async def test_duplicate_and_ha_notifications_give_one_incident_one_diagnosis_one_message(
    redis_url: str, r: aioredis.Redis, blackhole: str
) -> None:
    a = alert(fingerprint="fp-dup")
    inc = incident_id(a)
    # Probes against the black hole take 1 s, so the HA copy below arrives while
    # the first copy is still being diagnosed by another worker of this process.
    async with BotHarness(
        redis_url=redis_url, claim_idle_seconds=0.5, probe_timeout=1, process_api_url=blackhole
    ) as bot:
        copies = await asyncio.gather(*(bot.post(notification(a)) for _ in range(5)))
        assert [c.status_code for c in copies] == [200] * 5, [c.text for c in copies]

        opened = await wait_for(lambda: stored(r, inc), timeout=5)
        assert opened.diagnosis is None  # in flight: probes still running
        ha_copy = notification(a)
        ha_copy["externalURL"] = "http://alertmanager-1:9093"  # the HA peer's identical alert
        resp = await bot.post(ha_copy)
        assert resp.status_code == 200, resp.text

        await wait_for(lambda: drained(r), timeout=15)
        assert kinds(bot.recorder.events) == [Event.DIAGNOSED]
        assert bot.recorder.events[0][1].id == inc
        assert await incident_keys(r) == [f"{PREFIX}:incident:{inc}".encode()]
        incident = await stored(r, inc)
        assert incident is not None and incident.diagnosis is not None
        assert incident.notified == ["diagnosed"]
        assert await bot_metric(bot, "honua_bot_incidents_total") == 1  # one diagnosis
        assert await r.xlen(DEAD) == 0


async def test_resent_notification_after_diagnosis_is_not_notified_again(
    redis_url: str, r: aioredis.Redis
) -> None:
    a = alert(fingerprint="fp-repeat")
    inc = incident_id(a)
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5) as bot:
        assert (await bot.post(notification(a))).status_code == 200
        await wait_for(lambda: bot.recorder.events)
        await wait_for(lambda: drained(r))
        first = await stored(r, inc)
        assert first is not None and first.diagnosis is not None

        # repeat_interval: Alertmanager sends the same firing alert again, twice
        for _ in range(2):
            assert (await bot.post(notification(a))).status_code == 200
            await wait_for(lambda: drained(r))

        assert kinds(bot.recorder.events) == [Event.DIAGNOSED]
        again = await stored(r, inc)
        assert again is not None and again.diagnosis is not None
        assert again.diagnosis.diagnosed_at == first.diagnosis.diagnosed_at
        assert again.notified == ["diagnosed"]
        assert len(await incident_keys(r)) == 1
        assert await bot_metric(bot, "honua_bot_incidents_total") == 1


async def test_resolved_after_firing_closes_the_same_incident_once(
    redis_url: str, r: aioredis.Redis
) -> None:
    firing = alert(fingerprint="fp-resolve")
    resolved = alert(fingerprint="fp-resolve", status="resolved")
    inc = incident_id(firing)
    assert incident_id(resolved) == inc
    async with BotHarness(
        redis_url=redis_url, claim_idle_seconds=0.5, incident_ttl_seconds=3600
    ) as bot:
        assert (await bot.post(notification(firing))).status_code == 200
        await wait_for(lambda: bot.recorder.events)
        open_ttl = await r.ttl(f"{PREFIX}:incident:{inc}")
        assert open_ttl > 3600  # open incidents live for open_incident_ttl_seconds

        assert (await bot.post(notification(resolved))).status_code == 200
        await wait_for(lambda: len(bot.recorder.events) == 2)
        assert (await bot.post(notification(resolved))).status_code == 200  # re-sent
        await wait_for(lambda: drained(r))

        assert kinds(bot.recorder.events) == [Event.DIAGNOSED, Event.RESOLVED]
        assert {i.id for _, i in bot.recorder.events} == {inc}
        assert bot.recorder.events[1][1].status is IncidentStatus.RESOLVED
        incident = await stored(r, inc)
        assert incident is not None
        assert incident.status is IncidentStatus.RESOLVED
        assert incident.ends_at is not None
        assert incident.notified == ["diagnosed", "resolved"]
        assert not incident.resolved_before_firing
        # closed incidents expire sooner (incident_ttl_seconds)
        assert 0 < await r.ttl(f"{PREFIX}:incident:{inc}") <= 3600
        assert len(await incident_keys(r)) == 1


async def test_resolved_before_firing_is_recorded_closed_and_late_firing_is_ignored(
    redis_url: str, r: aioredis.Redis
) -> None:
    firing = alert(fingerprint="fp-reordered")
    resolved = alert(fingerprint="fp-reordered", status="resolved")
    inc = incident_id(firing)
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5) as bot:
        assert (await bot.post(notification(resolved))).status_code == 200
        closed = await wait_for(lambda: stored(r, inc))
        await wait_for(lambda: drained(r))
        assert closed.status is IncidentStatus.RESOLVED
        assert closed.resolved_before_firing
        assert closed.diagnosis is None

        # the firing copy arrives late (reordered, or re-sent from before the resolve)
        assert (await bot.post(notification(firing))).status_code == 200
        await wait_for(lambda: drained(r))

        assert bot.recorder.events == []
        after = await stored(r, inc)
        assert after is not None
        assert after.status is IncidentStatus.RESOLVED
        assert after.resolved_before_firing
        assert after.diagnosis is None
        assert after.notified == []
        assert await bot_metric(bot, "honua_bot_incidents_total") == 0
        assert len(await incident_keys(r)) == 1


async def test_concurrent_handling_of_one_alert_in_one_process_runs_it_once(
    redis_url: str, r: aioredis.Redis
) -> None:
    """The workers of one process share a pipeline; the incident lock must still
    exclude them from each other, not only other replicas."""
    a = Alert.model_validate(alert(fingerprint="fp-same-process"))
    async with BotHarness(redis_url=redis_url) as bot:
        outcomes = await asyncio.gather(*(bot.service.pipeline.handle(a) for _ in range(5)))
        assert sorted(outcomes) == sorted([Outcome.DONE] + [Outcome.BUSY] * 4)
        assert kinds(bot.recorder.events) == [Event.DIAGNOSED]
        assert await bot_metric(bot, "honua_bot_incidents_total") == 1
        # the lock was released: a later copy is handled (as a no-op)
        assert await bot.service.pipeline.handle(a) is Outcome.DONE
        assert kinds(bot.recorder.events) == [Event.DIAGNOSED]
        assert await r.exists(f"{PREFIX}:lock:incident:{a.incident_id}") == 0


# --- failures mid-processing ---------------------------------------------------


async def test_entry_that_failed_mid_processing_is_reclaimed_and_processed_once(
    redis_url: str, r: aioredis.Redis
) -> None:
    a = alert(fingerprint="fp-crash")
    inc = incident_id(a)
    notifier = FailsFirst()
    # claim_idle well above one diagnosis (~0.7 s with every probe failing), so the
    # entry is still pending when the failure is observed
    async with BotHarness(notifier=notifier, redis_url=redis_url, claim_idle_seconds=3) as bot:
        assert (await bot.post(notification(a))).status_code == 200
        await wait_for(lambda: notifier.calls >= 1)

        # the failed entry stays pending; the diagnosis it got is kept
        first = await wait_for(lambda: stored(r, inc))
        assert await pending(r) == 1
        assert first.diagnosis is not None
        assert first.notified == []

        await wait_for(lambda: notifier.events, timeout=15)  # reclaimed and retried
        await wait_for(lambda: drained(r))
        assert kinds(notifier.events) == [Event.DIAGNOSED]
        assert notifier.calls == 2
        incident = await stored(r, inc)
        assert incident is not None and incident.diagnosis is not None
        assert incident.diagnosis.diagnosed_at == first.diagnosis.diagnosed_at  # not re-diagnosed
        assert incident.notified == ["diagnosed"]
        assert await bot_metric(bot, "honua_bot_incidents_total") == 1
        assert await bot_metric(bot, "honua_bot_worker_errors_total", stage="pipeline") == 1
        assert await r.xlen(DEAD) == 0


async def test_stuck_worker_entry_reclaimed_by_a_sibling_is_not_processed_twice(
    redis_url: str, r: aioredis.Redis
) -> None:
    """A worker hangs in the notifier past claim_idle: a sibling worker of the same
    process reclaims the entry, but must not notify a second time."""
    a = alert(fingerprint="fp-stuck")
    notifier = BlocksFirst()
    async with BotHarness(notifier=notifier, redis_url=redis_url, claim_idle_seconds=0.5) as bot:
        try:
            assert (await bot.post(notification(a))).status_code == 200
            await wait_for(lambda: notifier.calls == 1)

            async def redelivered() -> bool:
                if notifier.calls > 1:  # processed concurrently: the assertions below say so
                    return True
                detail = await r.xpending_range(STREAM, GROUP, min="-", max="+", count=10)
                return bool(detail) and detail[0]["times_delivered"] >= 2

            await wait_for(redelivered, timeout=15)
        finally:
            notifier.release.set()
        await wait_for(lambda: drained(r), timeout=15)
        assert kinds(notifier.events) == [Event.DIAGNOSED]
        assert notifier.calls == 1
        incident = await stored(r, incident_id(a))
        assert incident is not None and incident.notified == ["diagnosed"]


async def test_entry_that_keeps_failing_is_dead_lettered_not_dropped(
    redis_url: str, r: aioredis.Redis
) -> None:
    a = alert(fingerprint="fp-poison")
    notifier = FailsFirst(failures=1000)
    async with BotHarness(
        notifier=notifier, redis_url=redis_url, claim_idle_seconds=0.2, max_deliveries=1
    ) as bot:
        assert (await bot.post(notification(a))).status_code == 200
        await wait_for(lambda: r.xlen(DEAD), timeout=15)
        await wait_for(lambda: drained(r))
        [(_, fields)] = await r.xrange(DEAD)
        assert fields[b"reason"].startswith(b"failed 1 times: ")  # with the error
        payload = json.loads(fields[b"payload"])
        assert payload["alerts"][0]["fingerprint"] == "fp-poison"
        assert notifier.events == []
        assert bot.service.workers  # still running
        assert await bot_metric(bot, "honua_bot_worker_errors_total", stage="pipeline") >= 1
        # what the chart's HonuaBotDeadLetters alert watches
        assert await bot_metric(bot, "honua_bot_dead_letters_total") == 1


# --- real processes -------------------------------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[ServeProcess] = []

    def start(name: str, **env: str) -> ServeProcess:
        proc = ServeProcess(tmp_path, name, {"HONUA_BOT_RULES": str(REPO / "rules"), **env})
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            with contextlib.suppress(Exception):
                proc.stop()


async def test_serve_killed_mid_processing_entry_is_reclaimed_and_processed_once(
    redis_url: str, r: aioredis.Redis, blackhole: str, serve: Any
) -> None:
    env = {
        "HONUA_BOT_REDIS_URL": redis_url,
        "HONUA_BOT_CLAIM_IDLE_SECONDS": "1",
        "HONUA_BOT_PROBE_TIMEOUT": "2",
        "HONUA_BOT_PROCESS_API_URL": blackhole,  # probes hang until the probe timeout
    }
    a = alert(fingerprint="fp-sigkill")
    inc = incident_id(a)
    first = serve("first", **env)
    await first.wait_ready()
    async with httpx.AsyncClient(timeout=10) as http:
        resp = await http.post(f"{first.url}/alerts", json=notification(a))
        assert resp.status_code == 200, resp.text

    # processing is in flight: the entry is pending and the incident opened, not diagnosed
    async def in_flight() -> bool:
        incident = await stored(r, inc)
        return await pending(r) == 1 and incident is not None and incident.diagnosis is None

    await wait_for(in_flight, timeout=10, interval=0.02)
    first.kill()
    assert first.proc.returncode == -signal.SIGKILL
    assert await pending(r) == 1
    assert await r.xlen(STREAM) == 1
    incident = await stored(r, inc)
    assert incident is not None and incident.diagnosis is None

    second = serve("second", **env)
    await second.wait_ready()

    async def done() -> Incident | None:
        incident = await stored(r, inc)
        if incident is None or incident.notified != ["diagnosed"] or not await drained(r):
            return None
        return incident

    # The dead worker's incident lock lives out its lease (probe timeout + 30 s)
    # before the second process may take the incident over.
    final = await wait_for(done, timeout=60, interval=0.1)
    assert final.diagnosis is not None
    assert final.status is IncidentStatus.OPEN
    failures = final.diagnosis.findings["failures"]
    assert not failures.ok and "timed out" in (failures.error or "")

    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{second.url}/metrics")).text
    assert metric_sum(text, "honua_bot_incidents_total") == 1  # diagnosed once
    second.stop()
    assert first.stdout.count(inc) == 0  # killed before it notified
    assert second.stdout.count(inc) == 1, second.stdout[-2000:]
    assert await r.xlen(DEAD) == 0
    assert len(await incident_keys(r)) == 1


async def test_two_serve_processes_share_the_stream_and_process_each_alert_once(
    redis_url: str, r: aioredis.Redis, serve: Any
) -> None:
    env = {"HONUA_BOT_REDIS_URL": redis_url, "HONUA_BOT_CLAIM_IDLE_SECONDS": "10"}
    procs = [serve("one", **env), serve("two", **env)]
    await asyncio.gather(*(p.wait_ready() for p in procs))

    alerts = [
        alert(
            fingerprint=f"fp-share-{i:04d}", instance=f"pod-{i}", starts_at="2026-11-27T04:00:00Z"
        )
        for i in range(200)
    ]
    ids = [incident_id(a) for a in alerts]
    assert len(set(ids)) == 200
    limit = asyncio.Semaphore(32)
    async with httpx.AsyncClient(timeout=20) as http:

        async def post(i: int, a: dict[str, Any]) -> int:
            async with limit:
                target = procs[i % 2].url
                return (await http.post(f"{target}/alerts", json=notification(a))).status_code

        codes = await asyncio.gather(*(post(i, a) for i, a in enumerate(alerts)))
    assert codes == [200] * 200

    keys = [f"{PREFIX}:incident:{i}" for i in ids]

    async def all_notified() -> bool:
        raws = await r.mget(keys)
        if any(raw is None for raw in raws):
            return False
        found = [Incident.model_validate_json(raw) for raw in raws]
        return all(i.diagnosis is not None and i.notified == ["diagnosed"] for i in found)

    await wait_for(all_notified, timeout=60, interval=0.2)
    await wait_for(lambda: drained(r), timeout=20)

    async with httpx.AsyncClient(timeout=10) as http:
        diagnosed = [
            metric_sum((await http.get(f"{p.url}/metrics")).text, "honua_bot_incidents_total")
            for p in procs
        ]
    assert sum(diagnosed) == 200, diagnosed
    for p in procs:
        p.stop()
        assert p.proc.returncode == 0, p.diagnostics()

    outputs = [p.stdout for p in procs]
    per_proc = [[out.count(i) for i in ids] for out in outputs]
    twice = [i for n, i in enumerate(ids) if per_proc[0][n] + per_proc[1][n] != 1]
    assert twice == [], f"incidents not notified exactly once: {twice[:10]}"
    shares = [sum(counts) for counts in per_proc]
    assert all(share > 0 for share in shares), shares  # both processes did some of the work
    assert shares == [int(d) for d in diagnosed]
    assert await r.xlen(DEAD) == 0
    assert len(await incident_keys(r)) == 200


async def test_entry_finding_its_incident_held_is_retried_shortly_not_after_the_claim_timeout(
    redis_url: str, r: aioredis.Redis
) -> None:
    """A live worker holds the incident (a slow diagnosis, a click): the re-sent
    alert is handled within a second or two of the lock's release, not after
    claim_idle_seconds (60 s here), and the waits are not deliveries."""
    a = alert(fingerprint="fp-held")
    inc = incident_id(a)
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=60) as bot:
        store = bot.service.store
        assert await store.acquire(f"incident:{inc}", "another-worker", 30)
        assert (await bot.post(notification(a))).status_code == 200
        await wait_for(lambda: pending(r))  # taken, found busy, left pending
        await asyncio.sleep(0.5)  # not a synchronisation: time for several busy retries
        assert bot.recorder.events == []
        await store.release(f"incident:{inc}", "another-worker")
        loop = asyncio.get_running_loop()
        released = loop.time()
        await wait_for(lambda: bot.recorder.events, timeout=5)
        assert loop.time() - released < 3
        await wait_for(lambda: drained(r))
        assert kinds(bot.recorder.events) == [Event.DIAGNOSED]
        assert [k async for k in r.scan_iter(match=f"{PREFIX}:v:queue:waits:*")] == []
        assert await r.xlen(DEAD) == 0
