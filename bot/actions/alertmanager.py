"""Alertmanager steps."""

from __future__ import annotations

from pydantic import Field

from bot.actions.base import ActionParams
from bot.registry import actions
from bot.rules.durations import Duration


class Silence(ActionParams):
    duration: Duration = Field(default=3600, gt=0)
    comment: str = "silenced from honua-bot"


@actions.register("alertmanager.silence")
def silence(params: Silence) -> str:
    """Silence the alert's exact label set for a while."""
    return f"silence this alert for {params.duration / 3600:g}h"
