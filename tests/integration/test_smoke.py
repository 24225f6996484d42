from __future__ import annotations

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
