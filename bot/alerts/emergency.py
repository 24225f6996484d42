"""Runbook 5 without waiting for an alert: a person asks to cancel a runaway
process (``/honua cancel ID`` in Slack, ``honua-bot emergency ID``). The request
becomes a ``ProcessRunaway`` alert for that process, queued like any webhook,
so it gets the same incident, diagnosis, message, buttons, gates and audit."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bot.alerts.intake import accept
from bot.models import WebhookMessage
from bot.store.base import Store

ALERTNAME = "ProcessRunaway"
NAMESPACE = "honua-process-framework"
_PROCESS_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class BadProcessId(ValueError):
    pass


def emergency_alert(process_id: str, actor: str, reason: str = "") -> bytes:
    """The Alertmanager webhook body for one hand-raised ProcessRunaway."""
    if not _PROCESS_ID.fullmatch(process_id or ""):
        raise BadProcessId(
            f"process id {process_id!r}: expected letters, digits and . _ : - (at most 128)"
        )
    labels = {
        "alertname": ALERTNAME,
        "namespace": NAMESPACE,
        "process_id": process_id,
        "severity": "warning",
    }
    text = f"emergency cancellation of {process_id} requested by {actor}"
    annotations = {"summary": text, "raised_by": actor}
    if reason:
        annotations["description"] = reason
    now = datetime.now(UTC).isoformat()
    body = {
        "version": "4",
        "receiver": "honua-bot",
        "status": "firing",
        "groupKey": f"honua-bot/emergency:{process_id}",
        "groupLabels": {"alertname": ALERTNAME},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": "",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
            }
        ],
    }
    return json.dumps(body).encode()


async def raise_emergency(store: Store, process_id: str, actor: str, reason: str = "") -> str:
    """Queue it; the incident id the bot will open for it."""
    body = emergency_alert(process_id, actor, reason)
    message: WebhookMessage
    message, _ = await accept(body, store)
    return message.alerts[0].incident_id
