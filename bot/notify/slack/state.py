"""What the Slack integration keeps in the store, shared by every replica: the
message of each incident, the opaque references its buttons carry, and the
bookkeeping of alert storms. Never process memory: a click may land on any
replica, and a redelivered notification must find the message already posted."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass

from bot.notify.slack.render import ButtonKind, ButtonSpec, StormMember
from bot.store import Store, keys

_REF = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@dataclass(frozen=True)
class MessageRef:
    channel: str  # the channel id Slack answered with
    ts: str
    thread_ts: str = ""  # set when the message is itself a reply (an incident of a storm)

    @property
    def thread(self) -> str:
        """Where progress replies go."""
        return self.thread_ts or self.ts

    def dumps(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def loads(cls, raw: str) -> MessageRef:
        return cls(**json.loads(raw))


@dataclass(frozen=True)
class ButtonRef:
    """What a button's opaque value stands for; only the store knows it."""

    incident: str
    kind: ButtonKind
    action: str = ""
    seconds: int = 0
    nonce: str = ""


@dataclass(frozen=True)
class MemberRef:
    """An incident listed in a storm digest rather than posted on its own."""

    channel: str
    storm: str
    seq: int


class SlackState:
    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = ttl

    # the incident's message ------------------------------------------------------
    async def message(self, incident_id: str) -> MessageRef | None:
        raw = await self.store.get_value(keys.slack_message(incident_id))
        return MessageRef.loads(raw) if raw else None

    async def save_message(self, incident_id: str, ref: MessageRef) -> None:
        await self.store.set_value(keys.slack_message(incident_id), ref.dumps(), self.ttl)

    # buttons ------------------------------------------------------------------------
    async def button_refs(self, incident_id: str, specs: list[ButtonSpec]) -> dict[str, str]:
        """One reference per (incident, button), reused by every later rendering."""
        key = keys.slack_button_refs(incident_id)
        raw = await self.store.get_value(key)
        known: dict[str, str] = json.loads(raw) if raw else {}
        missing = [s for s in specs if s.key not in known]
        for spec in missing:
            ref = secrets.token_urlsafe(18)
            target = ButtonRef(
                incident_id, spec.kind, spec.action, spec.seconds, secrets.token_hex(8)
            )
            await self.store.set_value(keys.slack_button(ref), json.dumps(asdict(target)), self.ttl)
            known[spec.key] = ref
        if missing:
            await self.store.set_value(key, json.dumps(known), self.ttl)
        return {s.key: known[s.key] for s in specs}

    async def resolve_button(self, value: str) -> ButtonRef | None:
        """None for anything the bot did not hand out (or handed out too long ago)."""
        if not _REF.match(value or ""):
            return None
        raw = await self.store.get_value(keys.slack_button(value))
        if raw is None:
            return None
        data = json.loads(raw)
        return ButtonRef(
            data["incident"],
            ButtonKind(data["kind"]),
            data.get("action", ""),
            int(data.get("seconds", 0)),
            data.get("nonce", ""),
        )

    # storms ----------------------------------------------------------------------------
    async def member_of(self, incident_id: str) -> MemberRef | None:
        raw = await self.store.get_value(keys.slack_storm_member_of(incident_id))
        return MemberRef(**json.loads(raw)) if raw else None

    async def add_member(self, channel: str, storm: str, member: StormMember) -> MemberRef:
        """List the incident in the storm, once: its place is claimed (``slack:member``,
        set only if absent) before its line is written, so a worker killed half-way
        and the one that redoes the alert never list it twice (a number taken and not
        used is a hole, skipped)."""
        seq = await self.store.incr(keys.slack_storm_seq(storm), self.ttl)
        ref = MemberRef(channel, storm, seq)
        claimed = await self.store.set_value(
            keys.slack_storm_member_of(member.incident),
            json.dumps(asdict(ref)),
            self.ttl,
            only_if_absent=True,
        )
        if not claimed:
            ref = await self.member_of(member.incident) or ref
        await self.save_member(ref.storm, ref.seq, member)
        await self.store.set_value(keys.slack_storm_last(channel), storm, self.ttl)
        await self.mark_dirty(storm)
        return ref

    async def save_member(self, storm: str, seq: int, member: StormMember) -> None:
        await self.store.set_value(
            keys.slack_storm_member(storm, seq), json.dumps(asdict(member)), self.ttl
        )

    async def member(self, storm: str, seq: int) -> StormMember | None:
        raw = await self.store.get_value(keys.slack_storm_member(storm, seq))
        return StormMember(**json.loads(raw)) if raw else None

    async def members(self, storm: str) -> list[tuple[int, StormMember]]:
        count = int(await self.store.get_value(keys.slack_storm_seq(storm)) or 0)
        out = []
        for seq in range(1, count + 1):
            found = await self.member(storm, seq)
            if found is not None:  # a hole: a replica died between numbering and saving
                out.append((seq, found))
        return out

    async def mark_dirty(self, storm: str) -> None:
        """A member changed: the summary and digests need bringing up to date."""
        await self.store.incr(keys.slack_storm_changes(storm), self.ttl)

    async def dirty(self, storm: str) -> int | None:
        """The change count to flush up to, None when Slack shows the latest.
        Counted, not a flag taken before the flush: a sender that dies mid-flush
        leaves the storm dirty for the next one."""
        changed = int(await self.store.get_value(keys.slack_storm_changes(storm)) or 0)
        flushed = int(await self.store.get_value(keys.slack_storm_flushed(storm)) or 0)
        return changed if changed > flushed else None

    async def flushed(self, storm: str, generation: int) -> None:
        await self.store.set_value(keys.slack_storm_flushed(storm), str(generation), self.ttl)

    async def last_storm(self, channel: str) -> str | None:
        return await self.store.get_value(keys.slack_storm_last(channel))

    async def storm_posts(self, storm: str) -> dict[str, str]:
        """{"summary": ts, "summary#": hash, "channel": id, "d0": ts, "d0#": hash, …}"""
        raw = await self.store.get_value(keys.slack_storm_posts(storm))
        return json.loads(raw) if raw else {}

    async def save_storm_posts(self, storm: str, posts: dict[str, str]) -> None:
        await self.store.set_value(keys.slack_storm_posts(storm), json.dumps(posts), self.ttl)
