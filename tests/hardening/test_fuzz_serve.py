"""Properties of a real ``honua-bot serve`` fed generated input (Hypothesis):
no 5xx to any request, no good alert lost, every stderr line is JSON.

One process serves the whole module (starting one per example would take the
time budget); each property adds its examples to it and the last test reads
its stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models.alertmanager import Alert
from tests.fakes.slack_api import sign
from tests.hardening.strategies import (
    content_encodings,
    junk_notifications,
    notifications,
    slack_bodies,
)
from tests.helpers import REPO, free_port, wait_for_sync
from tests.integration.serve_support import ServeProcess

SECRET = "fuzz-signing-secret-0123456789"
EXAMPLES = int(os.environ.get("HONUA_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


class Bot:
    def __init__(self, proc: ServeProcess) -> None:
        self.proc = proc
        self.http = httpx.Client(base_url=proc.url, timeout=20)
        self.expected: set[str] = set()  # incident ids of accepted alerts
        self.requests = 0
        self.reconnects = 0  # requests retried after aiohttp dropped a connection
        self.last_encoded = False

    def post(self, path: str, body: bytes, headers: dict[str, Any]) -> httpx.Response | None:
        self.requests += 1
        encoded = bool(headers.get("Content-Encoding"))
        try:
            resp = self.http.post(path, content=body, headers=headers)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            # aiohttp's parser answers 400 to an undecodable Content-Encoding and
            # closes the connection without "Connection: close": this request may
            # see the reset, or the next one, sent on the pooled connection, a
            # disconnect before it was read. Neither was processed: a retry is right.
            assert encoded or self.last_encoded, "connection dropped without a reason"
            self.reconnects += 1
            self.last_encoded = encoded
            if encoded:
                assert self.http.get("/healthz").status_code == 200
                return None
            resp = self.http.post(path, content=body, headers=headers)
        self.last_encoded = encoded
        assert resp.status_code < 500, (path, resp.status_code, resp.text, body[:300])
        return resp


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    workdir = tmp_path_factory.mktemp("fuzz")
    slack_port = free_port()
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.slack_api", "--port", str(slack_port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
    )
    proc = ServeProcess(
        workdir,
        "fuzz",
        {
            "HONUA_BOT_RULES": str(REPO / "rules"),
            "HONUA_BOT_SLACK_BOT_TOKEN": "xoxb-fake-token",
            "HONUA_BOT_SLACK_CHANNEL": "#incidents",
            "HONUA_BOT_SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
            "HONUA_BOT_SLACK_SIGNING_SECRET": SECRET,
            "HONUA_BOT_PROBE_TIMEOUT": "0.5",
            # a body aiohttp's decompressor never finishes is refused after this
            "HONUA_BOT_BODY_TIMEOUT_SECONDS": "1",
            "PYTHONPATH": str(REPO),
        },
    )
    try:
        import asyncio

        asyncio.run(proc.wait_ready())
        yield Bot(proc)
    finally:
        proc.stop(20)
        fake.terminate()
        fake.wait(10)
        keep = os.environ.get("HONUA_FUZZ_KEEP_LOG")
        if keep:  # for a post-mortem: pytest's temp dirs rotate away quickly
            Path(keep).write_text(proc.stderr)


@FUZZ
@given(body=notifications())
def test_accepted_notification_loses_no_alert(bot: Bot, body: dict[str, Any]) -> None:
    resp = bot.post("/alerts", json.dumps(body).encode(), {"Content-Type": "application/json"})
    assert resp is not None and resp.status_code == 200, resp.text
    bot.expected |= {Alert.model_validate(a).incident_id for a in body["alerts"]}


@FUZZ
@given(body=junk_notifications(), encoding=content_encodings)
def test_junk_notification_is_a_4xx(bot: Bot, body: bytes, encoding: str) -> None:
    headers = {"Content-Type": "application/json"}
    if encoding:
        headers["Content-Encoding"] = encoding
    resp = bot.post("/alerts", body, headers)
    if resp is not None and (not encoding or encoding == "identity"):
        assert resp.status_code == 400, resp.text
        assert resp.json()["status"] == "error"


@FUZZ
@given(req=slack_bodies(), stale=st.booleans())
def test_signed_slack_request_is_never_5xx(bot: Bot, req: tuple[str, str], stale: bool) -> None:
    body, content_type = req
    headers = sign(SECRET, body, int(time.time()) - (600 if stale else 0))
    headers["Content-Type"] = content_type
    resp = bot.post("/slack/events", body.encode(), headers)
    if stale and resp is not None:
        assert resp.status_code == 401


_header_values = st.one_of(
    # what h11 lets a client send: visible ASCII, spaces and obs-text (0x80-0xff)
    st.lists(st.integers(0x21, 0xFF).filter(lambda b: b != 0x7F), max_size=40).map(bytes),
    st.sampled_from([b"\xc2\xb2", b"9" * 400, b"", b"-1", b"v0=" + b"0" * 64]),
)


@FUZZ
@given(
    body=st.binary(max_size=300),
    timestamp=_header_values,
    signature=_header_values,
    encoding=content_encodings,
)
def test_unsigned_slack_request_is_refused(
    bot: Bot, body: bytes, timestamp: bytes, signature: bytes, encoding: str
) -> None:
    headers: dict[str, Any] = {
        "X-Slack-Request-Timestamp": timestamp.strip(),
        "X-Slack-Signature": signature.strip(),
    }
    if encoding:
        headers["Content-Encoding"] = encoding
    resp = bot.post("/slack/events", body, headers)
    assert resp is None or resp.status_code in (400, 401), resp.text


def test_zz_every_good_alert_processed_and_every_log_line_json(bot: Bot) -> None:
    """Runs after the properties above (file order)."""
    assert bot.expected, "the properties did not run"

    def missing() -> set[str]:
        return {i for i in bot.expected if bot.http.get(f"/incidents/{i}").status_code != 200}

    left: set[str] = set(bot.expected)

    def all_there() -> bool:
        nonlocal left
        left = missing()
        return not left

    with contextlib.suppress(AssertionError):
        wait_for_sync(all_there, timeout=120, interval=1)
    assert not left, f"{len(left)} of {len(bot.expected)} accepted alerts never processed"
    assert bot.http.get("/healthz").status_code == 200
    bot.proc.stop(20)
    lines = [line for line in bot.proc.stderr.splitlines() if line.strip()]
    bad = []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            bad.append(line)
    assert not bad, f"{len(bad)} non-JSON stderr lines, e.g. {bad[:5]}"
    errors = [json.loads(x) for x in lines if '"request failed"' in x]
    assert not errors, errors[:3]
    print(
        f"fuzz: {bot.requests} requests, {len(bot.expected)} alerts, {len(lines)} log lines, "
        f"{bot.reconnects} retried after a dropped connection"
    )
