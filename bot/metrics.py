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

        # what the chart's PrometheusRule alerts on (helm/honua-bot/monitoring/)
        self.rules_reload_failing = Gauge(
            "honua_bot_rules_reload_failing",
            "1 while the last rule reload was rejected (the last good rules are in force)",
            registry=r,
        )
        self.dead_letters = Counter(
            "honua_bot_dead_letters",
            "Queue entries moved to the dead-letter stream after too many failures",
            registry=r,
        )
        self.slack_errors = Counter(
            "honua_bot_slack_errors",
            "Slack Web API calls that still failed after their retries",
            ["method"],
            registry=r,
        )
        self.breaker_opened = Counter(
            "honua_bot_breaker_opened",
            "Circuit breakers opened: automatic runs of an action type on a target stopped",
            ["action"],
            registry=r,
        )

        # labelled series exist from the start at 0, so increase() sees their first rise
        for method in ("chat.postMessage", "chat.update"):
            self.slack_errors.labels(method)

    def known_actions(self, names: list[str]) -> None:
        """Start every action type's breaker series at 0 (see above)."""
        for name in names:
            self.breaker_opened.labels(name)

    def render(self) -> bytes:
        return generate_latest(self.registry)
