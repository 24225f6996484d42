from __future__ import annotations

import asyncio

import pytest

from bot.demo import run_demo
from bot.notify import Event
from tests.helpers import BotHarness, alert, notification, wait_for


async def test_zero_config_alert_becomes_one_diagnosed_incident() -> None:
    async with BotHarness() as bot:
        resp = await bot.post(notification(alert()))
        assert resp.status_code == 200, resp.text
        events = await wait_for(lambda: bot.recorder.events)
        event, incident = events[0]
        assert event is Event.DIAGNOSED
        assert incident.rule == "high-process-failure-rate"
        assert incident.diagnosis is not None
        assert incident.diagnosis.scenario == "unclassified"
        failed = {f.probe: f.error for f in incident.diagnosis.failed_probes}
        assert "HONUA_BOT_PROMETHEUS_URL" in failed["failure_rate"]


async def test_demo_sends_its_sample_alert_and_returns_the_diagnosed_incident() -> None:
    async with BotHarness() as bot:
        # run_demo is the CLI's synchronous client: it runs in a thread beside the bot
        incident = await asyncio.to_thread(run_demo, bot.url, None, 20.0)
        assert incident.rule == "high-process-failure-rate"
        assert incident.diagnosis is not None


async def test_demo_against_a_bot_that_refuses_it_says_so() -> None:
    async with BotHarness(webhook_token="s3cret") as bot:
        with pytest.raises(RuntimeError, match="answered 401"):
            await asyncio.to_thread(run_demo, bot.url, "wrong", 5.0)
