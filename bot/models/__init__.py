"""Pydantic models shared by every layer. Imports nothing else from bot."""

from bot.models.alertmanager import Alert, WebhookMessage
from bot.models.incident import (
    ActionRun,
    Activity,
    Diagnosis,
    Finding,
    Incident,
    IncidentStatus,
    ProposedAction,
)

__all__ = [
    "ActionRun",
    "Activity",
    "Alert",
    "Diagnosis",
    "Finding",
    "Incident",
    "IncidentStatus",
    "ProposedAction",
    "WebhookMessage",
]
