"""Where an incident is in its life, as the Slack message shows it:
Diagnosing → Awaiting decision → Running X (by @user) → Verified / Failed → Resolved."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.models import Incident, IncidentStatus
from bot.notify.base import Event
from bot.notify.slack.blocks import esc, mention


class State(StrEnum):
    DIAGNOSING = "Diagnosing"
    AWAITING = "Awaiting decision"
    RUNNING = "Running"
    VERIFIED = "Verified"
    DONE = "Done, not verified"  # ran; the rule has no validation (or no Prometheus)
    FAILED = "Failed"
    RESOLVED = "Resolved"


STATE_EMOJI = {
    State.DIAGNOSING: ":mag:",
    State.AWAITING: ":rotating_light:",
    State.RUNNING: ":hourglass_flowing_sand:",
    State.VERIFIED: ":white_check_mark:",
    State.DONE: ":ballot_box_with_check:",
    State.FAILED: ":x:",
    State.RESOLVED: ":large_green_circle:",
}


@dataclass(frozen=True)
class Lifecycle:
    state: State
    action: str = ""  # the running / last action
    actor: str = ""  # who started it

    @property
    def title(self) -> str:
        """Plain text (headers cannot mention people)."""
        if self.state is State.RUNNING:
            return f"Running {self.action}"
        return self.state.value

    @property
    def label(self) -> str:
        """mrkdwn, with the person who started a running action."""
        if self.state is State.RUNNING:
            return f"Running `{esc(self.action)}` (by {mention(self.actor)})"
        return self.state.value


def lifecycle(incident: Incident, event: Event | None = None) -> Lifecycle:
    if incident.status is IncidentStatus.RESOLVED or event is Event.RESOLVED:
        return Lifecycle(State.RESOLVED)
    if event is Event.DIAGNOSING or incident.diagnosis is None:
        return Lifecycle(State.DIAGNOSING)
    if incident.runs:
        run = incident.runs[-1]
        state = {
            "running": State.RUNNING,
            "verifying": State.RUNNING,
            "verified": State.VERIFIED,
            "done": State.DONE,
            "failed": State.FAILED,
            "unknown": State.FAILED,
        }
        return Lifecycle(state[run.state], run.action, run.actor)
    return Lifecycle(State.AWAITING)
