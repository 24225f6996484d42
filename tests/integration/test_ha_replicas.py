"""High availability: three real ``honua-bot serve`` replicas on one Redis, one of
them SIGKILLed in the middle of a burst. Alertmanager's behaviour is played by the
test: each alert goes to the next replica in turn and, when that post fails, to
the next one that answers. Whatever the dead replica had taken from the stream is
reclaimed by the survivors; every alert is diagnosed and posted to Slack (the fake
Slack Web API, a real HTTP server) exactly once: the channel's outbox sender, if
it was the killed one, is taken over and adopts a post it did not live to record.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import signal
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from bot.models import Incident
from bot.models.alertmanager import Alert
from bot.store.redis import DEAD, GROUP, PREFIX, STREAM
from tests.fakes.slack_api import FakeSlack, channel_id
from tests.helpers import RedisServer, alert, notification, wait_for
from tests.integration.serve_support import (  # noqa: F401 - `serve` is a fixture
    ServeProcess,
    StartServe,
    serve,
    write_rules,
)

ALERTS = 500
KILL_AFTER = 150  # accepted posts before one replica is killed
WORKERS = 4  # per replica
CHANNEL = "#ha"  # replicas share their configuration, the Slack channel included
RULE = """\
name: ha-burst
severity: P3
match:
  alertname: HaBurst
diagnosis:
  - scenario: burst
    when: 'true'
    summary: 'burst alert on {{ alert.labels.instance }}'
"""
_ID = re.compile(r"`([0-9a-zA-Z_-]{8,})`")


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    # Slack's real pace (1 message/s/channel) would stretch 500 posts over minutes;
    # pacing has its own tests, here only the counts matter.
    fake = await FakeSlack(rate=100_000, burst=100_000).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def r(private_redis: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(private_redis.url)
    yield client
    await client.aclose()


def replica_env(redis_url: str, rules: Path, slack: FakeSlack, channel: str) -> dict[str, str]:
    return {
        "HONUA_BOT_REDIS_URL": redis_url,
        "HONUA_BOT_RULES": str(rules),
        # a dead replica's entries are reclaimed after 1 s instead of 60
        "HONUA_BOT_CLAIM_IDLE_SECONDS": "1",
        "HONUA_BOT_SLACK_BOT_TOKEN": slack.token,
        "HONUA_BOT_SLACK_CHANNEL": channel,
        "HONUA_BOT_WORKERS": str(WORKERS),
        "HONUA_BOT_SLACK_API_URL": slack.api_url,
        "HONUA_BOT_SLACK_STORM_THRESHOLD": "0",  # one message per incident, no digest
        "HONUA_BOT_SLACK_POST_INTERVAL": "0",
        "HONUA_BOT_LOG_LEVEL": "warning",
    }


def incident_id(a: dict[str, Any]) -> str:
    return Alert.model_validate(a).incident_id


def posts_per_incident(slack: FakeSlack, ids: set[str]) -> dict[str, Counter[str]]:
    """Top-level chat.postMessage per channel and incident (the id is in the blocks)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for message in slack.posts(top_level=True):
        found = set(_ID.findall(json.dumps(message.blocks))) & ids
        assert len(found) == 1, f"a message names {len(found)} incidents: {message.text}"
        counts[message.channel][found.pop()] += 1
    return counts


async def pending_of(r: aioredis.Redis, pid: int) -> int:
    """Entries the consumer of process ``pid`` took and has not acked."""
    consumers = await r.xinfo_consumers(STREAM, GROUP)
    return sum(
        int(c["pending"]) for c in consumers if f"-{pid}-" in c["name"].decode(errors="replace")
    )


async def _frozen_holding(r: aioredis.Redis, pid: int) -> bool:
    """Freeze the process and look: True leaves it frozen with entries in hand
    (it cannot ack them before the SIGKILL); False lets it run on."""
    os.kill(pid, signal.SIGSTOP)
    if await pending_of(r, pid) > 0:
        return True
    os.kill(pid, signal.SIGCONT)
    return False


async def post_round_robin(
    replicas: list[ServeProcess],
    alerts: list[dict[str, Any]],
    kill_after: int,
    r: aioredis.Redis,
) -> tuple[list[int], int]:
    """Post each alert to replica i % n, falling over to the next on failure, as
    Alertmanager retrying behind a Service would; SIGKILL replica 0 once
    ``kill_after`` posts were accepted. Returns (status per alert, entries the
    killed replica had taken and not acked when it died)."""
    accepted = 0
    killed_pending = asyncio.get_running_loop().create_future()
    limit = asyncio.Semaphore(32)

    async with httpx.AsyncClient(timeout=10) as http:

        async def post(i: int, a: dict[str, Any]) -> int:
            nonlocal accepted
            async with limit:
                for attempt in range(len(replicas) * 3):
                    target = replicas[(i + attempt) % len(replicas)]
                    try:
                        resp = await http.post(f"{target.url}/alerts", json=notification(a))
                    except httpx.TransportError:
                        continue  # the killed replica: connection refused or reset
                    if resp.status_code == 200:
                        accepted += 1
                        if accepted == kill_after:
                            # kill it while it holds work (under load its workers can
                            # be momentarily idle, and an unfrozen one may ack between
                            # a look and the kill): poll, frozen, until it has entries
                            pid = replicas[0].proc.pid
                            await wait_for(
                                functools.partial(_frozen_holding, r, pid),
                                timeout=15,
                                interval=0.005,
                            )
                            replicas[0].kill()
                            killed_pending.set_result(await pending_of(r, replicas[0].proc.pid))
                        return 200
                    if resp.status_code < 500:
                        return resp.status_code  # 4xx is final for Alertmanager too
                return 0

        codes = await asyncio.gather(*(post(i, a) for i, a in enumerate(alerts)))
    return codes, await killed_pending


async def test_replica_killed_mid_burst_every_alert_is_notified_exactly_once(
    tmp_path: Path,
    private_redis: RedisServer,
    r: aioredis.Redis,
    slack: FakeSlack,
    serve: StartServe,  # noqa: F811
) -> None:
    rules = write_rules(tmp_path / "rules", RULE)
    replicas = [
        serve(f"replica-{n}", **replica_env(private_redis.url, rules, slack, CHANNEL))
        for n in range(3)
    ]
    await asyncio.gather(*(p.wait_ready() for p in replicas))

    alerts = [
        alert("HaBurst", fingerprint=f"fp-ha-{i:04d}", instance=f"pod-{i}") for i in range(ALERTS)
    ]
    ids = [incident_id(a) for a in alerts]
    assert len(set(ids)) == ALERTS

    codes, dead_pending = await post_round_robin(replicas, alerts, KILL_AFTER, r)
    assert codes == [200] * ALERTS
    assert replicas[0].proc.returncode == -9
    assert dead_pending > 0  # it died with work in hand: entries taken, never acked

    keys = [f"{PREFIX}:incident:{i}" for i in ids]

    async def progress() -> dict[str, int]:
        raws = await r.mget(keys)
        found = [Incident.model_validate_json(raw) for raw in raws if raw is not None]
        return {
            "missing": ALERTS - len(found),
            "not_notified": sum(i.notified != ["diagnosed"] for i in found),
            "queued": await r.xlen(STREAM),
            "pending": int((await r.xpending(STREAM, GROUP))["pending"]),
            "dead_lettered": await r.xlen(DEAD),
        }

    done = {"missing": 0, "not_notified": 0, "queued": 0, "pending": 0, "dead_lettered": 0}
    last: dict[str, int] = {}

    async def finished() -> bool:
        nonlocal last
        last = await progress()
        return last == done or last["dead_lettered"] > 0

    # the dead replica's incident locks expire with their lease (15 s), then its
    # entries are reclaimed (claim_idle 1 s) and finished by the survivors
    try:
        await wait_for(finished, timeout=45, interval=0.2)
    except AssertionError:
        pass
    assert last == done, f"{last}\n{replicas[1].diagnostics()}\n{replicas[2].diagnostics()}"

    # the outbox drains behind the workers (one sender for the channel)
    await wait_for(lambda: len(slack.posts(top_level=True)) >= ALERTS, timeout=60)
    by_channel = posts_per_incident(slack, set(ids))
    assert set(by_channel) == {channel_id(CHANNEL)}
    total = by_channel[channel_id(CHANNEL)]
    missing = [i for i in ids if total[i] == 0]
    assert missing == [], f"{len(missing)} alerts never reached Slack"
    repeated = {i: n for i, n in total.items() if n > 1}
    assert repeated == {}, repeated  # exactly one message per incident, across the kill
    assert sum(total.values()) == ALERTS
    assert await r.xlen(DEAD) == 0

    # the survivors shut down cleanly; the killed one's work was taken over
    for p in replicas[1:]:
        assert p.stop() == 0, p.diagnostics()
    shares = [sum(p.stdout.count(i) > 0 for i in ids) for p in replicas]
    assert all(share > 0 for share in shares), shares
