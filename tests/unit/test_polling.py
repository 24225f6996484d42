"""The one way the bot waits for something: poll until done or a deadline, and
retry with backoff until an attempt succeeds."""

from __future__ import annotations

import asyncio

import pytest

from bot.polling import poll_until, until_true


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_poll_until_returns_the_first_done_answer() -> None:
    clock = FakeClock()
    answers = iter([None, None, "ready", "later"])

    async def check() -> str | None:
        clock.now += 1
        return next(answers)

    assert await poll_until(check, 10, 0, clock) == "ready"


async def test_poll_until_gives_the_last_answer_once_the_deadline_passed() -> None:
    clock = FakeClock()
    reads: list[float] = []

    async def check() -> int:
        clock.now += 2
        reads.append(clock.now)
        return 0

    assert await poll_until(check, 5, 0, clock) == 0
    assert reads == [2, 4, 6]  # at least once, and not past the deadline by a whole read more


async def test_poll_until_done_decides_instead_of_truthiness() -> None:
    clock = FakeClock()
    values = iter([3, 2, 1, 0, -1])

    async def check() -> int:
        clock.now += 1
        return next(values)

    # 0 is falsy but it is the answer waited for
    assert await poll_until(check, 10, 0, clock, done=lambda v: v <= 0) == 0


async def test_until_true_retries_until_an_attempt_succeeds() -> None:
    results = iter([False, False, False, True])
    calls = 0

    async def attempt() -> bool:
        nonlocal calls
        calls += 1
        return next(results)

    await until_true(attempt, first_delay=0.001, max_delay=0.002)
    assert calls == 4


async def test_until_true_stops_when_cancelled() -> None:
    calls = 0
    tried = asyncio.Event()

    async def attempt() -> bool:
        nonlocal calls
        calls += 1
        tried.set()
        return False

    task = asyncio.create_task(until_true(attempt, first_delay=30, max_delay=60))
    await tried.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == 1  # waiting its backoff, not hammering
