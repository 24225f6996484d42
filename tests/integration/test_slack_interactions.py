"""Clicks and /honua, as Slack delivers them: form-encoded, signed v0 requests to
the bot's /slack/events over real HTTP, answers read back from the fake
Slack's response_url endpoint and Web API log."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from bot import logs
from bot.models import Incident, ProposedAction
from bot.remediation.requests import Actor, Decision, Verdict
from tests.fakes.slack_api import FakeSlack, Posted, block_actions, interaction_body, sign
from tests.helpers import BotHarness, wait_for
from tests.integration.slack_support import (
    RULES,
    SECRET,
    RecordingRunner,
    answer,
    button,
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


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack(groups={"oncall": ["U0BOB"]}).start()
    yield server
    await server.stop()


async def _posted(h: BotHarness, fake: FakeSlack, n: int = 1):  # type: ignore[no-untyped-def]
    await fire(h, slack_alert(n))
    return await posted_for(fake, incident_id(slack_alert(n)))


# -- signature, window, replay --------------------------------------------------------------
async def test_forged_stale_and_replayed_requests_get_401_and_change_nothing(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(tmp_path, fake) as h:
        message = await _posted(h, fake)
        inc = incident_id(slack_alert(1))
        payload = block_actions(
            button(message, "honua:ack"),
            channel=message.channel,
            message_ts=message.ts,
            response_url=fake.response_url("sig"),
        )
        body = interaction_body(payload)
        now = int(time.time())
        refused = {
            "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
            "forged": sign("not-the-signing-secret", body),
            "stale": sign(SECRET, body, now - 301),
            "future": sign(SECRET, body, now + 301),
        }
        for name, headers in refused.items():
            resp = await h.http.post("/slack/events", content=body, headers=headers)
            assert resp.status_code == 401, name
        tampered = body.replace("alice", "mallory")
        resp = await h.http.post("/slack/events", content=tampered, headers=sign(SECRET, body))
        assert resp.status_code == 401

        good = sign(SECRET, body, now - 290)  # inside the 5-minute window
        resp = await h.http.post("/slack/events", content=body, headers=good)
        assert resp.status_code == 200
        await answer(fake, "sig")
        replay = await h.http.post("/slack/events", content=body, headers=good)
        assert replay.status_code == 401 and "replay" in replay.text

        incident = await h.service.store.get_incident(inc)
        assert incident is not None and incident.acknowledged_by == "slack:U0ALICE"
        assert [a.text for a in incident.activity] == ["acknowledged"]  # once, by the good one
        assert [r["key"] for r in fake.responses] == ["sig"]


# -- authorization ---------------------------------------------------------------------------------
async def test_unauthorized_click_gets_an_ephemeral_refusal_and_nothing_runs(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(
        tmp_path,
        fake,
        slack_allowed_users=["U0ALICE"],
        slack_allowed_groups=["@oncall"],
        slack_action_permissions={"restart-redis": {"channels": ["#incidents"]}},
    ) as h:
        runner = RecordingRunner()
        h.service.requests.runner = runner
        message = await _posted(h, fake)

        resp, key = await click(
            h, fake, message, "honua:action:restart-app", user="U0EVE", user_name="eve"
        )
        assert resp.status_code == 200
        refusal = await answer(fake, key)
        assert refusal["response_type"] == "ephemeral" and refusal["replace_original"] is False
        assert refusal["text"].startswith(
            ":no_entry: You may not run `restart-app` here: only <@U0ALICE>, @oncall"
        )
        resp, key = await click(h, fake, message, "honua:ack", user="U0EVE", user_name="eve")
        assert "may not acknowledge" in (await answer(fake, key))["text"]

        # a member of an allowed user group may
        resp, key = await click(
            h, fake, message, "honua:action:restart-app", user="U0BOB", user_name="bob"
        )
        assert "restart-app started" in (await answer(fake, key))["text"]
        # per-action policy: restart-redis only from #incidents
        resp, key = await click(
            h, fake, message, "honua:action:restart-redis", channel="C0OTHER", channel_name="random"
        )
        assert "works only in these channels: incidents" in (await answer(fake, key))["text"]
        resp, key = await click(h, fake, message, "honua:action:restart-redis")
        assert "restart-redis started" in (await answer(fake, key))["text"]

        assert [(c[1], c[2].id, c[2].groups) for c in runner.calls] == [
            ("restart-app", "U0BOB", ("oncall",)),
            ("restart-redis", "U0ALICE", ()),
        ]
        incident = await h.service.store.get_incident(incident_id(slack_alert(1)))
        assert incident is not None and not incident.acknowledged_by
        assert len(fake.calls_to("usergroups.list")) == 1  # cached in the store
        audit = await h.service.engine.audit.read("1h", incident=incident.id)
        refused = [(e.action, e.actor, e.gate) for e in audit if e.event == "refused"]
        assert refused == [
            ("restart-app", "slack:U0EVE", "authorization"),
            ("ack", "slack:U0EVE", "authorization"),
            ("restart-redis", "slack:U0ALICE", "authorization"),
        ]


async def test_a_rule_can_name_who_may_press_an_action(tmp_path: Path, fake: FakeSlack) -> None:
    rules = RULES.replace(
        "    kubernetes.rollout_restart: {name: honua-process-framework}\n",
        "    kubernetes.rollout_restart: {name: honua-process-framework}\n"
        "    allowed: {users: [U0CAROL]}\n",
    )
    async with slack_bot(
        tmp_path, fake, rules=write_rules(tmp_path, rules), slack_allowed_users=["U0ALICE"]
    ) as h:
        runner = RecordingRunner()
        h.service.requests.runner = runner
        message = await _posted(h, fake)
        _, key = await click(h, fake, message, "honua:action:restart-app")  # alice: global only
        assert "only <@U0CAROL>" in (await answer(fake, key))["text"]
        _, key = await click(h, fake, message, "honua:action:restart-app", user="U0CAROL")
        assert "restart-app started" in (await answer(fake, key))["text"]
        _, key = await click(h, fake, message, "honua:action:restart-redis")  # no rule policy
        assert "restart-redis started" in (await answer(fake, key))["text"]


async def test_a_rule_names_the_runbooks_role_and_the_settings_map_it_to_a_group(
    tmp_path: Path, fake: FakeSlack
) -> None:
    # Runbook 3: "Roles Required: Senior DevOps Engineer"
    rules = RULES.replace(
        "    kubernetes.rollout_restart: {name: honua-process-framework}\n",
        "    kubernetes.rollout_restart: {name: honua-process-framework}\n"
        "    allowed: {roles: [senior-devops]}\n",
    )
    async with slack_bot(
        tmp_path,
        fake,
        rules=write_rules(tmp_path, rules),
        slack_allowed_users=["U0ALICE"],
        slack_role_groups={"senior-devops": "oncall"},
    ) as h:
        h.service.requests.runner = RecordingRunner()
        message = await _posted(h, fake)
        _, key = await click(h, fake, message, "honua:action:restart-app")  # alice: not @oncall
        assert "only @oncall" in (await answer(fake, key))["text"]
        _, key = await click(h, fake, message, "honua:action:restart-app", user="U0BOB")
        assert "restart-app started" in (await answer(fake, key))["text"]


async def test_an_unmapped_role_adds_no_restriction(tmp_path: Path, fake: FakeSlack) -> None:
    rules = RULES.replace(
        "    kubernetes.rollout_restart: {name: honua-process-framework}\n",
        "    kubernetes.rollout_restart: {name: honua-process-framework}\n"
        "    allowed: {roles: [senior-devops]}\n",
    )
    async with slack_bot(
        tmp_path, fake, rules=write_rules(tmp_path, rules), slack_allowed_users=["U0ALICE"]
    ) as h:
        h.service.requests.runner = RecordingRunner()
        message = await _posted(h, fake)
        _, key = await click(h, fake, message, "honua:action:restart-app")
        assert "restart-app started" in (await answer(fake, key))["text"]


# -- once, stale, honest refusals ------------------------------------------------------------------
async def test_double_click_acts_once(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(tmp_path, fake) as h:
        runner = RecordingRunner()
        h.service.requests.runner = runner
        message = await _posted(h, fake)
        # two deliveries of the same click (different action_ts, both validly signed)
        results = await asyncio.gather(
            click(h, fake, message, "honua:action:restart-redis"),
            click(h, fake, message, "honua:action:restart-redis"),
        )
        assert [r.status_code for r, _ in results] == [200, 200]
        await wait_for(lambda: len(fake.responses) >= 1)
        await wait_for(lambda: len(runner.calls) == 1)
        incident, action, actor, nonce = runner.calls[0]
        assert (incident, action, actor.id, actor.source) == (
            incident_id(slack_alert(1)),
            "restart-redis",
            "U0ALICE",
            "slack",
        )
        assert len(nonce) == 16  # from the button's stored reference
        # another person's click is not a double click (approvals need several people)
        _, key = await click(h, fake, message, "honua:action:restart-redis", user="U0BOB")
        await answer(fake, key)
        assert len(runner.calls) == 2
        assert len(fake.responses) == 2  # the repeated click got no second answer


async def test_stale_buttons_explain_and_do_nothing(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(tmp_path, fake) as h:
        runner = RecordingRunner()
        h.service.requests.runner = runner
        message = await _posted(h, fake)

        # a value the bot never handed out (or that expired)
        forged = dict(button(message, "honua:ack"), value="x" * 24)
        payload = block_actions(
            forged, channel=message.channel, response_url=fake.response_url("f")
        )
        body = interaction_body(payload)
        assert (
            await h.http.post("/slack/events", content=body, headers=sign(SECRET, body))
        ).status_code == 200
        assert "no longer valid" in (await answer(fake, "f"))["text"]

        # the rule no longer defines the action
        rules = write_rules(
            tmp_path,
            RULES.replace(
                "actions: [restart-redis, restart-app]", "actions: [restart-app]"
            ).replace(
                "  restart-redis:\n    kubernetes.delete_pod: {name: redis-0, wait_ready: 120s}\n"
                '    description: "delete pod honua-process-framework/redis-0 and wait for its replacement"\n',
                "",
            ),
        )
        assert "restart-redis" not in (rules / "slack-test.yaml").read_text()
        assert h.service.rulebook.reload()
        _, key = await click(h, fake, message, "honua:action:restart-redis")
        text = (await answer(fake, key))["text"]
        assert "gate: stale" in text and "no longer defines action restart-redis" in text

        # the incident resolved: every button of its message is out of date (a client
        # may still show the old message)
        old = {a: button(message, a) for a in ("honua:action:restart-app", "honua:silence:3600")}
        await fire(h, slack_alert(1, status="resolved"))
        await wait_for(lambda: "Resolved" in header(message))
        _, key = await click(h, fake, message, "", pressed=old["honua:action:restart-app"])
        assert "is resolved" in (await answer(fake, key))["text"]
        _, key = await click(h, fake, message, "", pressed=old["honua:silence:3600"])
        assert "is resolved" in (await answer(fake, key))["text"]
        assert runner.calls == []
        assert not fake.calls_to("chat.postEphemeral")  # answers went to response_url


async def test_an_action_whose_target_is_not_configured_is_refused_and_not_run(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(tmp_path, fake) as h:
        message = await _posted(h, fake)
        _, key = await click(h, fake, message, "honua:action:restart-redis")
        text = (await answer(fake, key))["text"]
        assert text == (
            ":no_entry: Did not run `restart-redis` (gate: target): could not plan: "
            "kubernetes is not configured (set HONUA_BOT_KUBECONFIG or run in-cluster)"
        )
        incident = await h.service.store.get_incident(incident_id(slack_alert(1)))
        assert incident is not None and incident.runs == []
        audit = await h.service.engine.audit.read("1h", incident=incident.id)
        assert [(e.event, e.gate, e.actor) for e in audit] == [
            ("diagnosed", "", ""),
            ("requested", "", "slack:U0ALICE"),
            ("refused", "target", "slack:U0ALICE"),
        ]
        assert (
            audit[1].channel and audit[1].channel == message.channel
        )  # the timeline says where the click came from


class SlowRunner:
    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    async def run(
        self,
        incident: Incident,
        action: ProposedAction,
        actor: Actor,
        nonce: str = "",
        dry_run: bool = False,
    ) -> Decision:
        self.started.set()
        await self.release.wait()
        return Decision(Verdict.ACCEPTED, "done at last")


async def test_click_is_acked_before_the_work(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(tmp_path, fake) as h:
        runner = SlowRunner()
        h.service.requests.runner = runner
        message = await _posted(h, fake)
        started = time.monotonic()
        resp, key = await click(h, fake, message, "honua:action:restart-redis")
        assert resp.status_code == 200 and time.monotonic() - started < 3
        await asyncio.wait_for(runner.started.wait(), 5)
        assert not fake.responses  # still working, already acked
        runner.release.set()
        assert "done at last" in (await answer(fake, key))["text"]


# -- what the buttons do ---------------------------------------------------------------------------
async def test_acknowledge_and_rerun_update_the_message_and_its_thread(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(tmp_path, fake) as h:
        message = await _posted(h, fake)
        ack = button(message, "honua:ack")
        _, key = await click(h, fake, message, "honua:ack")
        assert (await answer(fake, key))["text"].startswith(
            ":white_check_mark: acknowledged SlackTest"
        )
        await wait_for(lambda: "acknowledged by <@U0ALICE>" in str(message.blocks))
        assert "honua:ack" not in str(message.blocks)
        await wait_for(lambda: fake.replies(message.ts))  # the reply is paced after the update
        assert [r.text for r in fake.replies(message.ts)] == ["acknowledged — <@U0ALICE>"]

        _, key = await click(h, fake, message, "", pressed=ack, user="U0BOB")
        assert "already acknowledged by <@U0ALICE>" in (await answer(fake, key))["text"]

        _, key = await click(h, fake, message, "honua:rerun")
        assert "diagnosis re-run: scenario redis-connection" in (await answer(fake, key))["text"]
        await wait_for(lambda: len(fake.replies(message.ts)) == 2)
        assert (
            fake.replies(message.ts)[1].text
            == "diagnosis re-run: scenario `redis-connection` — <@U0ALICE>"
        )
        assert (
            header(message)
            == ":rotating_light: P2 SlackTest · redis-connection — Awaiting decision"
        )
        # updated in place (Diagnosing and back may coalesce into one update)
        assert message.updates >= 1 and len(fake.posts(top_level=True)) == 1


async def test_silence_without_alertmanager_names_the_setting(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(tmp_path, fake) as h:
        message = await _posted(h, fake)
        _, key = await click(h, fake, message, "honua:silence:3600")
        text = (await answer(fake, key))["text"]
        assert "(gate: config)" in text and "HONUA_BOT_ALERTMANAGER_URL" in text


@pytest.fixture
def alertmanager() -> Iterator[AlertmanagerServer]:
    server = AlertmanagerServer().start()
    yield server
    server.stop()


async def test_silence_creates_a_real_alertmanager_silence(
    tmp_path: Path, fake: FakeSlack, alertmanager: AlertmanagerServer
) -> None:
    async with slack_bot(tmp_path, fake, alertmanager_url=alertmanager.url) as h:
        message = await _posted(h, fake)
        _, key = await click(h, fake, message, "honua:silence:14400")
        text = (await answer(fake, key))["text"]
        assert text.startswith(":white_check_mark: silenced SlackTest for 4h (silence ")
        async with httpx.AsyncClient() as client:
            silences = (await client.get(f"{alertmanager.url}/api/v2/silences")).json()
        assert len(silences) == 1
        silence = silences[0]
        labels = slack_alert(1)["labels"]
        assert {
            (m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in silence["matchers"]
        } == {(k, v, False, True) for k, v in labels.items()}
        assert silence["createdBy"] == "alice (slack:U0ALICE)"
        starts = datetime.fromisoformat(silence["startsAt"].replace("Z", "+00:00"))
        ends = datetime.fromisoformat(silence["endsAt"].replace("Z", "+00:00"))
        assert abs((ends - starts).total_seconds() - 4 * 3600) < 5
        await wait_for(lambda: len(fake.replies(message.ts)) == 1)
        assert fake.replies(message.ts)[0].text.startswith(
            f"silenced for 4h (silence {silence['id']})"
        )


# -- /honua ------------------------------------------------------------------------------------------
async def test_slash_command_lists_open_incidents_and_shows_one(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(tmp_path, fake) as h:
        message = await _posted(h, fake, 1)
        await _posted(h, fake, 2)
        inc = incident_id(slack_alert(1))

        resp, key = await command(h, fake, "")
        assert resp.status_code == 200
        status = await answer(fake, key)
        assert status["response_type"] == "ephemeral"
        assert status["blocks"][0]["text"]["text"] == "Open incidents: 2"
        listed = "\n".join(b["text"]["text"] for b in status["blocks"] if b["type"] == "section")
        assert inc in listed and incident_id(slack_alert(2)) in listed
        assert (
            f"https://slack.com/archives/{message.channel}/p{message.ts.replace('.', '')}" in listed
        )

        _, key = await command(h, fake, f"incident {inc}")
        shown = await answer(fake, key)
        assert (
            shown["blocks"][0]["text"]["text"]
            == ":rotating_light: P2 SlackTest · redis-connection — Awaiting decision"
        )
        ids = {
            e["action_id"] for b in shown["blocks"] if b["type"] == "actions" for e in b["elements"]
        }
        assert "honua:action:restart-redis" in ids  # the buttons work from here too

        _, key = await command(h, fake, "incident inc-nope")
        assert "No incident `inc-nope`" in (await answer(fake, key))["text"]
        _, key = await command(h, fake, "help")
        assert "/honua incident ID" in (await answer(fake, key))["text"]


# -- storms: details and acting on a threaded incident --------------------------------------------
async def test_storm_incident_details_and_acting_on_it(tmp_path: Path, fake: FakeSlack) -> None:
    async with slack_bot(
        tmp_path, fake, slack_storm_threshold=1, slack_storm_update_seconds=0.2
    ) as h:
        await _posted(h, fake, 1)
        await fire(h, slack_alert(2), slack_alert(3))
        storm_inc = incident_id(slack_alert(2))

        def digest() -> Posted | None:
            return next(
                (m for m in fake.posts(top_level=False) if "honua:details:" in str(m.blocks)), None
            )

        await wait_for(lambda: (d := digest()) is not None and "honua:details:2" in str(d.blocks))
        thread = digest()
        assert thread is not None
        summary = fake.message(thread.thread_ts)
        assert summary is not None and "Alert storm" in header(summary)

        _, key = await click(h, fake, thread, "honua:details:1")
        details = await answer(fake, key)
        assert details["response_type"] == "ephemeral"
        assert (
            details["blocks"][0]["text"]["text"]
            == ":rotating_light: P2 SlackTest · redis-connection — Awaiting decision"
        )
        shown = Posted(thread.channel, thread.ts, details["text"], details["blocks"])
        assert storm_inc in str(details["blocks"])

        # acknowledging it from there gives it a message of its own in the storm's thread
        _, key = await click(h, fake, shown, "honua:ack")
        assert "acknowledged" in (await answer(fake, key))["text"]
        own = await posted_for(fake, storm_inc)
        assert own.thread_ts == summary.ts
        await wait_for(
            lambda: any(r.text == "acknowledged — <@U0ALICE>" for r in fake.replies(summary.ts))
        )
        assert len(fake.posts(top_level=True)) == 2  # the first incident and the summary


async def test_tokens_and_signing_secret_never_reach_the_log(
    tmp_path: Path, fake: FakeSlack
) -> None:
    out = io.StringIO()
    logs.configure("debug", stream=out)
    try:
        async with slack_bot(tmp_path, fake) as h:
            message = await _posted(h, fake)
            _, key = await click(h, fake, message, "honua:ack")
            await answer(fake, key)
            fake.fail_next(3, status=503)
            fake.fail_next(1, status=429, retry_after=1)
            await fire(h, slack_alert(2))
            await posted_for(fake, incident_id(slack_alert(2)), timeout=15)
    finally:
        logs.configure("info")
    text = out.getvalue()
    assert "slack call failed; retrying" in text and "slack request" in text
    assert fake.token not in text and SECRET not in text


async def test_socket_mode_takes_clicks_without_a_public_url(
    tmp_path: Path, fake: FakeSlack
) -> None:
    async with slack_bot(
        tmp_path, fake, slack_app_token=fake.app_token, slack_signing_secret=None
    ) as h:
        await wait_for(lambda: len(fake.sockets) == 1, 10)
        message = await _posted(h, fake)
        # no HTTP endpoint: Slack talks to the bot over the socket only
        assert (await h.http.post("/slack/events", content="x")).status_code in (404, 405)
        payload = block_actions(
            button(message, "honua:ack"),
            channel=message.channel,
            message_ts=message.ts,
            response_url=fake.response_url("sock"),
        )
        envelope = await fake.send_envelope("interactive", payload)
        await wait_for(lambda: any(a.get("envelope_id") == envelope for a in fake.socket_acks))
        assert (await answer(fake, "sock"))["text"].startswith(":white_check_mark: acknowledged")
        incident = await h.service.store.get_incident(incident_id(slack_alert(1)))
        assert incident is not None and incident.acknowledged_by == "slack:U0ALICE"
