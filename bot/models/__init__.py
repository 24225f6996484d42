"""Pydantic models shared by every layer. Imports nothing else from bot."""

from bot.models.alertmanager import Alert, WebhookMessage
from bot.models.incident import Diagnosis, Finding, Incident, IncidentStatus, ProposedAction

__all__ = [
    "Alert",
    "Diagnosis",
    "Finding",
    "Incident",
    "IncidentStatus",
    "ProposedAction",
    "WebhookMessage",
]
