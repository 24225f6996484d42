"""How incidents reach people. The engine calls notifiers; notifiers never call adapters."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from bot.models import Incident


class Event(StrEnum):
    DIAGNOSING = "diagnosing"  # probes are (re-)running
    DIAGNOSED = "diagnosed"
    UPDATED = "updated"  # acknowledged, silenced, an action started or ended: show it
    RESOLVED = "resolved"


class Notifier(Protocol):
    async def notify(self, incident: Incident, event: Event) -> None:
        """Deliver, or raise so the queue entry is retried."""
        ...


class FanOut:
    """Every notifier sees every event; the first failure is raised after all ran."""

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers

    async def notify(self, incident: Incident, event: Event) -> None:
        first: Exception | None = None
        for notifier in self.notifiers:
            try:
                await notifier.notify(incident, event)
            except Exception as exc:
                first = first or exc
        if first:
            raise first


class Recorder:
    """Keeps what it was told; for tests and `rules test`."""

    def __init__(self) -> None:
        self.events: list[tuple[Event, Incident]] = []

    async def notify(self, incident: Incident, event: Event) -> None:
        self.events.append((event, incident.model_copy(deep=True)))
