"""The rules in force, and their hot reload.

A reload that fails keeps the last good rules and records why; ``/readyz`` and
the log say so until a good edit lands.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.logs import get_logger
from bot.metrics import Metrics
from bot.registry import Registry
from bot.rules import RuleLoadError, RuleSet, load_rules

log = get_logger("rules")


class Rulebook:
    def __init__(
        self, path: Path, probes: Registry, actions: Registry, metrics: Metrics | None = None
    ) -> None:
        self.path = path
        self.probes = probes
        self.actions = actions
        self.metrics = metrics
        self.current = RuleSet()
        self.loaded = False
        self.last_error: list[str] | None = None

    def __call__(self) -> RuleSet:
        return self.current

    def reload(self) -> bool:
        try:
            rules = load_rules(self.path, self.probes, self.actions)
        except RuleLoadError as exc:
            self.last_error = exc.errors
            if self.metrics:
                self.metrics.rules_reload_errors.inc()
                self.metrics.rules_reload_failing.set(1)
            log.error(
                "rules rejected; keeping the last good rules" if self.loaded else "rules rejected",
                path=str(self.path),
                errors=exc.errors,
            )
            return False
        self.current, self.loaded, self.last_error = rules, True, None
        if self.metrics:
            self.metrics.rules_loaded.set(len(rules.rules))
            self.metrics.rules_reload_failing.set(0)
        log.info("rules loaded", path=str(self.path), rules=[r.name for r in rules.rules])
        return True

    async def watch(self, stop: asyncio.Event) -> None:
        """Reload whenever a rule file changes (debounced by watchfiles)."""
        from watchfiles import awatch

        target = self.path if self.path.is_dir() else self.path.parent
        async for _ in awatch(target, stop_event=stop, debounce=300, recursive=False):
            self.reload()
