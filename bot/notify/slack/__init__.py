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

    from bot.config import SlackSettings
    from bot.remediation.requests import IncidentRequests
    from bot.rules import RuleSet
    from bot.store import Store

log = get_logger("slack")
SLACK_API_URL = "https://slack.com/api/"


class SlackIntegration:
    """Built from the Slack settings group; ``ttl`` is how long message and button
    refs are kept (the open-incident TTL) and ``prometheus_url`` where graphs come from."""

    def __init__(
        self,
        settings: SlackSettings,
        store: Store,
        rules: Callable[[], RuleSet] | None = None,
        on_failure: Callable[[str], None] | None = None,
        *,
        ttl: float = SlackConfig.ttl,
        prometheus_url: str | None = None,
    ) -> None:
        if settings.bot_token is None:
            raise ValueError("SlackIntegration needs HONUA_BOT_SLACK_BOT_TOKEN")
        if not settings.channel:
            raise SystemExit(
                "HONUA_BOT_SLACK_CHANNEL is required when HONUA_BOT_SLACK_BOT_TOKEN is set"
            )
        for secret in (settings.bot_token, settings.signing_secret, settings.app_token):
            register_secret(secret.get_secret_value() if secret else None)
        self.settings = settings
        self.store = store
        base_url = settings.api_url.rstrip("/") + "/"  # the client needs the slash
        self.client = AsyncWebClient(
            token=settings.bot_token.get_secret_value(),
            base_url=base_url,
            timeout=10,
            retry_handlers=[],  # the notifier retries (tenacity), honouring Retry-After
        )
        self.config = SlackConfig(
            default_channel=settings.channel,
            by_rule=dict(settings.channel_by_rule),
            by_severity=dict(settings.channel_by_severity),
            storm_threshold=settings.storm_threshold,
            storm_window=settings.storm_window_seconds,
            storm_flush_interval=settings.storm_update_seconds,
            post_interval=settings.post_interval,
            retry_seconds=settings.retry_seconds,
            ttl=ttl,
            runbook_base_url=settings.runbook_base_url,
        )
        self.notifier = SlackNotifier(self.client, store, self.config)
        if settings.graphs and prometheus_url:
            self.notifier.graphs = GraphPoster(
                self.client,
                store,
                self.notifier.state,
                PrometheusClient(prometheus_url),
                self.config.ttl,
            )
        if on_failure is not None:  # told each Web API method that failed (metrics)
            self.notifier.on_failure = on_failure
        default = ClickPolicy.of(
            settings.allowed_users, settings.allowed_groups, settings.allowed_channels
        )
        per_action = {
            name: ClickPolicy.of(p.users, p.groups, p.channels)
            for name, p in settings.action_permissions.items()
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
            role_groups=settings.role_groups,
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
            signing_secret=s.signing_secret.get_secret_value() if s.signing_secret else None,
            app_token=s.app_token.get_secret_value() if s.app_token else None,
        )

    async def start(self) -> None:
        await self.notifier.start()

    async def aclose(self) -> None:
        await self.notifier.aclose()


__all__ = ["SlackApp", "SlackConfig", "SlackIntegration", "SlackNotifier", "SlackUnavailable"]
