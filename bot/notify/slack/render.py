"""Block Kit for Slack, as pure functions of an incident and its state.

The pieces live in their own modules (``blocks``: limits and text helpers;
``lifecycle``; ``buttons``; ``incident_view``: the incident message;
``details``: the raw results reply; ``storm_view``: storms and ``/honua``);
this module is the one place the notifier and the app import them from.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import ActionsBlock, SectionBlock

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
    md,
    mention,
    slack_date,
)
from bot.notify.slack.buttons import (
    SILENCES,
    ButtonKind,
    ButtonSpec,
    button_specs,
    restore_button,
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
    "offer_spec",
    "render_activity",
    "render_details",
    "render_incident",
    "render_offer",
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


def offer_spec(entry: Activity) -> ButtonSpec:
    """The button a timeline entry offers (a mitigation's restore)."""
    return ButtonSpec(ButtonKind.RESTORE, entry.offer)


def render_offer(entry: Activity, ref: str) -> tuple[str, list[dict[str, Any]]]:
    """A thread reply with a button: "Mitigation still in place: … Restore?"."""
    text = render_activity(entry)
    button = restore_button(offer_spec(entry), ref, entry.offer_label, entry.text)
    blocks = [
        SectionBlock(block_id="honua-offer", text=md(text)).to_dict(),
        ActionsBlock(block_id="honua-offer-actions", elements=[button]).to_dict(),
    ]
    return text, blocks
