"""Remediation actions, registered by name. Importing this package registers them."""

from bot.actions import alertmanager, kubernetes

__all__ = ["alertmanager", "kubernetes"]
