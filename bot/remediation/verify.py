"""Did the fix work? The rule's validation (PromQL, a CEL condition over each
sample's ``value``, held ``for`` a duration) is polled until every check has held
long enough, or until the deadline says it did not."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.errors import AdapterError
from bot.polling import poll_until
from bot.rules.cel import ConditionError
from bot.rules.schema import Validation

# values are numbers from Prometheus, or strings from the process API (verify_process)
Query = Callable[[str], Awaitable[list[Any]]]


@dataclass
class Check:
    """One validation's latest reading."""

    expr: str
    holds: bool = False
    values: list[Any] = field(default_factory=list)
    error: str = ""
    held_since: float | None = None

    def text(self) -> str:
        if self.error:
            return f"`{self.expr}`: {self.error}"
        shown = ", ".join(_shown(v) for v in self.values) or "no data"
        return f"`{self.expr}` = {shown}"


@dataclass
class VerificationResult:
    ok: bool
    message: str
    checks: list[Check] = field(default_factory=list)
    seconds: float = 0.0


def _shown(value: Any) -> str:
    if value is None:
        return "no data"
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def evaluate(validation: Validation, values: list[Any]) -> tuple[bool, str]:
    """Every sample must satisfy the condition; no samples is evaluated as ``null``."""
    try:
        for value in values or [None]:
            if not validation.holds.evaluate({"value": value}):
                return False, ""
    except ConditionError as exc:
        return False, f"condition not evaluated: {exc}"
    return True, ""


async def verify(
    validations: Sequence[Validation],
    query: Query,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
) -> VerificationResult:
    if not validations:
        return VerificationResult(True, "the rule defines no validation; nothing to check")
    start = clock()
    deadline = start + max(v.within_seconds for v in validations)
    checks = [Check(v.expr) for v in validations]
    now = start

    async def held() -> bool:
        nonlocal now
        now = clock()
        for v, check in zip(validations, checks, strict=True):
            try:
                check.values = await query(v.expr)
                check.holds, check.error = evaluate(v, check.values)
            except AdapterError as exc:
                check.holds, check.error = False, str(exc)
            check.held_since = (check.held_since or now) if check.holds else None
        return all(
            c.held_since is not None and now - c.held_since >= v.for_seconds
            for v, c in zip(validations, checks, strict=True)
        )

    if await poll_until(held, deadline - start, interval, clock):
        readings = "; ".join(c.text() for c in checks)
        return VerificationResult(True, f"validation held: {readings}", checks, now - start)
    failing = [c for c in checks if not c.holds] or checks
    readings = "; ".join(c.text() for c in failing)
    return VerificationResult(
        False,
        f"validation did not hold within {deadline - start:g} s: {readings}",
        checks,
        now - start,
    )
