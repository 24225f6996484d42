"""The HTTP surface: ``app`` (/alerts, /incidents, /slack/events, health, metrics),
``admin`` (/admin) and ``auth`` (the one bearer-token check they share)."""

from bot.web.app import SERVICE, create_app

__all__ = ["SERVICE", "create_app"]
