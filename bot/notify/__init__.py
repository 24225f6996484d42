"""Notifiers: the console one here; Slack arrives as its own package."""

from bot.notify.base import Event, FanOut, Notifier, Recorder
from bot.notify.console import ConsoleNotifier

__all__ = ["ConsoleNotifier", "Event", "FanOut", "Notifier", "Recorder"]
