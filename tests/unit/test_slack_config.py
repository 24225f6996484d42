"""Slack settings: environment parsing, routing, the integration's wiring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import Service
from bot.config import Settings
from bot.models import Incident
from bot.notify import FanOut
from bot.notify.slack import SlackConfig, SlackIntegration
from bot.store import MemoryStore

REPO = Path(__file__).resolve().parents[2]


def test_lists_and_permissions_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HONUA_BOT_SLACK_ALLOWED_USERS", "U01, U02")
    monkeypatch.setenv("HONUA_BOT_SLACK_ALLOWED_GROUPS", '["oncall"]')
    monkeypatch.setenv("HONUA_BOT_SLACK_CHANNEL_BY_SEVERITY", '{"P1": "#paging"}')
    monkeypatch.setenv(
        "HONUA_BOT_SLACK_ACTION_PERMISSIONS", '{"restart-redis": {"groups": ["sre"]}}'
    )
    settings = Settings()
    assert settings.slack.allowed_users == ["U01", "U02"]
    assert settings.slack.allowed_groups == ["oncall"]
    assert settings.slack.channel_by_severity == {"P1": "#paging"}
    assert settings.slack.action_permissions["restart-redis"].groups == ["sre"]
    assert settings.slack.bot_token is None


def test_routing_prefers_rule_then_severity_then_default() -> None:
    config = SlackConfig("#alerts", {"r1": "#r1"}, {"P1": "#paging"})

    def incident(rule: str | None, severity: str) -> Incident:
        return Incident(
            id="i", key="k", fingerprint="f", alertname="A", rule=rule, severity=severity,
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        )  # fmt: skip

    assert config.channel_for(incident("r1", "P1")) == "#r1"
    assert config.channel_for(incident("r2", "P1")) == "#paging"
    assert config.channel_for(incident(None, "P3")) == "#alerts"
    assert config.channels == ["#alerts", "#r1", "#paging"]


def test_a_token_needs_a_channel() -> None:
    settings = Settings(slack_bot_token="xoxb-1234")
    with pytest.raises(SystemExit, match="HONUA_BOT_SLACK_CHANNEL is required"):
        SlackIntegration(settings.slack, MemoryStore())


def test_without_a_token_slack_stays_off_and_with_one_it_joins_the_console() -> None:
    plain = Service(Settings(rules=REPO / "rules"))
    assert plain.slack is None and not isinstance(plain.notifier, FanOut)
    with_slack = Service(
        Settings(rules=REPO / "rules", slack_bot_token="xoxb-1234", slack_channel="#alerts")
    )
    assert with_slack.slack is not None
    assert isinstance(with_slack.notifier, FanOut)
    assert with_slack.notifier.notifiers[1] is with_slack.slack.notifier
    assert with_slack.slack.client.base_url == "https://slack.com/api/"
