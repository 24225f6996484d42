"""The runbook's Prevention items travel with the diagnosis and the resolved message
lists them as a checklist (Runbook 8: "Alert on connection count > 80% of max")."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.alerts.diagnose import alert_variables, classify
from bot.cli.explain import recorded_findings
from bot.config import bundled_rules_dir
from bot.models import Incident
from bot.notify import ConsoleNotifier, Event
from bot.registry import actions, probes
from bot.rules import load_rules

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "runbook8"


async def test_resolved_message_carries_the_runbooks_prevention_checklist() -> None:
    rule = load_rules(bundled_rules_dir(), probes, actions).get("database-connection-failure")
    assert rule is not None
    alert = json.loads((FIXTURES / "alert.json").read_text())["alerts"][0]
    recorded = json.loads((FIXTURES / "pool-exhausted.json").read_text())
    diagnosis = classify(
        rule,
        recorded_findings(rule, recorded),
        alert_variables(alert["labels"], alert["annotations"]),
        actions,
    )
    assert "Monitoring: Alert on connection count > 80% of max" in diagnosis.prevention
    incident = Incident(
        id="inc-db",
        key="fp|t",
        fingerprint="fp",
        alertname="DatabaseConnectionFailure",
        severity="P2",
        starts_at=datetime(2026, 11, 27, 3, tzinfo=UTC),
        diagnosis=diagnosis,
    )
    firing, resolved = io.StringIO(), io.StringIO()
    await ConsoleNotifier(stream=firing, width=200).notify(incident, Event.DIAGNOSED)
    await ConsoleNotifier(stream=resolved, width=200).notify(incident, Event.RESOLVED)
    assert "prevention" not in firing.getvalue()
    text = resolved.getvalue()
    assert "prevention (from the runbook):" in text
    assert "[ ] Connection Pooling: Configure appropriate pool sizes" in text
    assert "[ ] Network Policies: Document and version firewall rules" in text
