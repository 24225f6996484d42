"""One way to wait for something with a deadline: ask every ``interval`` seconds
until the answer is truthy or ``timeout`` seconds have passed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll_until(
    check: Callable[[], Awaitable[T]],
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    done: Callable[[T], object] = bool,
) -> T:
    """The first answer of ``check`` that is ``done`` (truthy, unless told
    otherwise), or its last answer once the deadline has passed. ``check`` runs at
    least once; the last wait is cut short so the deadline is not overshot by a
    whole interval."""
    deadline = clock() + timeout
    while True:
        answer = await check()
        remaining = deadline - clock()
        if done(answer) or remaining <= 0:
            return answer
        await asyncio.sleep(min(interval, remaining))


async def until_true(
    attempt: Callable[[], Awaitable[bool]], first_delay: float = 1.0, max_delay: float = 60.0
) -> None:
    """Call ``attempt`` until it answers True, waiting ``first_delay`` seconds after
    the first failure and twice as long after each next one, up to ``max_delay``.
    It never gives up by itself: cancel the task to stop it. ``attempt`` logs its
    own failures (it knows what failed)."""
    from tenacity import AsyncRetrying, retry_if_result, wait_exponential

    retrying = AsyncRetrying(
        wait=wait_exponential(multiplier=first_delay, max=max_delay),
        retry=retry_if_result(lambda ok: not ok),
    )
    await retrying(attempt)
