"""The Slack integration's settings, as the notifier and the outbox sender use them."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.models import Incident


@dataclass
class SlackConfig:
    default_channel: str
    by_rule: dict[str, str] = field(default_factory=dict)
    by_severity: dict[str, str] = field(default_factory=dict)
    storm_threshold: int = 10  # 0 disables storm mode
    storm_window: float = 600.0
    storm_flush_interval: float = 3.0  # the storm summary is at most this far behind
    post_interval: float = 1.0  # Slack calls per channel: at most one per this many seconds
    retry_seconds: float = 10.0  # how long one call is retried before the sender backs off
    ttl: float = 30 * 86400  # how long message refs and button refs are kept
    runbook_base_url: str = ""  # the runbooks document; its section anchors are linked
    sender_lease: float = 5.0  # a dead replica's channel sender is taken over within this

    def channel_for(self, incident: Incident) -> str:
        if incident.rule and incident.rule in self.by_rule:
            return self.by_rule[incident.rule]
        if incident.severity and incident.severity in self.by_severity:
            return self.by_severity[incident.severity]
        return self.default_channel

    @property
    def channels(self) -> list[str]:
        seen = [self.default_channel, *self.by_rule.values(), *self.by_severity.values()]
        return list(dict.fromkeys(seen))
