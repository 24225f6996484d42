"""Notifiers that combine or record others. ``Event`` and the ``Notifier``
protocol live in :mod:`bot.models.events` (below the core, which emits them);
they are re-exported here. Notifiers never call adapters."""

from __future__ import annotations

from bot.models import Incident
from bot.models.events import Event, Notifier

__all__ = ["Event", "FanOut", "Notifier", "Recorder"]


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
