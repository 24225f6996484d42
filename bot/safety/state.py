"""Safety gates whose state lives in the store, so every replica sees the same
cooldowns, hourly counts, breakers, approvals and kill switch, and a restart
forgets none of them.

The decisions themselves are plain functions over numbers and lists
(:func:`cooldown_remaining`, :func:`valid_approvals`); :class:`SafetyState` only
reads and writes the store.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from bot.store import keys
from bot.store.base import Store


@dataclass(frozen=True)
class Approval:
    who: str
    at: float  # epoch seconds


@dataclass(frozen=True)
class GateConfig:
    paused: bool = False  # the config's kill switch (the store's can also pause)
    approval_ttl: float = 900.0
    breaker_failures: int = 2
    breaker_window: float = 86400.0
    rule_runs_per_hour: int = 10
    default_cooldown: float = 300.0


# pure decisions --------------------------------------------------------------------
def cooldown_remaining(until: float | None, now: float) -> float:
    """Seconds until the target may be acted on again (0: it may)."""
    return max(0.0, until - now) if until else 0.0


def valid_approvals(approvals: list[Approval], now: float, ttl: float) -> list[Approval]:
    """Distinct people whose approval is younger than ``ttl`` (latest per person)."""
    latest: dict[str, Approval] = {}
    for a in approvals:
        if now - a.at <= ttl and (a.who not in latest or a.at > latest[a.who].at):
            latest[a.who] = a
    return sorted(latest.values(), key=lambda a: a.at)


def same_channel_approvals(approvals: list[Approval], who: str) -> list[Approval]:
    """The approvals that count with ``who``'s: those given through the same channel
    (``slack:``, ``cli:``). A Slack user id and a shell user name cannot be told
    apart as people, so ``slack:U0ALICE`` and ``cli:alice`` never make two."""
    channel = who.split(":", 1)[0]
    return [a for a in approvals if a.who.split(":", 1)[0] == channel]


# store-backed state ----------------------------------------------------------------
class SafetyState:
    def __init__(self, store: Store, config: GateConfig) -> None:
        self.store = store
        self.config = config

    # kill switch
    async def paused(self) -> str:
        """Why automatic actions are stopped, or "" when they are not."""
        if self.config.paused:
            return "paused by configuration (HONUA_BOT_PAUSED)"
        raw = await self.store.get_value(keys.PAUSED)
        if raw:
            data = json.loads(raw)
            return f"paused by {data.get('by', '?')}: {data.get('reason') or 'no reason given'}"
        return ""

    async def pause(self, by: str, reason: str = "") -> None:
        await self.store.set_value(
            keys.PAUSED, json.dumps({"by": by, "reason": reason, "at": time.time()})
        )

    async def resume(self) -> None:
        await self.store.delete_value(keys.PAUSED)

    # per-target cooldown
    @staticmethod
    def _cooldown_key(action_type: str, target: str) -> str:
        return keys.cooldown(action_type, target)

    async def cooldown_remaining(self, action_type: str, target: str) -> float:
        raw = await self.store.get_value(self._cooldown_key(action_type, target))
        return cooldown_remaining(float(raw) if raw else None, time.time())

    async def start_cooldown(self, action_type: str, target: str, seconds: float) -> None:
        if seconds > 0:
            until = time.time() + seconds
            await self.store.set_value(self._cooldown_key(action_type, target), str(until), seconds)

    # per-rule runs per hour (a fixed window keyed by the hour)
    @staticmethod
    def _rate_key(rule: str, action: str) -> str:
        return keys.hourly_runs(rule, action, int(time.time() // 3600))

    async def runs_this_hour(self, rule: str, action: str = "*") -> int:
        raw = await self.store.get_value(self._rate_key(rule, action))
        return int(raw) if raw else 0

    async def count_run(self, rule: str, action: str) -> None:
        for key in (self._rate_key(rule, action), self._rate_key(rule, "*")):
            await self.store.incr(key, 3600)

    # circuit breaker: failed verifications of an action on a target
    @staticmethod
    def _breaker_key(action_type: str, target: str) -> str:
        return keys.breaker(action_type, target)

    async def breaker_failures(self, action_type: str, target: str) -> int:
        raw = await self.store.get_value(self._breaker_key(action_type, target))
        return int(raw) if raw else 0

    async def breaker_open(self, action_type: str, target: str) -> bool:
        failures = await self.breaker_failures(action_type, target)
        return failures >= self.config.breaker_failures

    async def record_verification(self, action_type: str, target: str, ok: bool) -> int:
        key = self._breaker_key(action_type, target)
        if ok:
            await self.store.delete_value(key)
            return 0
        return await self.store.incr(key, self.config.breaker_window)

    # approvals (callers hold the incident+action lock while they change them)
    @staticmethod
    def _approvals_key(incident: str, action: str) -> str:
        return keys.approvals(incident, action)

    async def approvals(self, incident: str, action: str) -> list[Approval]:
        raw = await self.store.get_value(self._approvals_key(incident, action))
        found = [Approval(**a) for a in json.loads(raw)] if raw else []
        return valid_approvals(found, time.time(), self.config.approval_ttl)

    async def approve(self, incident: str, action: str, who: str) -> list[Approval]:
        now = time.time()
        current = [*await self.approvals(incident, action), Approval(who, now)]
        current = valid_approvals(current, now, self.config.approval_ttl)
        body = json.dumps([{"who": a.who, "at": a.at} for a in current])
        await self.store.set_value(
            self._approvals_key(incident, action), body, self.config.approval_ttl
        )
        return current

    async def clear_approvals(self, incident: str, action: str) -> None:
        await self.store.delete_value(self._approvals_key(incident, action))
