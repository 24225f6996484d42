"""Poison alerts: one that cannot be processed is dead-lettered alone.

The dead-letter record holds a notification with only that alert, so it can be
inspected (and re-posted) without its neighbours, which are processed normally.
"""

from __future__ import annotations

from typing import Any

from bot.logs import get_logger
from bot.models import Alert, WebhookMessage
from bot.store import QueueEntry, Store

log = get_logger("worker")


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def unprocessable(alert: Alert) -> str | None:
    """Why ``alert`` cannot even be named (its incident id cannot be computed)."""
    try:
        alert.incident_id  # noqa: B018 - computing it is the check
    except Exception as exc:
        return f"no incident id: {describe(exc)}"
    return None


def alert_ref(alert: Alert) -> dict[str, Any]:
    """Log fields naming ``alert`` that cannot fail (the error path must not raise)."""
    ref: dict[str, Any] = {"fingerprint": alert.fingerprint, "alertname": alert.alertname}
    try:
        ref["incident"] = alert.incident_id
    except Exception:
        ref["incident"] = None
    return ref


async def dead_letter_alert(
    store: Store, entry: QueueEntry, message: WebhookMessage, alert: Alert, reason: str
) -> None:
    alone = message.model_copy(update={"alerts": [alert]})
    payload = alone.model_dump_json(by_alias=True).encode()
    log.error("alert dead-lettered alone", entry=entry.id, reason=reason, **alert_ref(alert))
    await store.dead_letter(QueueEntry(entry.id, payload, entry.deliveries, entry.origin), reason)
