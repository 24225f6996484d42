"""The incident's one message moves through its lifecycle in place:
Diagnosing (when the probes take a while) → Awaiting decision → Running X (by
@user) → Verified / Failed, with the steps in its thread and an Undo button
once a reversible action ran. The action here is a real one (a silence in a
real Alertmanager), run by the real engine from a signed click."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.slack_api import FakeSlack
from tests.helpers import REPO, silent_tcp_server, wait_for
from tests.integration.conftest import RunningSim
from tests.integration.slack_support import (
    answer,
    click,
    command,
    fire,
    header,
    incident_id,
    posted_for,
    slack_alert,
    slack_bot,
    write_rules,
)
from tests.realbins import AlertmanagerServer

pytestmark = pytest.mark.integration

SILENCE_RULE = """
name: slack-test
match: {alertname: SlackTest}
diagnosis:
  - scenario: noisy
    when: 'true'
    summary: 'Known noisy alert'
    actions: [quiet]
actions:
  quiet:
    alertmanager.silence: {duration: 2h, comment: "noisy during the migration"}
"""

SLOW_RULE = """
name: slack-test
match: {alertname: SlackTest}
probes:
  status:
    http.json_field: {url: "http://127.0.0.1:%d/status", path: status}
    timeout: 2.5s
diagnosis:
  - scenario: slow
    when: 'true'
    actions: []
"""


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


@pytest.fixture
def alertmanager() -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer().start()
    yield server
    server.stop()


async def test_a_slow_diagnosis_shows_diagnosing_then_updates_the_same_message(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with silent_tcp_server() as port:
        rules = write_rules(tmp_path, SLOW_RULE % port)
        async with slack_bot(tmp_path, fake, rules=rules) as h:
            await fire(h, slack_alert(1))
            iid = incident_id(slack_alert(1))
            first = await posted_for(fake, iid)
            assert "Diagnosing" in header(first)
            await wait_for(lambda: "Awaiting decision" in header(fake.message(first.ts)), 15)  # type: ignore[arg-type]
            assert len(fake.posts(top_level=True)) == 1  # updated in place, never re-posted


async def test_click_runs_the_action_then_offers_undo_which_reverses_it(
    tmp_path: Path, fake: FakeSlack, alertmanager: AlertmanagerServer
) -> None:
    rules = write_rules(tmp_path, SILENCE_RULE)
    async with slack_bot(tmp_path, fake, rules=rules, alertmanager_url=alertmanager.url) as h:
        await fire(h, slack_alert(1))
        iid = incident_id(slack_alert(1))
        message = await posted_for(fake, iid)
        assert "Awaiting decision" in header(message)
        _, key = await click(h, fake, message, "honua:action:quiet")
        reply = await answer(fake, key)
        assert "quiet" in reply["text"] and "silence" in reply["text"].lower()

        def updated() -> bool:
            shown = fake.message(message.ts)
            return shown is not None and "Done, not verified" in header(shown)

        await wait_for(updated, 10)
        async with httpx.AsyncClient() as client:
            silences = (await client.get(f"{alertmanager.url}/api/v2/silences")).json()
        active = [s for s in silences if s["status"]["state"] == "active"]
        assert len(active) == 1 and active[0]["createdBy"] == "slack:U0ALICE"
        thread = [r.text for r in fake.replies(message.ts)]
        assert any("running `quiet`" in t for t in thread), thread

        shown = fake.message(message.ts)
        assert shown is not None
        _, key = await click(h, fake, shown, "honua:action:undo-quiet", user="U0BOB")
        await answer(fake, key)

        async def expired() -> bool:
            async with httpx.AsyncClient() as client:
                found = (await client.get(f"{alertmanager.url}/api/v2/silences")).json()
            return all(s["status"]["state"] == "expired" for s in found)

        await wait_for(expired, 10)
        incident = await h.service.store.get_incident(iid)
        assert incident is not None
        assert [(r.action, r.actor) for r in incident.runs] == [
            ("quiet", "slack:U0ALICE"),
            ("undo-quiet", "slack:U0BOB"),
        ]


async def test_slash_cancel_opens_a_runbook5_incident_whose_button_cancels_the_process(
    tmp_path: Path, fake: FakeSlack, honua_sim: RunningSim
) -> None:
    pid = str(honua_sim.sim.add_processes("runaway")[0]["processId"])
    async with slack_bot(tmp_path, fake, rules=REPO / "rules", process_api_url=honua_sim.url) as h:
        _, key = await command(h, fake, f"cancel {pid} eating the LLM quota")
        text = (await answer(fake, key))["text"]
        found = re.search(r"incident `(inc-[0-9a-f]+)`", text)
        assert found and pid in text, text
        message = await posted_for(fake, found.group(1), timeout=20)
        assert "runaway-process" in str(message.blocks) and pid in str(message.blocks)
        _, key = await click(h, fake, message, "honua:action:cancel-process")
        reply = (await answer(fake, key, timeout=30))["text"]
        assert "cancel-process" in reply and "Did not" not in reply, reply
        assert honua_sim.sim.processes[pid]["status"] in ("Cancelling", "Cancelled")

        _, key = await command(h, fake, "cancel ../etc")
        assert "expected letters, digits" in (await answer(fake, key))["text"]
