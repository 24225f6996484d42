"""Pydantic models shared by every layer. Imports nothing else from bot."""

from bot.models.alertmanager import Alert, WebhookMessage
from bot.models.incident import (
    ActionRun,
    Activity,
    Diagnosis,
    Fact,
    Finding,
    Incident,
    IncidentStatus,
    ProposedAction,
    ScenarioCheck,
    Unchecked,
)

__all__ = [
    "ActionRun",
    "Activity",
    "Alert",
    "Diagnosis",
    "Fact",
    "Finding",
    "Incident",
    "IncidentStatus",
    "ProposedAction",
    "ScenarioCheck",
    "Unchecked",
    "WebhookMessage",
]
