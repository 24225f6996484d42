"""Webhook intake: check, validate, queue. Nothing slow happens here."""

from __future__ import annotations

import hmac

from pydantic import ValidationError

from bot.models import WebhookMessage
from bot.store import QueueFull, Store, StoreUnavailable


class IntakeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


def check_bearer(header: str | None, token: str | None) -> None:
    if token is None:
        return
    supplied = ""
    if header and header[:7].lower() == "bearer ":
        supplied = header[7:].strip()
    # compare_digest on bytes: constant time whatever the supplied value is.
    # aiohttp decodes header bytes with surrogateescape, so a non-UTF-8 header
    # must be encoded back the same way (plain .encode() raised: a 500, not a 401).
    if not hmac.compare_digest(supplied.encode("utf-8", "surrogateescape"), token.encode()):
        reason = "missing bearer token" if not supplied else "wrong bearer token"
        raise IntakeError(401, "unauthorized", reason)


def describe_validation(exc: ValidationError, limit: int = 5) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        if err["type"] == "json_invalid":
            return f"invalid JSON: {err['ctx'].get('error', err['msg']) if err.get('ctx') else err['msg']}"
        loc = ".".join(str(p) for p in err["loc"]) or "(body)"
        parts.append(f"{loc}: {err['msg']}")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")


def parse(body: bytes) -> WebhookMessage:
    try:
        return WebhookMessage.model_validate_json(body)
    except ValidationError as exc:
        raise IntakeError(400, "invalid", describe_validation(exc)) from exc


async def accept(body: bytes, store: Store) -> tuple[WebhookMessage, str]:
    """Validate and queue; the raw body is queued as sent (the worker re-parses it)."""
    message = parse(body)
    try:
        entry_id = await store.enqueue(body)
    except QueueFull as exc:
        raise IntakeError(503, "queue_full", str(exc)) from exc
    except StoreUnavailable as exc:
        raise IntakeError(503, "store_unavailable", str(exc)) from exc
    return message, entry_id
