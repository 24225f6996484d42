"""Monitored-Redis steps (Runbook 3's persistence checks): a background save."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from pydantic import Field

from bot.actions.base import Action, ActionContext, ActionParams, Change, Outcome, Plan
from bot.actions.common import dry_run_outcome, human_seconds
from bot.polling import poll_until
from bot.registry import actions
from bot.rules.durations import Duration


class BgSave(ActionParams):
    wait: Duration = Field(default=60, gt=0, description="how long to wait for the save to finish")


def save_finished(before: int, lastsave: int, in_progress: bool) -> bool:
    """The save is over once LASTSAVE moved past ``before``, or once no save is in
    progress: BGSAVE answered only with a child running (its own, or one already
    running), and LASTSAVE has one-second resolution, so it may not move for a save
    in the same second as the previous one."""
    return lastsave > before or not in_progress


def _at(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if ts else "never"


@actions.register("redis.bgsave")
class BackgroundSave(Action[BgSave]):
    """Save the monitored Redis's dataset to disk now (BGSAVE) and wait for it."""

    def describe(self, params: BgSave) -> str:
        return f"BGSAVE the target Redis, wait up to {human_seconds(params.wait)}"

    async def plan(self, params: BgSave, ctx: ActionContext) -> Plan:
        redis = ctx.adapters.target_redis
        persistence = await redis.persistence()
        memory = await redis.memory()
        keys = await redis.dbsize()
        warnings = []
        if persistence.rdb_bgsave_in_progress:
            warnings.append("a background save is already running; the action waits for it")
        if persistence.rdb_last_bgsave_status not in ("ok", ""):
            warnings.append(
                f"the last background save failed ({persistence.rdb_last_bgsave_status})"
            )
        return Plan(
            summary=(
                f"BGSAVE {redis.where}: last save {_at(persistence.rdb_last_save_time)} "
                f"({human_seconds(persistence.last_save_age_seconds)} ago, "
                f"{persistence.rdb_changes_since_last_save} changes since); "
                f"{keys} keys, {memory.used_memory_human or memory.used_memory} in memory"
            ),
            target="redis",
            changes=[
                Change(
                    f"redis {redis.where}",
                    "last save",
                    _at(persistence.rdb_last_save_time),
                    "now",
                )
            ],
            warnings=warnings,
            state={"last_save": persistence.rdb_last_save_time, "keys": keys},
        )

    async def execute(self, params: BgSave, ctx: ActionContext, plan: Plan) -> Outcome:
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        redis = ctx.adapters.target_redis
        loop = asyncio.get_running_loop()
        before = await redis.lastsave()
        began = loop.time()
        started = await redis.bgsave()
        # one INFO snapshot for both: a LASTSAVE read before it could predate a save
        # that ended in between, reported as "finished" with a stale time
        persistence = await poll_until(
            redis.persistence,
            params.wait,
            ctx.poll_interval,
            clock=loop.time,
            done=lambda p: save_finished(before, p.rdb_last_save_time, p.rdb_bgsave_in_progress),
        )
        lastsave = persistence.rdb_last_save_time
        took = loop.time() - began
        if not save_finished(before, lastsave, persistence.rdb_bgsave_in_progress):
            return Outcome(
                ok=False,
                message=(
                    f"BGSAVE on {redis.where} still running after {human_seconds(params.wait)}"
                    f" (last save {_at(lastsave)})"
                ),
                details={"last_save": lastsave, "timed_out": True},
            )
        ok = persistence.rdb_last_bgsave_status == "ok"
        details = {
            "last_save_before": before,
            "last_save": lastsave,
            "status": persistence.rdb_last_bgsave_status,
            "seconds": round(took, 2),
            "started_here": started,
        }
        if not ok:
            return Outcome(
                ok=False,
                message=(
                    f"BGSAVE on {redis.where} failed (rdb_last_bgsave_status "
                    f"{persistence.rdb_last_bgsave_status}); see the Redis log"
                ),
                details=details,
            )
        return Outcome(
            ok=True,
            message=f"BGSAVE on {redis.where} finished in {human_seconds(took)} (last save {_at(lastsave)})",
            changes=[Change(f"redis {redis.where}", "last save", _at(before), _at(lastsave))],
            details=details,
        )
