"""``POST /slack/events``: everything before Bolt routes a request.

The v0 signature and its 5-minute window are checked (Slack's
``SignatureVerifier``, as Bolt does); the timestamp first, from the headers,
so a request that cannot be Slack's is refused before its body is buffered.
An identical signed request seen before inside the window is a replay. Then
the body's shape is checked (:mod:`bot.notify.slack.shape`). Never a 5xx:
what is not Slack's gets 401, what cannot be routed 400 naming the field, and
an unexpected failure 400 with an error id that is also in the log.
"""

from __future__ import annotations

import time

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.alerts.intake import IntakeError
from bot.logs import get_logger
from bot.notify.slack import shape
from bot.store import Store, keys
from bot.web_errors import error_id, read_body

log = get_logger("slack")
SIGNATURE_WINDOW = 300  # seconds; Slack's and SignatureVerifier's
MAX_BODY_BYTES = 1 << 20  # Slack's interaction payloads are a few KB
BODY_TIMEOUT = 10.0  # seconds; Slack sends a few KB at once


def _fresh(timestamp: str) -> bool:
    """A Slack timestamp inside the signature window (``²`` and 400 digits are not)."""
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    return abs(time.time() - int(timestamp)) <= SIGNATURE_WINDOW


def _refuse(status: int, error: str, **extra: str) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


async def handle(
    request: web.Request, verifier: SignatureVerifier, store: Store, bolt: AsyncApp
) -> web.Response:
    """Never a 5xx: what is not Slack's is 401, what Bolt could not route 400."""
    try:
        return await _handle(request, verifier, store, bolt)
    except Exception:
        ref = error_id()
        log.exception("slack request failed", error_id=ref)
        return _refuse(400, "request could not be handled", error_id=ref)


async def _handle(
    request: web.Request, verifier: SignatureVerifier, store: Store, bolt: AsyncApp
) -> web.Response:
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    # from the headers alone, before the body is read: a request that cannot be
    # Slack's (no signature, a timestamp outside the window) is not buffered
    if not (signature.isascii() and signature and _fresh(timestamp)):
        log.warning(
            "slack request refused: missing, forged or stale signature", remote=request.remote
        )
        return _refuse(401, "invalid signature")
    try:
        body = await read_body(request, MAX_BODY_BYTES, BODY_TIMEOUT)
    except IntakeError as exc:
        log.info("slack request refused", reason=exc.reason, error=exc.message)
        return _refuse(exc.status, exc.message)
    if not verifier.is_valid(body, timestamp, signature):
        log.warning(
            "slack request refused: missing, forged or stale signature", remote=request.remote
        )
        return _refuse(401, "invalid signature")
    fresh = await store.set_value(
        keys.slack_seen(signature), timestamp, SIGNATURE_WINDOW + 60, only_if_absent=True
    )
    if not fresh:
        log.warning("slack request refused: replayed", remote=request.remote)
        return _refuse(401, "replayed request")
    try:
        text = body.decode("utf-8")
        shape.check(shape.parse(text, request.headers.get("Content-Type", "")))
    except (UnicodeDecodeError, shape.BadShape) as exc:
        log.warning("signed slack request refused: malformed", error=str(exc)[:300])
        return _refuse(400, f"malformed request: {str(exc)[:200]}")
    bolt_request = AsyncBoltRequest(
        body=text, query=request.query_string, headers=dict(request.headers)
    )
    response = await bolt.async_dispatch(bolt_request)
    if response.status >= 500:
        ref = error_id()
        log.error("slack request failed in bolt", error_id=ref, status=response.status)
        return _refuse(400, "request could not be handled", error_id=ref)
    return await to_aiohttp_response(response)
