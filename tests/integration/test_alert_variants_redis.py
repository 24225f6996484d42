"""Warning and critical variants of one alert (same alertname and labels but
``severity``) are one incident, through the real pipeline on Redis: the incident
takes the highest severity, says so in its thread, and resolves with its last
variant. Alertmanager gives the variants different fingerprints and startsAt."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from bot.models import Incident, IncidentStatus
from bot.models.alertmanager import Alert
from bot.notify import Event
from bot.remediation.requests import Actor
from bot.store.redis import GROUP, PREFIX, STREAM
from tests.helpers import BotHarness, alert, notification, wait_for

WARNING_AT = "2026-11-29T03:00:00Z"
CRITICAL_AT = "2026-11-29T03:12:00Z"  # the critical threshold is crossed later


def warning(status: str = "firing", starts_at: str = WARNING_AT) -> dict[str, Any]:
    return alert(status=status, starts_at=starts_at, fingerprint="fp-warn", severity="warning")


def critical(status: str = "firing") -> dict[str, Any]:
    return alert(status=status, starts_at=CRITICAL_AT, fingerprint="fp-crit", severity="critical")


def incident_id(a: dict[str, Any]) -> str:
    return Alert.model_validate(a).incident_id


@pytest.fixture
async def r(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def drained(r: aioredis.Redis) -> bool:
    return await r.xlen(STREAM) == 0 and int((await r.xpending(STREAM, GROUP))["pending"]) == 0


async def incidents(r: aioredis.Redis) -> list[Incident]:
    keys = [k async for k in r.scan_iter(match=f"{PREFIX}:incident:*", count=1000)]
    return [Incident.model_validate_json(await r.get(k)) for k in keys]


async def send(bot: BotHarness, r: aioredis.Redis, *alerts: dict[str, Any]) -> None:
    assert (await bot.post(notification(*alerts))).status_code == 200
    await wait_for(lambda: drained(r), timeout=15)


async def test_warning_then_critical_is_one_incident_at_critical_until_both_resolve(
    redis_url: str, r: aioredis.Redis
) -> None:
    assert incident_id(warning()) != incident_id(critical())  # two episodes to Alertmanager
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5, probe_timeout=1) as bot:
        await send(bot, r, warning())
        await wait_for(lambda: bot.recorder.events)
        await send(bot, r, critical())
        [incident] = await incidents(r)
        assert incident.id == incident_id(warning()) and incident.status is IncidentStatus.OPEN
        assert incident.severity == "critical"
        events = [e for e, _ in bot.recorder.events]
        assert events == [Event.DIAGNOSED, Event.UPDATED]  # one message, updated in place
        said = bot.recorder.events[-1][1].activity[-1].text
        assert "severity critical" in said and "was warning" in said

        # Alertmanager re-sends both (repeat_interval): nothing new
        await send(bot, r, warning(), critical())
        assert len(bot.recorder.events) == 2 and len(await incidents(r)) == 1

        # the critical one clears first: still warning, the incident stays open
        await send(bot, r, critical("resolved"))
        [incident] = await incidents(r)
        assert incident.status is IncidentStatus.OPEN
        assert Event.RESOLVED not in [e for e, _ in bot.recorder.events]

        await send(bot, r, warning("resolved"))
        [incident] = await incidents(r)
        assert incident.status is IncidentStatus.RESOLVED
        assert [e for e, _ in bot.recorder.events] == [
            Event.DIAGNOSED,
            Event.UPDATED,
            Event.RESOLVED,
        ]


async def test_both_variants_in_one_notification_open_one_incident(
    redis_url: str, r: aioredis.Redis
) -> None:
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5, probe_timeout=1) as bot:
        await send(bot, r, warning(), critical())
        [incident] = await incidents(r)
        assert incident.severity == "critical"
        assert [e for e, _ in bot.recorder.events].count(Event.DIAGNOSED) == 1


async def test_next_episode_after_resolution_and_other_labels_are_incidents_of_their_own(
    redis_url: str, r: aioredis.Redis
) -> None:
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5, probe_timeout=1) as bot:
        await send(bot, r, warning())
        await send(bot, r, warning("resolved"))
        # a later episode of the family: a new incident, not the resolved one reopened
        later = warning(starts_at="2026-11-29T05:00:00Z")
        await send(bot, r, later)
        by_id = {i.id: i for i in await incidents(r)}
        assert by_id[incident_id(warning())].status is IncidentStatus.RESOLVED
        assert by_id[incident_id(later)].status is IncidentStatus.OPEN
        # another instance (a label other than severity differs) is another incident
        other = alert(starts_at=CRITICAL_AT, fingerprint="fp-other", severity="critical", pod="b")
        await send(bot, r, other)
        assert len(await incidents(r)) == 3
        assert {i.severity for i in await incidents(r)} == {"warning", "critical"}


SILENCE_RULE = """
name: variants-test
runbook: "Runbook 1: High Process Failure Rate Investigation"
severity: P2
match:
  alertname: HighProcessFailureRate
probes: {}
diagnosis:
  - scenario: failing
    when: 'true'
    summary: 'processes fail'
    actions: [silence-1h]
actions:
  silence-1h:
    alertmanager.silence: {duration: 1h}
"""


async def test_silence_of_a_merged_incident_covers_both_variants(
    redis_url: str, r: aioredis.Redis, tmp_path: Path
) -> None:
    (tmp_path / "variants-test.yaml").write_text(SILENCE_RULE)
    async with BotHarness(redis_url=redis_url, claim_idle_seconds=0.5, rules=tmp_path) as bot:
        await send(bot, r, warning())  # diagnosed, its buttons planned for the warning alone
        await send(bot, r, critical())
        [incident] = await incidents(r)
        assert incident.diagnosis is not None
        [button] = incident.diagnosis.actions  # what its confirm dialog says it changes
        assert "severity=" not in button.change and "alertname=" in button.change, button.change
        decision = await bot.service.requests.request_action(
            incident.id, "silence-1h", Actor("alice", source="cli"), dry_run=True
        )
        assert decision.ok and "severity=" not in decision.message, decision.message
        assert 'alertname="HighProcessFailureRate"' in decision.message
