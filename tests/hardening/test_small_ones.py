"""Item 12: the small ones."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.base import ActionContext
from bot.adapters.target_redis import RedisPersistence
from bot.models import Alert, Incident
from bot.notify import ConsoleNotifier
from bot.notify.base import Event
from bot.registry import actions

BASE = RedisPersistence(
    rdb_last_save_time=100,
    rdb_last_bgsave_status="ok",
    rdb_changes_since_last_save=5,
    rdb_bgsave_in_progress=False,
    aof_enabled=False,
    aof_last_write_status="ok",
    last_save_age_seconds=60,
)


class SaveEndsBetweenCalls:
    """A target Redis whose BGSAVE ends right after a LASTSAVE read: LASTSAVE
    still says 100, INFO just after says the save (at 107) is over."""

    where = "fake-redis:6379"

    def __init__(self) -> None:
        self.saved = False

    async def lastsave(self) -> int:
        return 107 if self.saved else 100

    async def bgsave(self) -> bool:
        return True

    async def persistence(self) -> RedisPersistence:
        self.saved = True  # the save ends just before INFO answers
        return replace(BASE, rdb_last_save_time=107)

    async def info_keys(self) -> int:
        return 0


async def test_bgsave_reports_the_save_that_finished_not_a_stale_lastsave() -> None:
    class Adapters:
        target_redis: Any = SaveEndsBetweenCalls()

    entry = actions.get("redis.bgsave")
    assert entry is not None
    params = entry.params_model.model_validate({"wait": "5s"})
    ctx = ActionContext(adapters=Adapters(), poll_interval=0.01)  # type: ignore[arg-type]
    from bot.actions.base import Plan

    outcome = await entry.impl.execute(params, ctx, Plan(summary="BGSAVE", target="redis"))
    assert outcome.ok, outcome.message
    assert outcome.details["last_save"] == 107, outcome.details


async def test_control_characters_from_labels_do_not_reach_the_console() -> None:
    alert = Alert.model_validate(
        {
            "status": "firing",
            "labels": {"alertname": "A\x1b[2J\x00[/]", "pod": "p\x1b]0;pwn\x07"},
            "annotations": {"summary": "s\x1b[31mred\x00\x9b"},
            "startsAt": "2026-01-01T00:00:00Z",
            "generatorURL": "http://x/\x1b[2J",
        }
    )
    out = io.StringIO()
    await ConsoleNotifier(stream=out, width=160).notify(Incident.from_alert(alert), Event.RESOLVED)
    text = out.getvalue()
    assert "\\x1b[2J" in text  # shown, escaped
    for raw in ("\x1b", "\x00", "\x07", "\x9b"):
        assert raw not in text
