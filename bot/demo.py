"""`honua-bot demo`: send a sample alert through a running bot and show the incident."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from bot.models import Incident, WebhookMessage


def sample_notification(alertname: str = "HighProcessFailureRate") -> dict[str, Any]:
    starts = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    labels = {
        "alertname": alertname,
        "namespace": "honua-process-framework",
        "severity": "critical",
        "service": "honua-process-framework",
    }
    return {
        "version": "4",
        "receiver": "honua-bot",
        "status": "firing",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.local:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": "Process failure rate above 10%",
                    "description": "More than 10% of processes failed over the last 5 minutes.",
                },
                "startsAt": starts,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.local:9090/graph?g0.expr=honua_process_failures_total",
            }
        ],
    }


def run_demo(url: str, token: str | None, timeout: float = 30.0) -> Incident:
    payload = sample_notification()
    incident_id = WebhookMessage.model_validate(payload).alerts[0].incident_id
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10) as client:
        resp = client.post("/alerts", json=payload)
        if resp.status_code != 200:
            raise RuntimeError(f"POST /alerts answered {resp.status_code}: {resp.text}")

        def diagnosed() -> Incident | None:
            got = client.get(f"/incidents/{incident_id}")
            if got.status_code != 200:
                return None
            incident = Incident.model_validate(got.json())
            return incident if incident.diagnosis is not None else None

        # the synchronous twin of bot.polling.poll_until (this runs in the CLI, no loop)
        waiting = Retrying(
            stop=stop_after_delay(timeout),
            wait=wait_fixed(0.2),
            retry=retry_if_result(lambda found: found is None),
            retry_error_callback=lambda state: None,
        )
        found: Incident | None = waiting(diagnosed)
        if found is not None:
            return found
    raise TimeoutError(f"incident {incident_id} was not diagnosed within {timeout:g} s")
