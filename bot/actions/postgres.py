"""PostgreSQL steps (Runbook 8): terminate sessions left idle, never the bot's own."""

from __future__ import annotations

from pydantic import Field, field_validator

from bot.actions.base import Action, ActionContext, ActionParams, Change, Outcome, Plan, Refused
from bot.actions.common import dry_run_outcome, human_seconds
from bot.adapters.postgres import SESSION_STATES, PostgresClient, Session
from bot.polling import poll_until
from bot.registry import actions
from bot.rules.durations import Duration

# how long terminated backends may take to leave pg_stat_activity before the outcome says so
GONE_WAIT_SECONDS = 5.0


class TerminateIdle(ActionParams):
    older_than: Duration = Field(default=600, description="idle (in this state) longer than this")
    database: str | None = Field(default=None, description="default: the bot's database")
    user: str | None = Field(default=None, description="only this user's sessions")
    state: str = Field(default="idle", description="idle, or idle in transaction")

    @field_validator("state")
    @classmethod
    def _known_state(cls, value: str) -> str:
        if value not in SESSION_STATES:
            raise ValueError(f"state must be one of {', '.join(SESSION_STATES)}")
        return value


def session_line(s: Session) -> str:
    return (
        f"pid {s.pid} user {s.user or '?'} app {s.application or '-'} "
        f"db {s.database or '?'}: {s.state} for {human_seconds(s.idle_seconds)}"
    )


def _filter_text(params: TerminateIdle) -> str:
    text = f"sessions {params.state} longer than {human_seconds(params.older_than)}"
    text += f" in database {params.database}" if params.database else " in the bot's database"
    return text + (f" of user {params.user}" if params.user else "")


@actions.register("postgres.terminate_idle")
class TerminateIdleSessions(Action[TerminateIdle]):
    """Terminate PostgreSQL sessions idle longer than a threshold (pg_terminate_backend)."""

    destructive = True

    def describe(self, params: TerminateIdle) -> str:
        return f"terminate PostgreSQL {_filter_text(params)}"

    async def plan(self, params: TerminateIdle, ctx: ActionContext) -> Plan:
        pg = ctx.adapters.postgres
        found = await pg.sessions(params.older_than, params.state, params.database, params.user)
        cap = ctx.limits.max_processes
        if len(found) > cap:
            raise Refused(
                "blast_radius",
                f"{len(found)} {_filter_text(params)}, more than the limit of {cap}; "
                "narrow with user, database or a longer older_than",
            )
        if not found:
            raise Refused("not_found", f"no {_filter_text(params)}")
        return Plan(
            summary=f"terminate {len(found)} {_filter_text(params)} on {pg.where}",
            target=f"postgres/{params.database or pg.database or 'default'}",
            changes=[Change(f"backend {s.pid}", "state", s.state, "terminated") for s in found],
            warnings=[session_line(s) for s in found],
            state={"pids": [s.pid for s in found]},
        )

    async def execute(self, params: TerminateIdle, ctx: ActionContext, plan: Plan) -> Outcome:
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        pg = ctx.adapters.postgres
        planned: list[int] = list(plan.state.get("pids", []))  # only what the plan showed
        if len(planned) > ctx.limits.max_processes:
            raise Refused("blast_radius", f"{len(planned)} sessions exceed the limit")
        signalled = await pg.terminate(
            planned, params.older_than, params.state, params.database, params.user
        )
        remaining = await _wait_gone(pg, signalled, ctx.poll_interval)
        spared = sorted(set(planned) - set(signalled))
        message = f"terminated {len(signalled)} of {len(planned)} {_filter_text(params)}"
        if spared:
            message += f"; {len(spared)} no longer matched (busy again or gone)"
        if remaining:
            message += f"; {len(remaining)} still present after {human_seconds(GONE_WAIT_SECONDS)}"
        return Outcome(
            ok=not remaining,
            message=message,
            changes=[
                Change(f"backend {p}", "state", params.state, "terminated") for p in signalled
            ],
            details={"terminated": signalled, "spared": spared, "still_present": remaining},
        )


async def _wait_gone(pg: PostgresClient, pids: list[int], poll: float) -> list[int]:
    """Backends leave pg_stat_activity a moment after the signal; wait for that."""
    remaining = pids

    async def all_gone() -> bool:
        nonlocal remaining
        remaining = await pg.alive(remaining)
        return not remaining

    await poll_until(all_gone, GONE_WAIT_SECONDS, min(poll, 0.2))
    return remaining
