"""Shared by the Slack integration tests: a whole bot talking to the fake Slack
Web API, rules whose diagnosis proposes actions, and signed requests."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from bot.models import Alert, Incident, ProposedAction
from bot.remediation.requests import Actor, Decision, Verdict
from tests.fakes.slack_api import (
    FakeSlack,
    Posted,
    block_actions,
    command_body,
    find_button,
    interaction_body,
    sign,
)
from tests.helpers import BotHarness, alert, notification, wait_for

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
CHANNEL = "#incidents"

RULES = """
name: slack-test
runbook: "Runbook 1: High Process Failure Rate Investigation"
severity: P2
match:
  alertname: SlackTest
probes: {}
diagnosis:
  - scenario: redis-connection
    when: 'true'
    summary: 'Redis is unavailable: 37 of 42 failed processes failed with "Redis connection failed"'
    actions: [restart-redis, restart-app]
actions:
  restart-redis:
    kubernetes.delete_pod: {name: redis-0, wait_ready: 120s}
    description: "delete pod honua-process-framework/redis-0 and wait for its replacement"
  restart-app:
    kubernetes.rollout_restart: {name: honua-process-framework}
prevention:
  - "Redis Health: Monitor Redis availability and connection pool"
"""

_keys = itertools.count(1)


def write_rules(tmp_path: Path, text: str = RULES) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "slack-test.yaml").write_text(text)
    return folder


@asynccontextmanager
async def slack_bot(tmp_path: Path, fake: FakeSlack, **settings: Any) -> AsyncIterator[BotHarness]:
    if "rules" not in settings:
        settings["rules"] = write_rules(tmp_path)
    settings.setdefault("slack_bot_token", fake.token)
    settings.setdefault("slack_channel", CHANNEL)
    settings.setdefault("slack_api_url", fake.api_url)
    settings.setdefault("slack_signing_secret", SECRET)
    settings.setdefault("slack_retry_seconds", 5)
    async with BotHarness(**settings) as harness:
        yield harness


def slack_alert(n: int = 1, status: str = "firing", **labels: str) -> dict[str, Any]:
    return alert(
        "SlackTest", status=status, fingerprint=f"fp-slack-{n:04d}", pod=f"worker-{n}", **labels
    )


def incident_id(payload: dict[str, Any]) -> str:
    return Alert.model_validate(payload).incident_id


async def fire(h: BotHarness, *alerts: dict[str, Any]) -> None:
    resp = await h.post(notification(*alerts))
    assert resp.status_code == 200, resp.text


def incident_of(message: Posted) -> str:
    """The incident id a posted message shows in its context line."""
    for block in message.blocks:
        if block.get("block_id") != "honua-about":
            continue
        for element in block.get("elements") or []:
            if found := re.search(r"`(inc-[0-9a-f]+)`", element.get("text", "")):
                return found.group(1)
    return ""


async def posted_for(fake: FakeSlack, incident: str, timeout: float = 10.0) -> Posted:
    async def check() -> Posted | None:
        return next((m for m in fake.posts() if incident_of(m) == incident), None)

    found: Posted = await wait_for(check, timeout)
    return found


def header(message: Posted) -> str:
    block = next(b for b in message.blocks if b["type"] == "header")
    return str(block["text"]["text"])


def button(message: Posted, action_id: str) -> dict[str, Any]:
    found = find_button(message.blocks, action_id)
    assert found is not None, f"no button {action_id} in {json.dumps(message.blocks)[:500]}"
    return found


async def click(
    h: BotHarness,
    fake: FakeSlack,
    message: Posted,
    action_id: str,
    *,
    pressed: dict[str, Any] | None = None,
    user: str = "U0ALICE",
    user_name: str = "alice",
    channel: str | None = None,
    channel_name: str = "incidents",
) -> tuple[httpx.Response, str]:
    """Click a button of a posted message as Slack would deliver it (``pressed``: a
    button as it was shown earlier); (response, response_url key)."""
    key = f"r{next(_keys)}"
    payload = block_actions(
        pressed or button(message, action_id),
        user=user,
        user_name=user_name,
        channel=channel or message.channel,
        channel_name=channel_name,
        message_ts=message.ts,
        response_url=fake.response_url(key),
    )
    body = interaction_body(payload)
    resp = await h.http.post("/slack/events", content=body, headers=sign(SECRET, body))
    return resp, key


async def command(h: BotHarness, fake: FakeSlack, text: str) -> tuple[httpx.Response, str]:
    key = f"c{next(_keys)}"
    body = command_body(text, response_url=fake.response_url(key))
    resp = await h.http.post("/slack/events", content=body, headers=sign(SECRET, body))
    return resp, key


async def answer(fake: FakeSlack, key: str, timeout: float = 10.0) -> dict[str, Any]:
    """What the bot posted to a response_url."""

    async def check() -> dict[str, Any] | None:
        return next((r for r in fake.responses if r["key"] == key), None)

    found: dict[str, Any] = await wait_for(check, timeout)
    return found


class RecordingRunner:
    """Stands in for the remediation engine (issue 5): records what it is asked."""

    def __init__(self, verdict: Verdict = Verdict.ACCEPTED) -> None:
        self.verdict = verdict
        self.calls: list[tuple[str, str, Actor, str]] = []

    async def run(
        self,
        incident: Incident,
        action: ProposedAction,
        actor: Actor,
        nonce: str = "",
        dry_run: bool = False,
    ) -> Decision:
        self.calls.append((incident.id, action.name, actor, nonce))
        return Decision(self.verdict, f"{action.name} started")
