"""Item 6: a password in a target URL reaches no output channel."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog

from bot import logs
from bot.notify import ConsoleNotifier
from tests.fakes.slack_api import FakeSlack
from tests.helpers import REPO, alert, free_port, notification, wait_for
from tests.integration.slack_support import slack_bot

PASSWORD = "Pa55w0rdXyz"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


async def test_target_url_password_reaches_no_channel(tmp_path: Path, fake: FakeSlack) -> None:
    dead = free_port()  # refused: every probe fails and its error quotes the target
    log_stream, console = io.StringIO(), io.StringIO()
    logs.configure("debug", stream=log_stream)
    try:
        async with slack_bot(
            tmp_path,
            fake,
            rules=REPO / "rules",
            notifier=ConsoleNotifier(stream=console, width=200),
            prometheus_url=f"http://admin:{PASSWORD}@127.0.0.1:{dead}",
            process_api_url=f"http://svc:{PASSWORD}@127.0.0.1:{dead}/api",
            alertmanager_url=f"http://am:{PASSWORD}@127.0.0.1:{dead}",
            probe_timeout=2,
        ) as h:
            assert (await h.post(notification(alert()))).status_code == 200

            async def diagnosed() -> list[dict[str, object]] | None:
                found = (await h.http.get("/incidents")).json()
                return found if found and found[0].get("diagnosis") else None

            incidents = await wait_for(diagnosed, timeout=30)
            await wait_for(lambda: fake.posts(), timeout=15)
            errors = [
                f["error"]
                for f in incidents[0]["diagnosis"]["findings"].values()  # type: ignore[index]
                if f["error"]
            ]
            assert any("127.0.0.1" in e for e in errors), errors  # the errors are still useful
            channels = {
                "/incidents": json.dumps(incidents),
                "slack": json.dumps(
                    [p.blocks for p in fake.posts()] + [c.args for c in fake.calls]
                ),
                "console": console.getvalue(),
                "readyz": (await h.http.get("/readyz")).text,
            }
    finally:
        structlog.reset_defaults()
    channels["log"] = log_stream.getvalue()
    leaked = [name for name, text in channels.items() if PASSWORD in text]
    assert not leaked, {name: channels[name][:2000] for name in leaked}
