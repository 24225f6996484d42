"""Block Kit building blocks: Slack's limits, mrkdwn escaping and cutting, and a
budget that keeps a message within 50 blocks.

Blocks are built with ``slack_sdk.models.blocks`` so the per-element limits are
checked by ``to_dict()``; every text is cut to its limit here first, with a
visible note, so content that does not fit never becomes an API error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject

from bot.models import Incident

# Slack's limits (https://docs.slack.dev/reference/block-kit/blocks)
MAX_BLOCKS = 50
HEADER_TEXT = 150
SECTION_TEXT = 3000
FIELD_TEXT = 2000
MAX_FIELDS = 10
CONTEXT_ELEMENTS = 10
CONTEXT_TEXT = 2000
BUTTON_TEXT = 75
ACTION_ID = 255
ACTIONS_PER_BLOCK = 25
CONFIRM_TITLE = 100
CONFIRM_TEXT = 300
FALLBACK_TEXT = 3000

TRUNCATED = "… (truncated)"


def esc(text: str) -> str:
    """Escape the three characters mrkdwn treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int, note: str = TRUNCATED) -> tuple[str, bool]:
    """``text`` within ``limit`` characters, ending in ``note`` when it was cut; a
    link or mention (``<…>``) is never cut in half."""
    if len(text) <= limit:
        return text, False
    head = text[: max(limit - len(note), 0)]
    opened, closed = head.rfind("<"), head.rfind(">")
    if opened > closed:
        head = head[:opened]
    return head.rstrip() + note, True


def mention(actor: str) -> str:
    """``slack:U123`` → ``<@U123>``; ``cli:alice`` → ``alice (cli)``; ``auto`` → ``auto mode``."""
    source, _, who = actor.partition(":")
    if source == "slack" and who:
        return f"<@{esc(who)}>"
    if source == "auto" or actor == "auto":
        return "auto mode"
    if who:
        return f"{esc(who)} ({esc(source)})"
    return esc(actor) or "someone"


def link(url: str, text: str) -> str | None:
    """A mrkdwn link, or None when the URL is not plain http(s)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    safe = url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")
    return f"<{safe}|{esc(text)}>"


def alertmanager_url(incident: Incident) -> str:
    if not incident.external_url:
        return ""
    matcher = quote(f'{{alertname="{incident.alertname}"}}', safe="")
    return f"{incident.external_url.rstrip('/')}/#/alerts?filter={matcher}"


def slack_date(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{moment.isoformat()}>"


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


@dataclass
class Message:
    text: str  # notification / fallback text
    blocks: list[dict[str, Any]]
    truncated: bool = False


class Budget:
    """Collects blocks; the optional ones are dropped first when 50 would be exceeded."""

    def __init__(self) -> None:
        self.blocks: list[tuple[Block, bool]] = []  # (block, optional)
        self.truncated = False

    def add(self, block: Block, optional: bool = False) -> None:
        self.blocks.append((block, optional))

    def text(self, text: str, limit: int) -> str:
        out, was_cut = cut(text, limit)
        self.truncated |= was_cut
        return out

    def build(self) -> list[dict[str, Any]]:
        blocks = list(self.blocks)
        room = MAX_BLOCKS - (1 if self.truncated else 0)
        if len(blocks) > room:
            self.truncated = True
            room = MAX_BLOCKS - 1
            drop = len(blocks) - room
            kept: list[tuple[Block, bool]] = []
            for block, optional in reversed(blocks):
                if optional and drop > 0:
                    drop -= 1
                    continue
                kept.append((block, optional))
            blocks = list(reversed(kept))[:room]
        out = [b.to_dict() for b, _ in blocks]
        if self.truncated:
            out.append(
                ContextBlock(
                    block_id="honua-truncated",
                    elements=[
                        md(
                            ":scissors: Some content was cut to fit Slack's limits; "
                            "`/honua incident ID` or `GET /incidents/ID` has all of it."
                        )
                    ],
                ).to_dict()
            )
        return out
