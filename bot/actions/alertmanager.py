"""Alertmanager steps: silence the alert's exact label set, and expire a silence
(the silence's undo)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import Field

from bot.actions.base import (
    Action,
    ActionContext,
    ActionParams,
    Change,
    Outcome,
    Plan,
    Refused,
    UndoSpec,
)
from bot.actions.common import dry_run_outcome, human_seconds
from bot.adapters.alertmanager import SilenceNotFound
from bot.registry import actions
from bot.rules.durations import Duration

MAX_SILENCE_SECONDS = 7 * 86400


class Silence(ActionParams):
    duration: Duration = Field(default=3600, gt=0, le=MAX_SILENCE_SECONDS)
    comment: str = "silenced from honua-bot"


class ExpireSilence(ActionParams):
    silence_id: str = Field(min_length=1, description="the id Alertmanager gave the silence")


def matchers_text(labels: dict[str, str]) -> str:
    """``{alertname="X", namespace="y"}``: the matchers as Alertmanager shows them."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def silence_target(labels: dict[str, str]) -> str:
    """One gate key per exact label set: two alerts of one name are two targets."""
    digest = hashlib.sha256(matchers_text(labels).encode()).hexdigest()[:12]
    return f"alertmanager/{labels.get('alertname', 'alert')}/{digest}"


def silence_comment(comment: str, incident_id: str) -> str:
    return f"{comment} (incident {incident_id})" if incident_id else comment


def _labels(ctx: ActionContext) -> dict[str, str]:
    labels = {k: v for k, v in ctx.labels.items() if k}
    if not labels:
        raise Refused(
            "blast_radius",
            "the alert has no labels: a silence without matchers would silence every alert",
        )
    return labels


@actions.register("alertmanager.silence")
class SilenceAlert(Action[Silence]):
    """Silence the alert's exact label set for a while."""

    def describe(self, params: Silence) -> str:
        return f"silence this alert for {human_seconds(params.duration)}"

    async def plan(self, params: Silence, ctx: ActionContext) -> Plan:
        labels = _labels(ctx)
        ends = datetime.now(UTC) + timedelta(seconds=params.duration)
        return Plan(
            summary=(
                f"silence {matchers_text(labels)} for {human_seconds(params.duration)} "
                f"(until about {ends:%Y-%m-%d %H:%M} UTC)"
            ),
            target=silence_target(labels),
            changes=[Change("alertmanager", "silence", None, matchers_text(labels))],
            state={"ends_at": ends.isoformat()},
        )

    async def execute(self, params: Silence, ctx: ActionContext, plan: Plan) -> Outcome:
        labels = _labels(ctx)
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        # the silence runs from now, not from when the plan was shown
        starts = datetime.now(UTC)
        ends = starts + timedelta(seconds=params.duration)
        silence_id = await ctx.adapters.alertmanager.create_silence(
            labels,
            starts,
            ends,
            ctx.actor or "honua-bot",
            silence_comment(params.comment, ctx.incident_id),
        )
        return Outcome(
            ok=True,
            message=(
                f"silenced {labels.get('alertname', 'the alert')} for "
                f"{human_seconds(params.duration)} (silence {silence_id})"
            ),
            changes=[Change("alertmanager", "silence", None, silence_id)],
            details={
                "silence_id": silence_id,
                "matchers": labels,
                "ends_at": ends.isoformat(),
                "created_by": ctx.actor or "honua-bot",
            },
            undo=ExpireSilenceAction.undo_spec(silence_id),
        )


@actions.register("alertmanager.expire_silence")
class ExpireSilenceAction(Action[ExpireSilence]):
    """Expire a silence now (DELETE /api/v2/silence/{id})."""

    @staticmethod
    def undo_spec(silence_id: str) -> UndoSpec:
        return UndoSpec(
            "alertmanager.expire_silence",
            {"silence_id": silence_id},
            f"expire silence {silence_id}",
        )

    def describe(self, params: ExpireSilence) -> str:
        return f"expire silence {params.silence_id}"

    async def plan(self, params: ExpireSilence, ctx: ActionContext) -> Plan:
        silence = await self._read(params, ctx)
        state = str((silence.get("status") or {}).get("state", "unknown"))
        if state == "expired":
            raise Refused("conflict", f"silence {params.silence_id} has already expired")
        labels = {
            str(m.get("name")): str(m.get("value"))
            for m in silence.get("matchers") or []
            if isinstance(m, dict)
        }
        return Plan(
            summary=(
                f"expire silence {params.silence_id} of {matchers_text(labels)} "
                f"(by {silence.get('createdBy')}, until {silence.get('endsAt')})"
            ),
            target=f"alertmanager/silence/{params.silence_id}",
            changes=[Change(f"silence {params.silence_id}", "state", state, "expired")],
        )

    async def execute(self, params: ExpireSilence, ctx: ActionContext, plan: Plan) -> Outcome:
        if (dry := dry_run_outcome(ctx, plan)) is not None:
            return dry
        try:
            await ctx.adapters.alertmanager.expire_silence(params.silence_id)
        except SilenceNotFound as exc:
            raise Refused("not_found", str(exc)) from exc
        return Outcome(
            ok=True,
            message=f"expired silence {params.silence_id}",
            changes=plan.changes,
            details={"silence_id": params.silence_id},
        )

    @staticmethod
    async def _read(params: ExpireSilence, ctx: ActionContext) -> dict[str, Any]:
        try:
            UUID(params.silence_id)
        except ValueError as exc:
            raise Refused("input", f"silence_id {params.silence_id!r} is not a silence id") from exc
        try:
            return await ctx.adapters.alertmanager.get_silence(params.silence_id)
        except SilenceNotFound as exc:
            raise Refused("not_found", str(exc)) from exc
