"""Item 2: /slack/events never answers 5xx, signed or not."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fakes.slack_api import FakeSlack, command_body, sign
from tests.integration.slack_support import SECRET, slack_bot


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    server = await FakeSlack().start()
    yield server
    await server.stop()


def _click(actions: Any, **extra: Any) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice"},
        "team": {"id": "T0FAKE"},
        "channel": {"id": "C0FAKE", "name": "incidents"},
        "actions": actions,
        **extra,
    }


def _form(**fields: str) -> str:
    return urlencode(fields)


SIGNED_BODIES: dict[str, str] = {
    "payload empty": _form(payload=""),
    "payload not JSON": _form(payload="{nope"),
    "payload a list": _form(payload="[1,2]"),
    "payload null": _form(payload="null"),
    "payload twice": "payload=%7B%7D&payload=%7B%7D",
    "actions empty": _form(payload=json.dumps(_click([]))),
    "actions a dict": _form(payload=json.dumps(_click({"action_id": "honua:x"}))),
    "actions [null]": _form(payload=json.dumps(_click([None]))),
    "action_id missing": _form(payload=json.dumps(_click([{"value": "v"}]))),
    "action_id not a string": _form(payload=json.dumps(_click([{"action_id": 7}]))),
    "action_id a list": _form(payload=json.dumps(_click([{"action_id": ["honua:"]}]))),
    "view_submission without view.type": _form(
        payload=json.dumps({"type": "view_submission", "view": {}, "team": {"id": "T"}})
    ),
    "view_submission view null": _form(
        payload=json.dumps({"type": "view_submission", "view": None})
    ),
    "json body a list": "[1, 2, 3]",
    "json body a string": '"hello"',
    "command without response_url": _form(
        command="/honua", text="status", user_id="U0ALICE", team_id="T0FAKE"
    ),
    "command text a bomb": command_body("incident " + "x" * 5000),
    "not utf-8": "payload=%FF%FE",
}


async def _post(h: Any, body: bytes | str, headers: dict[str, str]) -> Any:
    return await h.http.post("/slack/events", content=body, headers=headers)


@pytest.mark.parametrize("name", list(SIGNED_BODIES))
async def test_signed_malformed_body_is_4xx_or_polite(
    tmp_path: Path, fake: FakeSlack, name: str
) -> None:
    body = SIGNED_BODIES[name]
    async with slack_bot(tmp_path, fake) as h:
        headers = sign(SECRET, body)
        if body.startswith(("[", '"')):
            headers["Content-Type"] = "application/json"
        resp = await _post(h, body.encode(), headers)
        assert resp.status_code < 500, (name, resp.status_code, resp.text)


UNSIGNED: dict[str, tuple[bytes, dict[str, str]]] = {
    "body not utf-8": (b"\xff\xfe\x00payload", {"X-Slack-Signature": "v0=00"}),
    "timestamp superscript two": (
        b"x=1",
        {"X-Slack-Request-Timestamp": "²", "X-Slack-Signature": "v0=00"},
    ),
    "timestamp 400 digits": (
        b"x=1",
        {"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": "v0=00"},
    ),
    "gzip junk": (b"not gzip at all", {"Content-Encoding": "gzip", "X-Slack-Signature": "v0=00"}),
    "signature not ascii": (
        b"x=1",
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=é"},
    ),
}


@pytest.mark.parametrize("name", list(UNSIGNED))
async def test_unsigned_garbage_is_refused_not_500(
    tmp_path: Path, fake: FakeSlack, name: str
) -> None:
    body, headers = UNSIGNED[name]
    async with slack_bot(tmp_path, fake) as h:
        raw = {k: v.encode() for k, v in headers.items()}  # '²' as the UTF-8 bytes sent
        resp = await _post(h, body, raw)  # type: ignore[arg-type]
        assert resp.status_code in (400, 401), (name, resp.status_code, resp.text)


async def test_signed_gzip_junk_is_400(tmp_path: Path, fake: FakeSlack) -> None:
    body = "not gzip"
    async with slack_bot(tmp_path, fake) as h:
        headers = {**sign(SECRET, body), "Content-Encoding": "gzip"}
        resp = await _post(h, body.encode(), headers)
        assert resp.status_code in (400, 401)
        good = gzip.compress(b"x")
        assert good  # a real gzip body is not what Slack sends; only junk matters here


async def test_click_answered_while_slack_web_api_is_unreachable(
    tmp_path: Path, fake: FakeSlack
) -> None:
    """Egress to Slack broken: Bolt's own authorization would call auth.test and
    answer 500; the click must still be acked and answered."""
    from tests.fakes.slack_api import block_actions, interaction_body
    from tests.helpers import free_port, wait_for

    dead_api = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens: connection refused
    async with slack_bot(tmp_path, fake, slack_api_url=dead_api) as h:
        payload = block_actions(
            {"action_id": "honua:act", "value": "stale-value"},
            channel="C0FAKE",
            response_url=fake.response_url("k1"),
        )
        body = interaction_body(payload)
        resp = await _post(h, body.encode(), sign(SECRET, body))
        assert resp.status_code == 200, resp.text
        answer = await wait_for(lambda: next((r for r in fake.responses if r["key"] == "k1"), None))
        assert "no longer valid" in json.dumps(answer)
