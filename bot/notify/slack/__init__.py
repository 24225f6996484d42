"""Slack: one living message per incident (``notifier``), its Block Kit
(``render``), who may press what (``auth``), and the Bolt app for buttons and
``/honua`` (``app``).

:class:`SlackIntegration` builds them from settings for the composition root
(:mod:`bot.app`): the client, the notifier and the authorizer first (the pipeline
and the engine need them), then — once the engine's request entry point exists —
the Bolt app (:meth:`SlackIntegration.app_for`), mounted on the bot's aiohttp app
at ``/slack/events`` or run over Socket Mode when an app token is set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.prometheus import PrometheusClient
from bot.logs import get_logger, register_secret
from bot.notify.slack.app import SlackApp
from bot.notify.slack.auth import Authorizer, ClickPolicy, SlackActionAuthorizer
from bot.notify.slack.graphs import GraphPoster
from bot.notify.slack.notifier import SlackConfig, SlackNotifier, SlackUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable

    from bot.config import Settings
    from bot.remediation.requests import IncidentRequests
    from bot.rules import RuleSet
    from bot.store import Store

log = get_logger("slack")
SLACK_API_URL = "https://slack.com/api/"


class SlackIntegration:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        rules: Callable[[], RuleSet] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        if settings.slack_bot_token is None:
            raise ValueError("SlackIntegration needs HONUA_BOT_SLACK_BOT_TOKEN")
        if not settings.slack_channel:
            raise SystemExit(
                "HONUA_BOT_SLACK_CHANNEL is required when HONUA_BOT_SLACK_BOT_TOKEN is set"
            )
        secrets = (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
        )
        for secret in secrets:
            register_secret(secret.get_secret_value() if secret else None)
        self.settings = settings
        self.store = store
        base_url = settings.slack_api_url.rstrip("/") + "/"  # the client needs the slash
        self.client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=base_url,
            timeout=10,
            retry_handlers=[],  # the notifier retries (tenacity), honouring Retry-After
        )
        self.config = SlackConfig(
            default_channel=settings.slack_channel,
            by_rule=dict(settings.slack_channel_by_rule),
            by_severity=dict(settings.slack_channel_by_severity),
            storm_threshold=settings.slack_storm_threshold,
            storm_window=settings.slack_storm_window_seconds,
            storm_flush_interval=settings.slack_storm_update_seconds,
            post_interval=settings.slack_post_interval,
            retry_seconds=settings.slack_retry_seconds,
            ttl=settings.open_incident_ttl_seconds,
            runbook_base_url=settings.runbook_base_url,
        )
        self.notifier = SlackNotifier(self.client, store, self.config)
        if settings.slack_graphs and settings.prometheus_url:
            self.notifier.graphs = GraphPoster(
                self.client,
                store,
                self.notifier.state,
                PrometheusClient(settings.prometheus_url),
                self.config.ttl,
            )
        if on_failure is not None:  # told each Web API method that failed (metrics)
            self.notifier.on_failure = on_failure
        s = settings
        default = ClickPolicy.of(
            s.slack_allowed_users, s.slack_allowed_groups, s.slack_allowed_channels
        )
        per_action = {
            name: ClickPolicy.of(p.users, p.groups, p.channels)
            for name, p in s.slack_action_permissions.items()
        }
        if default.open and not per_action:
            log.warning(
                "no HONUA_BOT_SLACK_ALLOWED_USERS/GROUPS/CHANNELS: anyone who sees a message "
                "may press its buttons"
            )
        self.authorizer = Authorizer(
            default,
            per_action,
            self.client,
            store,
            rules=rules,
            role_groups=s.slack_role_groups,
        )
        # the remediation path's authorize stage, for actors from Slack
        self.action_authorizer = SlackActionAuthorizer(self.authorizer)

    def app_for(self, requests: IncidentRequests) -> SlackApp:
        """The Bolt app that turns clicks into ``requests`` calls."""
        s = self.settings
        return SlackApp(
            client=self.client,
            store=self.store,
            notifier=self.notifier,
            requests=requests,
            authorizer=self.authorizer,
            signing_secret=s.slack_signing_secret.get_secret_value()
            if s.slack_signing_secret
            else None,
            app_token=s.slack_app_token.get_secret_value() if s.slack_app_token else None,
        )

    async def start(self) -> None:
        await self.notifier.start()

    async def aclose(self) -> None:
        await self.notifier.aclose()


__all__ = ["SlackApp", "SlackConfig", "SlackIntegration", "SlackNotifier", "SlackUnavailable"]
