"""The bot's own Prometheus metrics. One registry per app, so tests can run several."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(
            "honua_bot_notifications_received",
            "Webhook notifications accepted",
            ["status"],
            registry=r,
        )
        self.rejected = Counter(
            "honua_bot_notifications_rejected",
            "Webhook notifications refused",
            ["reason"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "honua_bot_queue_depth", "Notifications queued or in flight", registry=r
        )
        self.incidents = Counter(
            "honua_bot_incidents", "Incidents diagnosed", ["rule", "scenario"], registry=r
        )
        self.probe_seconds = Histogram(
            "honua_bot_probe_duration_seconds",
            "Probe latency",
            ["probe", "outcome"],
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.worker_errors = Counter(
            "honua_bot_worker_errors",
            "Queue entries whose processing failed",
            ["stage"],
            registry=r,
        )
        self.degraded = Gauge(
            "honua_bot_degraded", "1 while the bot's own Redis is unreachable", registry=r
        )
        self.rules_loaded = Gauge("honua_bot_rules_loaded", "Rules currently in force", registry=r)
        self.rules_reload_errors = Counter(
            "honua_bot_rules_reload_errors",
            "Rule reloads rejected (last good rules kept)",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
