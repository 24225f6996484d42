"""Raw results one click away: *Details (raw results)* posts the alert's labels,
how the scenario was chosen and each probe's raw result as a reply in the
incident's thread; the main message itself holds none of them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fakes.slack_api import FakeSlack
from tests.helpers import wait_for
from tests.integration.slack_support import (
    RULES,
    click,
    fire,
    incident_id,
    posted_for,
    slack_alert,
    slack_bot,
    write_rules,
)

WITH_PROBE = RULES.replace(
    "probes: {}",
    'probes:\n  failure_rate:\n    prometheus.query: {expr: "up"}',
)


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


async def test_details_posts_the_raw_results_in_the_thread(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(tmp_path, fake, rules=write_rules(tmp_path, WITH_PROBE)) as h:
        await fire(h, slack_alert(1))
        message = await posted_for(fake, incident_id(slack_alert(1)))
        main = str(message.blocks)
        assert "HONUA_BOT_PROMETHEUS_URL" in main  # not checked, with the setting
        assert "alertname" not in main.replace("alertname%3D", "")  # labels: in Details only
        await click(h, fake, message, "honua:raw")
        await wait_for(lambda: fake.replies(message.ts))
        [reply] = fake.replies(message.ts)
        text = str(reply.blocks)
        assert "*Alert labels*" in text and "alertname: SlackTest" in text
        assert "*How the scenario was chosen*" in text and "→ redis-connection" in text
        assert "*failure_rate* · _prometheus.query_ · not set up" in text
        assert "GET /incidents/ID" in text
