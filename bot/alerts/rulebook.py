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
LOAD_BUDGET = 10.0  # seconds a reload may take before it is rejected


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
        self._lock = asyncio.Lock()  # one load at a time (the watcher and SIGHUP)

    def __call__(self) -> RuleSet:
        return self.current

    def reload(self) -> bool:
        try:
            rules = load_rules(self.path, self.probes, self.actions)
        except RuleLoadError as exc:
            return self._rejected(exc.errors)
        except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
            raise
        except BaseException as exc:  # a library's panic, a bug: the watcher must live on
            return self._rejected([f"{self.path}: loading failed: {type(exc).__name__}: {exc}"])
        return self._apply(rules)

    async def reload_async(self, budget: float = LOAD_BUDGET) -> bool:
        """Load off the event loop, within ``budget`` seconds (``/healthz`` and
        the workers keep running meanwhile). Past the budget the result is
        ignored: the load thread cannot be stopped, but nothing waits for it."""
        async with self._lock:
            try:
                rules = await asyncio.wait_for(
                    asyncio.to_thread(load_rules, self.path, self.probes, self.actions), budget
                )
            except RuleLoadError as exc:
                return self._rejected(exc.errors)
            except TimeoutError:
                return self._rejected([f"{self.path}: loading took more than {budget:g} s"])
            except (KeyboardInterrupt, SystemExit, asyncio.CancelledError):
                raise
            except BaseException as exc:
                msg = f"{self.path}: loading failed: {type(exc).__name__}: {exc}"
                return self._rejected([msg])
            return self._apply(rules)

    def _rejected(self, errors: list[str]) -> bool:
        self.last_error = errors
        if self.metrics:
            self.metrics.rules_reload_errors.inc()
            self.metrics.rules_reload_failing.set(1)
        log.error(
            "rules rejected; keeping the last good rules" if self.loaded else "rules rejected",
            path=str(self.path),
            errors=errors[:20],
        )
        return False

    def _apply(self, rules: RuleSet) -> bool:
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
            await self.reload_async()
