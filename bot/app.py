"""The composition root: builds the whole application from Settings, every part
given what it needs in its constructor (nothing is wired afterwards). Only
``bot.web`` and ``bot.cli`` import this module.

    store ▶ adapters ▶ rulebook ▶ notifiers (console, Slack) ▶ incident book
    ▶ remediation engine (its stage list) ▶ alert pipeline (its stage lists,
    ending with the engine's auto mode) ▶ request door ▶ Slack app ▶ workers
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.adapters import Adapters
from bot.alerts.incidents import IncidentBook, IncidentDesk, IncidentTTL
from bot.alerts.pipeline import Pipeline, PipelineConfig
from bot.alerts.rulebook import Rulebook
from bot.alerts.worker import Worker
from bot.config import Settings
from bot.logs import get_logger, register_secret, register_url_credentials
from bot.metrics import Metrics
from bot.models import Notifier
from bot.notify import ConsoleNotifier, FanOut
from bot.registry import actions, probes
from bot.remediation import handoff
from bot.remediation.cli_access import CliAuthorizer
from bot.remediation.config import runner_config
from bot.remediation.engine import ActionEngine
from bot.remediation.incident_requests import EngineRequests
from bot.remediation.restore_offers import RestoreOffers
from bot.remediation.stages import ActionAuthorizer
from bot.store import ResilientStore, Store, build_store

if TYPE_CHECKING:  # slack_bolt/slack_sdk are imported only when Slack is configured
    from bot.notify.slack import SlackApp, SlackIntegration

log = get_logger("service")


def load_builtins() -> None:
    """Import the modules whose decorators fill the probe and action registries."""
    import bot.actions
    import bot.probes  # noqa: F401


class Service:
    def __init__(
        self, settings: Settings, notifier: Notifier | None = None, store: Store | None = None
    ) -> None:
        load_builtins()
        for secret in (
            settings.http.webhook_token,
            settings.store.redis_url,
            settings.targets.redis_url,
            settings.targets.postgres_dsn,
            settings.http.admin_token,
        ):
            register_secret(secret.get_secret_value() if secret else None)
        for url in (
            settings.targets.prometheus_url,
            settings.targets.process_api_url,
            settings.targets.alertmanager_url,
            settings.slack.api_url,
            *(
                secret.get_secret_value() if secret else None
                for secret in (
                    settings.store.redis_url,
                    settings.targets.redis_url,
                    settings.targets.postgres_dsn,
                )
            ),
        ):
            register_url_credentials(url)
        s = self.settings = settings
        self.metrics = Metrics()
        self.metrics.known_actions([entry.name for entry in actions])
        redis_url = s.store.redis_url.get_secret_value() if s.store.redis_url else None
        self.store = store or build_store(
            redis_url, s.queue.memory_queue_size, s.store.redis_check_interval
        )
        self.adapters = Adapters.from_settings(s.targets)
        self.alertmanager = self.adapters.alertmanager_client
        self.rulebook = Rulebook(s.resolved_rules_dir(), probes, actions, self.metrics)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

        # notifiers: Slack when a bot token is set, beside the console (or given) one
        base: Notifier = notifier or (ConsoleNotifier() if s.console_notifier else FanOut([]))
        errors = self.metrics.slack_errors
        self.slack: SlackIntegration | None = None
        if s.slack.bot_token:
            from bot.notify.slack import SlackIntegration

            self.slack = SlackIntegration(
                s.slack,
                self.store,
                self.rulebook,
                on_failure=lambda m: errors.labels(m).inc(),
                ttl=s.store.open_incident_ttl_seconds,
                prometheus_url=s.targets.prometheus_url,
            )
        self.notifier: Notifier = (
            FanOut([base, self.slack.notifier]) if self.slack is not None else base
        )
        authorizers: dict[str, ActionAuthorizer] = {
            "cli": CliAuthorizer(
                [
                    name
                    for name, p in s.slack.action_permissions.items()
                    if p.users or p.groups or p.channels
                ],
                s.slack.role_groups,
            )
        }
        if self.slack is not None:
            authorizers["slack"] = self.slack.action_authorizer

        config = PipelineConfig(
            s.targets.probe_timeout,
            s.store.incident_ttl_seconds,
            s.store.open_incident_ttl_seconds,
            rule_eval_budget=s.rule_eval_budget_seconds,
            rule_data_max_items=s.rule_data_max_items,
        )
        book = IncidentBook(
            self.store,
            IncidentTTL(config.incident_ttl, config.open_incident_ttl),
            self.consumer,
            config.lock_lease,
        )
        self.engine = ActionEngine(
            IncidentDesk(book, self.rulebook, self.notifier, self.metrics),
            actions,
            self.adapters,
            runner_config(s.remediation),
            self.consumer,
            authorizers,
        )
        self.pipeline = Pipeline(
            self.store,
            self.rulebook,
            probes,
            actions,
            self.adapters,
            self.notifier,
            self.metrics,
            config,
            owner=self.consumer,
            on_diagnosed=self.engine.run_auto,
            book=book,
        )
        self.restore_offers = RestoreOffers(
            self.engine.incidents,
            self.consumer,
            s.remediation.mitigation_restore_after_seconds,
            marker_ttl=s.store.incident_ttl_seconds,
        )
        self.requests = EngineRequests(
            self.pipeline, self.notifier, self.alertmanager, runner=self.engine
        )
        self.slack_app: SlackApp | None = (
            self.slack.app_for(self.requests) if self.slack is not None else None
        )
        self.workers = [
            Worker(
                self.store,
                self.pipeline,
                self.metrics,
                self.consumer,
                s.queue.claim_idle_seconds,
                s.queue.max_deliveries,
            )
            for _ in range(s.queue.workers)
        ]
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def token(self) -> str | None:
        token = self.settings.http.webhook_token
        return token.get_secret_value() if token else None

    @property
    def degraded_reasons(self) -> list[str]:
        reasons = []
        if isinstance(self.store, ResilientStore) and self.store.degraded_reason:
            reasons.append(f"store: {self.store.degraded_reason}")
        if self.rulebook.last_error:
            reasons.append(
                f"rules: last reload rejected, last good rules kept: {self.rulebook.last_error[0]}"
            )
        return reasons

    async def start(self, watch_rules: bool = True) -> None:
        """Raise RuleLoadError-style SystemExit when the rules are broken at start."""
        if not self.rulebook.reload():
            raise SystemExit("rules failed to load:\n" + "\n".join(self.rulebook.last_error or []))
        if self.token is None:
            log.warning(
                "HONUA_BOT_WEBHOOK_TOKEN is not set: /alerts accepts unauthenticated requests"
            )
        await self.store.start()
        if self.slack is not None:
            await self.slack.start()
        if self.slack_app is not None:
            await self.slack_app.start()
        try:
            await self.engine.recover()
        except Exception as exc:  # reporting old runs must not stop the bot
            log.warning("could not check for interrupted actions", error=str(exc))
        # every worker reclaims (a stuck one must not stall recovery), often enough
        # for the configured idle time, at jittered moments
        reclaim_every = max(0.2, min(5.0, self.settings.queue.claim_idle_seconds / 4))
        self._tasks = [
            asyncio.create_task(w.run(self.stopping, reclaim_every)) for w in self.workers
        ]
        self._tasks.append(asyncio.create_task(self._gauges()))
        self._tasks.append(asyncio.create_task(self._adopt_handed_off()))
        self._tasks.append(asyncio.create_task(self.restore_offers.run(self.stopping)))
        if watch_rules:
            self._tasks.append(asyncio.create_task(self.rulebook.watch(self.stopping)))
        log.info(
            "started",
            consumer=self.consumer,
            workers=len(self.workers),
            store=type(self.store).__name__,
            rules=str(self.rulebook.path),
        )

    async def _adopt_handed_off(self) -> None:
        """Follow the verifications `act --no-wait` handed over (bot/remediation/handoff.py)."""
        every = max(1.0, min(self.settings.remediation.verify_interval_seconds, 5.0))
        while not self.stopping.is_set():
            try:
                await handoff.adopt(self.engine)
            except Exception as exc:
                log.warning("handed-off verifications not checked", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), every)

    async def _gauges(self) -> None:
        while not self.stopping.is_set():
            try:
                self.metrics.queue_depth.set(await self.store.queue_depth())
            except Exception as exc:
                log.warning("queue depth unavailable", error=str(exc))
            self.metrics.degraded.set(1 if self.store.degraded else 0)
            try:
                await asyncio.wait_for(self.stopping.wait(), 2)
            except TimeoutError:
                pass

    async def stop(
        self, grace: float = 10.0, before_close: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        """Stop taking work (``stopping``: readiness fails, intake answers 503), let
        in-flight entries finish within ``grace`` seconds, then run ``before_close``
        (the HTTP server's shutdown, so requests still being answered keep their
        store) and close connections. An entry still running at the deadline is
        cancelled and never acked: it stays pending in the Redis Stream and another
        replica reclaims it after ``claim_idle_seconds``."""
        self.stopping.set()
        if self._tasks:
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
            if pending:
                log.warning(
                    "shutdown grace period over: unfinished entries stay pending for "
                    "another replica",
                    grace=grace,
                    tasks=len(pending),
                )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for worker in self.workers:  # busy entries waiting for a retry stay pending
            await worker.aclose()
        if before_close is not None:
            await before_close()
        await self.engine.aclose()
        if self.slack_app is not None:
            await self.slack_app.aclose()
        if self.slack is not None:
            await self.slack.aclose()
        await self.adapters.aclose()
        await self.store.close()
        log.info("stopped")
