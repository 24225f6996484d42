"""A rolling upgrade: an outbox entry written by one version is read by the other.
An entry without buttons carries no ``blocks`` (a replica from before them builds
``Entry(**json)``), and a field a newer replica added is ignored, not fatal."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.notify.slack.outbox import Entry


@dataclass
class EntryBeforeBlocks:
    """``Entry`` as a replica from before the buttons in replies knows it."""

    op: str
    incident: str
    key: str = ""
    text: str = ""
    queued_at: float = 0.0


def test_a_reply_without_buttons_is_readable_by_a_replica_from_before_blocks() -> None:
    plain = Entry("reply", "inc-1", key="k", text="hello", queued_at=1.0)
    old = EntryBeforeBlocks(**json.loads(plain.dumps()))
    assert (old.op, old.text) == ("reply", "hello")
    with_button = Entry("reply", "inc-1", text="Restore?", blocks=[{"type": "actions"}])
    assert Entry.loads(with_button.dumps()) == with_button
    assert Entry.loads(plain.dumps()) == plain


def test_a_field_from_a_newer_replica_is_ignored() -> None:
    raw = json.dumps({"op": "show", "incident": "inc-2", "priority": 3, "queued_at": 2.0})
    assert Entry.loads(raw) == Entry("show", "inc-2", queued_at=2.0)
