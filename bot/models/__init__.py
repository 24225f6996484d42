"""Models shared by every layer (pydantic), and the events the core emits through
the :class:`Notifier` protocol. Imports nothing else from bot."""

from bot.models.alertmanager import Alert, WebhookMessage
from bot.models.events import Event, Notifier
from bot.models.incident import (
    ActionRun,
    Activity,
    Diagnosis,
    Fact,
    Finding,
    Incident,
    IncidentStatus,
    Milestone,
    ProposedAction,
    ScenarioCheck,
    Unchecked,
)

__all__ = [
    "ActionRun",
    "Activity",
    "Alert",
    "Diagnosis",
    "Event",
    "Fact",
    "Finding",
    "Incident",
    "IncidentStatus",
    "Milestone",
    "Notifier",
    "ProposedAction",
    "ScenarioCheck",
    "Unchecked",
    "WebhookMessage",
]
