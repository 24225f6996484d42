"""Wires settings into a running bot: store, adapters, rules, pipeline, workers."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

from bot.adapters import Adapters
from bot.config import Settings
from bot.engine.pipeline import Pipeline, PipelineConfig
from bot.engine.requests_impl import EngineRequests
from bot.engine.rulebook import Rulebook
from bot.engine.runner import ActionEngine
from bot.engine.runner_config import runner_config
from bot.engine.worker import Worker
from bot.logs import get_logger, register_secret, register_url_credentials
from bot.metrics import Metrics
from bot.notify import ConsoleNotifier, FanOut, Notifier
from bot.notify.slack import SlackIntegration
from bot.registry import actions, probes
from bot.store import ResilientStore, Store, build_store

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
            settings.webhook_token,
            settings.redis_url,
            settings.target_redis_url,
            settings.postgres_dsn,
            settings.admin_token,
        ):
            register_secret(secret.get_secret_value() if secret else None)
        for url in (
            settings.prometheus_url,
            settings.process_api_url,
            settings.alertmanager_url,
            settings.slack_api_url,
            *(
                s.get_secret_value() if s else None
                for s in (settings.redis_url, settings.target_redis_url, settings.postgres_dsn)
            ),
        ):
            register_url_credentials(url)
        self.settings = settings
        self.metrics = Metrics()
        self.metrics.known_actions([entry.name for entry in actions])
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        self.store = store or build_store(
            redis_url, settings.memory_queue_size, settings.redis_check_interval
        )
        self.adapters = Adapters.from_settings(settings)
        self.rulebook = Rulebook(settings.resolved_rules_dir(), probes, actions, self.metrics)
        self.notifier: Notifier = notifier or (
            ConsoleNotifier() if settings.console_notifier else FanOut([])
        )
        # Slack when a bot token is set, beside the console (or given) notifier
        self.slack = SlackIntegration(settings, self.store) if settings.slack_bot_token else None
        if self.slack is not None:
            self.notifier = FanOut([self.notifier, self.slack.notifier])
            errors = self.metrics.slack_errors
            self.slack.notifier.on_failure = lambda method: errors.labels(method).inc()
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.pipeline = Pipeline(
            self.store,
            self.rulebook,
            probes,
            actions,
            self.adapters,
            self.notifier,
            self.metrics,
            PipelineConfig(
                settings.probe_timeout,
                settings.incident_ttl_seconds,
                settings.open_incident_ttl_seconds,
            ),
            owner=self.consumer,
        )
        self.alertmanager = self.adapters.alertmanager_client
        self.engine = ActionEngine(
            self.pipeline, actions, self.adapters, runner_config(settings), self.consumer
        )
        self.pipeline.on_diagnosed = self.engine.run_auto
        self.requests = EngineRequests(
            self.pipeline, self.notifier, self.alertmanager, runner=self.engine
        )
        if self.slack is not None:
            self.slack.attach(self.requests)
        self.workers = [
            Worker(
                self.store,
                self.pipeline,
                self.metrics,
                self.consumer,
                settings.claim_idle_seconds,
                settings.max_deliveries,
            )
            for _ in range(settings.workers)
        ]
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def token(self) -> str | None:
        return (
            self.settings.webhook_token.get_secret_value() if self.settings.webhook_token else None
        )

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
        try:
            await self.engine.recover()
        except Exception as exc:  # reporting old runs must not stop the bot
            log.warning("could not check for interrupted actions", error=str(exc))
        # every worker reclaims (a stuck one must not stall recovery), often enough
        # for the configured idle time, at jittered moments
        reclaim_every = max(0.2, min(5.0, self.settings.claim_idle_seconds / 4))
        self._tasks = [
            asyncio.create_task(w.run(self.stopping, reclaim_every)) for w in self.workers
        ]
        self._tasks.append(asyncio.create_task(self._gauges()))
        if watch_rules:
            self._tasks.append(asyncio.create_task(self.rulebook.watch(self.stopping)))
        log.info(
            "started",
            consumer=self.consumer,
            workers=len(self.workers),
            store=type(self.store).__name__,
            rules=str(self.rulebook.path),
        )

    async def _gauges(self) -> None:
        while not self.stopping.is_set():
            try:
                self.metrics.queue_depth.set(await self.store.queue_depth())
            except Exception as exc:
                log.warning("queue depth unavailable", error=str(exc))
            degraded = isinstance(self.store, ResilientStore) and self.store.degraded
            self.metrics.degraded.set(1 if degraded else 0)
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
        if before_close is not None:
            await before_close()
        await self.engine.aclose()
        if self.slack is not None:
            await self.slack.aclose()
        await self.adapters.aclose()
        await self.store.close()
        log.info("stopped")
