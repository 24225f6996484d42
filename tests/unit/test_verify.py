"""Verification: the rule's validation must hold for its whole ``for`` duration
within the deadline; a reading that breaks the streak starts it again."""

from __future__ import annotations

from collections.abc import Iterator

from bot.adapters.errors import AdapterError
from bot.remediation.verify import verify
from bot.rules.cel import Condition
from bot.rules.schema import Validation


class Clock:
    """Advances ten seconds per reading, so ``for`` and ``within`` are exact."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def readings(clock: Clock, values: list[list[float | None] | Exception]) -> object:
    it: Iterator[list[float | None] | Exception] = iter(values)

    async def query(expr: str) -> list[float | None]:
        clock.now += 10
        value = next(it, values[-1])
        if isinstance(value, Exception):
            raise value
        return value

    return query


def rule(holds: str = "value < 5.0", for_: float = 30, within: float = 120) -> list[Validation]:
    return [Validation("failure_rate", Condition.compile(holds), for_, within)]


async def test_holds_once_the_condition_held_for_the_whole_duration() -> None:
    clock = Clock()
    query = readings(clock, [[12.0], [4.0], [3.0], [2.0], [1.0]])
    result = await verify(rule(), query, 0.001, clock)  # type: ignore[arg-type]
    assert result.ok, result.message
    assert result.seconds == 40  # first good reading at 20 s, held until 50 s
    assert "failure_rate` = 1" in result.message


async def test_a_bad_reading_restarts_the_streak_and_the_deadline_fails_it() -> None:
    clock = Clock()
    query = readings(clock, [[4.0], [3.0], [9.0], [4.0], [6.0]])
    result = await verify(rule(within=60), query, 0.001, clock)  # type: ignore[arg-type]
    assert not result.ok
    assert "did not hold within 60 s" in result.message and "= 6" in result.message


async def test_every_sample_must_hold_and_no_data_is_null() -> None:
    clock = Clock()
    result = await verify(rule(for_=0), readings(clock, [[1.0, 7.0]]), 0.001, clock)  # type: ignore[arg-type]
    assert not result.ok
    clock = Clock()
    nulls = rule("value == null || value < 5.0", for_=0)
    assert (await verify(nulls, readings(clock, [[]]), 0.001, clock)).ok  # type: ignore[arg-type]


async def test_a_target_error_is_reported_not_raised() -> None:
    clock = Clock()
    query = readings(clock, [AdapterError("connection refused: prometheus 127.0.0.1:1")])
    result = await verify(rule(within=30), query, 0.001, clock)  # type: ignore[arg-type]
    assert not result.ok and "connection refused: prometheus" in result.message


async def test_no_validation_means_nothing_to_check() -> None:
    result = await verify([], readings(Clock(), [[1.0]]), 0.001)  # type: ignore[arg-type]
    assert result.ok and "no validation" in result.message


async def test_each_poll_reports_the_value_the_target_and_how_long_it_held() -> None:
    clock = Clock()
    values = [[12.0], [4.0], [3.2], [2.0]]
    polls: list[list[str]] = []

    async def query(expr: str) -> list[float | None]:
        clock.now += 60
        return values.pop(0)

    async def progress(lines: list[str]) -> None:
        polls.append(lines)

    result = await verify(rule(for_=120, within=600), query, 0.001, clock, progress)
    assert result.ok
    assert [p[0] for p in polls] == [
        "`failure_rate` = 12 (target value < 5.0): not holding yet",
        "`failure_rate` = 4 (target value < 5.0): held 0 s of 2 min",
        "`failure_rate` = 3.2 (target value < 5.0): held 1 min of 2 min",
        "`failure_rate` = 2 (target value < 5.0): held 2 min of 2 min",
    ]


async def test_a_failing_progress_display_does_not_end_the_verification() -> None:
    clock = Clock()

    async def broken(lines: list[str]) -> None:
        raise RuntimeError("slack down")

    result = await verify(rule(for_=0), readings(clock, [[1.0]]), 0.001, clock, broken)  # type: ignore[arg-type]
    assert result.ok
