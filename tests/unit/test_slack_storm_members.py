"""A worker killed anywhere while listing an incident in a storm, and the worker
that redoes the alert afterwards, list it exactly once (the line a storm digest
shows). The kill is played by a store that fails every write after the n-th."""

from __future__ import annotations

import pytest

from bot.notify.slack.render import StormMember
from bot.notify.slack.state import SlackState
from bot.store import MemoryStore


class Killed(Exception):
    pass


class DiesAfter(MemoryStore):
    """Every write after the first ``writes`` raises, as if the process had died."""

    def __init__(self, writes: int) -> None:
        super().__init__()
        self.left = writes

    def _write(self) -> None:
        if self.left <= 0:
            raise Killed
        self.left -= 1

    async def set_value(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._write()
        return await super().set_value(*args, **kwargs)

    async def incr(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self._write()
        return await super().incr(*args, **kwargs)


def member(incident: str) -> StormMember:
    return StormMember(
        incident=incident,
        alertname="Storm",
        severity="P3",
        rule="storm",
        scenario="storm",
        resolved=False,
        details_ref="r" * 24,
    )


@pytest.mark.parametrize("writes", range(6))
async def test_killed_while_listing_then_redone_lists_the_incident_once(writes: int) -> None:
    store = DiesAfter(1_000)
    state = SlackState(store, 3600)
    await state.add_member("#c", "storm-1", member("inc-other000001"))  # the storm's first line
    store.left = writes
    try:
        await state.add_member("#c", "storm-1", member("inc-0123456789ab"))
    except Killed:
        pass
    store.left = 1_000
    # the alert is redone by another worker: listed already, or listed now
    if await state.member_of("inc-0123456789ab") is None:
        await state.add_member("#c", "storm-1", member("inc-0123456789ab"))
    else:
        ref = await state.member_of("inc-0123456789ab")
        assert ref is not None
        await state.save_member(ref.storm, ref.seq, member("inc-0123456789ab"))
    listed = [m.incident for _, m in await state.members("storm-1")]
    assert listed.count("inc-0123456789ab") == 1
    assert listed.count("inc-other000001") == 1
