"""Did the fix work? The rule's validation (PromQL, a CEL condition over each
sample's ``value``, held ``for`` a duration) is polled until every check has held
long enough, or until the deadline says it did not."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.adapters.errors import AdapterError
from bot.logs import get_logger
from bot.polling import poll_until
from bot.rules.cel import ConditionError
from bot.rules.schema import Validation

log = get_logger("verify")
# values are numbers from Prometheus, or strings from the process API (verify_process)
Query = Callable[[str], Awaitable[list[Any]]]
Progress = Callable[[list[str]], Awaitable[None]]  # one line per validation, after each poll


def minutes(seconds: float) -> str:
    """``240`` → ``4 min``; under a minute in seconds (``45 s``)."""
    return f"{seconds:.0f} s" if seconds < 60 else f"{seconds / 60:.0f} min"


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


def progress_line(validation: Validation, check: Check, now: float) -> str:
    """``failure rate = 3.2 (target value < 5.0): held 4 of 10 min`` — what the
    engineer watches while a fix is verified."""
    target = f"target {validation.holds.source}"
    if check.error:
        return f"{check.text()} ({target}): {check.error}"
    if check.held_since is None:
        state = "not holding yet"
    elif validation.for_seconds:
        held = min(now - check.held_since, validation.for_seconds)
        state = f"held {minutes(held)} of {minutes(validation.for_seconds)}"
    else:
        state = "holds"
    return f"{check.text()} ({target}): {state}"


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
    progress: Progress | None = None,
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
        if progress is not None:
            lines = [progress_line(v, c, now) for v, c in zip(validations, checks, strict=True)]
            try:
                await progress(lines)
            except Exception as exc:  # showing progress must never end the verification
                log.warning("verification progress not shown", error=str(exc))
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
