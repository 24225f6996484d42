"""Remediation actions, registered by name. Importing this package registers them."""

from bot.actions import alertmanager, kubernetes, postgres, process_resubmit, processes, redis

__all__ = ["alertmanager", "kubernetes", "postgres", "process_resubmit", "processes", "redis"]
