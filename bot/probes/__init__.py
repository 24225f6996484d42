"""Diagnosis probes, registered by name. Importing this package registers them."""

from bot.probes import http, kubernetes, kubernetes_config, postgres, processes, prometheus, redis
from bot.probes.base import ProbeContext, ProbeParams

__all__ = [
    "ProbeContext",
    "ProbeParams",
    "http",
    "kubernetes",
    "kubernetes_config",
    "postgres",
    "processes",
    "prometheus",
    "redis",
]
