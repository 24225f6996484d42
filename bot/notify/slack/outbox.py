"""The Slack outbox: what Slack must show, recorded in the bot's store by the
workers, sent by one paced sender per channel (``sender``).

Per channel, entries are numbered by a counter (``head``) and kept under their
number until the sender has handled them (``done``, its cursor). An incident's
message is not queued as content: workers record the message as it should look
now (``wanted``, latest wins) and queue a ``show`` of it, so several updates
queued before the sender gets to them cost one Slack call. Everything is plain
keys of the store's value API, so it works on Redis (shared by the replicas,
survives a restart) and in memory (zero config) alike.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bot.logs import get_logger
from bot.notify.slack.state import MessageRef
from bot.store import Store, keys

ENTRY_TTL = 7 * 86400.0  # an entry outlives any plausible Slack outage
log = get_logger("slack")
_unknown_logged: set[str] = set()


@dataclass
class Wanted:
    """An incident's message as it should look; ``storm`` when it goes in a storm's thread."""

    channel: str
    text: str
    blocks: list[dict[str, Any]]
    storm: str = ""

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str) -> Wanted:
        return cls(**json.loads(raw))


@dataclass
class Entry:
    """``show``: make incident's message look as wanted (post it, or update it);
    ``reply``: post ``text`` in the incident's thread, once (``key``)."""

    op: str
    incident: str
    key: str = ""
    text: str = ""
    queued_at: float = field(default_factory=time.time)
    blocks: list[dict[str, Any]] = field(default_factory=list)  # a reply with a button

    def dumps(self) -> str:
        # no empty ``blocks``: a replica from before them (a rolling upgrade) reads it
        data = asdict(self)
        if not data["blocks"]:
            del data["blocks"]
        return json.dumps(data)

    @classmethod
    def loads(cls, raw: str) -> Entry:
        """Fields a newer replica added are ignored (logged once each)."""
        data = json.loads(raw)
        known = {f.name for f in fields(cls)}
        for name in sorted(set(data) - known - _unknown_logged):
            _unknown_logged.add(name)
            log.warning("slack outbox entry field ignored (written by a newer bot)", field=name)
        return cls(**{k: v for k, v in data.items() if k in known})


def message_key(incident: str) -> str:
    return f"inc:{incident}"


class Outbox:
    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = ttl  # of refs and wanted messages (as long as an open incident)

    # the workers' side -------------------------------------------------------------
    async def add(self, channel: str, entry: Entry) -> int:
        number = await self.store.incr(keys.slack_outbox_head(channel))
        await self.store.set_value(
            keys.slack_outbox_entry(channel, number), entry.dumps(), ENTRY_TTL
        )
        return number

    async def want(self, incident: str, wanted: Wanted) -> None:
        await self.store.set_value(keys.slack_wanted(incident), wanted.dumps(), self.ttl)

    async def wanted(self, incident: str) -> Wanted | None:
        raw = await self.store.get_value(keys.slack_wanted(incident))
        return Wanted.loads(raw) if raw else None

    # the sender's side ----------------------------------------------------------------
    async def head(self, channel: str) -> int:
        return int(await self.store.get_value(keys.slack_outbox_head(channel)) or 0)

    async def done(self, channel: str) -> int:
        return int(await self.store.get_value(keys.slack_outbox_done(channel)) or 0)

    async def entry(self, channel: str, number: int) -> Entry | None:
        raw = await self.store.get_value(keys.slack_outbox_entry(channel, number))
        return Entry.loads(raw) if raw else None

    async def epoch(self, channel: str) -> str | None:
        return await self.store.get_value(keys.slack_outbox_epoch(channel))

    async def new_epoch(self, channel: str) -> str:
        value = secrets.token_hex(8)
        await self.store.set_value(keys.slack_outbox_epoch(channel), value)
        return value

    async def advance(self, channel: str, number: int) -> None:
        await self.store.set_value(keys.slack_outbox_done(channel), str(number))
        await self.store.delete_value(keys.slack_outbox_entry(channel, number))

    async def posted(self, key: str) -> MessageRef | None:
        raw = await self.store.get_value(keys.slack_posted(key))
        return MessageRef.loads(raw) if raw else None

    async def save_posted(self, key: str, ref: MessageRef) -> None:
        await self.store.set_value(keys.slack_posted(key), ref.dumps(), self.ttl)

    async def attempted(self, key: str) -> float | None:
        raw = await self.store.get_value(keys.slack_attempted(key))
        return float(raw) if raw else None

    async def attempt(self, key: str) -> None:
        await self.store.set_value(keys.slack_attempted(key), f"{time.time():.6f}", self.ttl)

    async def clear_attempt(self, key: str) -> None:
        await self.store.delete_value(keys.slack_attempted(key))

    async def sent_hash(self, key: str) -> str | None:
        return await self.store.get_value(keys.slack_sent_hash(key))

    async def save_sent_hash(self, key: str, digest: str) -> None:
        await self.store.set_value(keys.slack_sent_hash(key), digest, self.ttl)
