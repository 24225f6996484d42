"""Models shared by every layer (pydantic), and the events the core emits through
the :class:`Notifier` protocol. Imports nothing else from bot."""

from bot.models.alertmanager import Alert, WebhookMessage
from bot.models.events import Event, Notifier
from bot.models.incident import (
    ActionRun,
    Activity,
    Diagnosis,
    Finding,
    Incident,
    IncidentStatus,
    Milestone,
    ProposedAction,
)

__all__ = [
    "ActionRun",
    "Activity",
    "Alert",
    "Diagnosis",
    "Event",
    "Finding",
    "Incident",
    "IncidentStatus",
    "Milestone",
    "Notifier",
    "ProposedAction",
    "WebhookMessage",
]
