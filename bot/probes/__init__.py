"""Diagnosis probes, registered by name. Importing this package registers them."""

from bot.probes import processes, prometheus
from bot.probes.base import ProbeContext, ProbeParams

__all__ = ["ProbeContext", "ProbeParams", "processes", "prometheus"]
