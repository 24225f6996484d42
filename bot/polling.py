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
) -> T:
    """The first truthy answer of ``check``, or its last (falsy) answer once the
    deadline has passed. ``check`` runs at least once; the last wait is cut short
    so the deadline is not overshot by a whole interval."""
    deadline = clock() + timeout
    while True:
        answer = await check()
        remaining = deadline - clock()
        if answer or remaining <= 0:
            return answer
        await asyncio.sleep(min(interval, remaining))
