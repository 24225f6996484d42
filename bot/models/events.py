"""What the core tells people about an incident, and the protocol it tells it
through. Lives below the alert pipeline and the remediation engine so that they
emit events without importing ``bot.notify``; Slack and the console implement
:class:`Notifier` (``bot.notify``)."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from bot.models.incident import Incident


class Event(StrEnum):
    DIAGNOSING = "diagnosing"  # probes are (re-)running
    DIAGNOSED = "diagnosed"
    UPDATED = "updated"  # acknowledged, silenced, an action started or ended: show it
    RESOLVED = "resolved"


class Notifier(Protocol):
    async def notify(self, incident: Incident, event: Event) -> None:
        """Deliver, or raise so the queue entry is retried."""
        ...
