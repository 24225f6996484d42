"""Block Kit for Slack, as pure functions of an incident and its state.

The pieces live in their own modules (``blocks``: limits and text helpers;
``lifecycle``; ``buttons``; ``incident_view``: the incident message;
``details``: the raw results reply; ``storm_view``: storms and ``/honua``);
this module is the one place the notifier and the app import them from.
"""

from __future__ import annotations

from bot.models import Activity
from bot.notify.slack.blocks import (
    ACTION_ID,
    BUTTON_TEXT,
    CONFIRM_TEXT,
    CONFIRM_TITLE,
    CONTEXT_TEXT,
    FIELD_TEXT,
    HEADER_TEXT,
    MAX_BLOCKS,
    SECTION_TEXT,
    TRUNCATED,
    Message,
    alertmanager_url,
    cut,
    esc,
    link,
    mention,
    slack_date,
)
from bot.notify.slack.buttons import (
    SILENCES,
    ButtonKind,
    ButtonSpec,
    button_specs,
    undo_action,
)
from bot.notify.slack.details import render_details
from bot.notify.slack.incident_view import render_incident, runbook_link, strongest_evidence
from bot.notify.slack.lifecycle import Lifecycle, State, lifecycle
from bot.notify.slack.storm_view import (
    DIGEST_SIZE,
    StormMember,
    render_status,
    render_storm_digest,
    render_storm_summary,
    storm_line,
)

__all__ = [
    "ACTION_ID",
    "BUTTON_TEXT",
    "CONFIRM_TEXT",
    "CONFIRM_TITLE",
    "CONTEXT_TEXT",
    "DIGEST_SIZE",
    "FIELD_TEXT",
    "HEADER_TEXT",
    "MAX_BLOCKS",
    "SECTION_TEXT",
    "SILENCES",
    "TRUNCATED",
    "ButtonKind",
    "ButtonSpec",
    "Lifecycle",
    "Message",
    "State",
    "StormMember",
    "alertmanager_url",
    "button_specs",
    "cut",
    "esc",
    "lifecycle",
    "link",
    "mention",
    "render_activity",
    "render_details",
    "render_incident",
    "render_status",
    "render_storm_digest",
    "render_storm_summary",
    "runbook_link",
    "slack_date",
    "storm_line",
    "strongest_evidence",
    "undo_action",
]


def render_activity(entry: Activity) -> str:
    """A thread reply: what happened and who did it."""
    text, _ = cut(f"{esc(entry.text)} — {mention(entry.actor)}", SECTION_TEXT)
    return text
