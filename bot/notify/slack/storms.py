"""Alert storms: when more than ``storm_threshold`` incidents open in a channel
within ``storm_window`` seconds, new ones are not posted one by one. One summary
message (counts by rule and scenario, updated in place) is posted and the
incidents are listed in its thread, ``DIGEST_SIZE`` per reply.

Workers only record members (:class:`StormBook`); the channel's outbox sender
brings the summary and the digests up to date (:func:`flush_storm`) at most
every ``storm_flush_interval`` seconds, so the summary is never further behind.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, Protocol

from bot.logs import get_logger
from bot.models import Incident, IncidentStatus
from bot.notify.slack.config import SlackConfig
from bot.notify.slack.render import (
    DIGEST_SIZE,
    ButtonKind,
    ButtonSpec,
    StormMember,
    render_storm_digest,
    render_storm_summary,
)
from bot.notify.slack.state import MemberRef, MessageRef, SlackState
from bot.store import Store, keys

log = get_logger("slack")


class Poster(Protocol):
    async def post_once(
        self, key: str, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str = ""
    ) -> MessageRef: ...

    async def update_once(
        self, key: str, ref: MessageRef, text: str, blocks: list[dict[str, Any]]
    ) -> None: ...


class StormBook:
    """The workers' side: is the channel storming, and who is in the storm."""

    def __init__(self, store: Store, state: SlackState, config: SlackConfig) -> None:
        self.store = store
        self.state = state
        self.config = config

    async def storm_for(self, channel: str, incident: Incident) -> str | None:
        """The channel's storm id when it is storming (counting this incident once)."""
        cfg = self.config
        if cfg.storm_threshold <= 0:
            return None
        opened = keys.slack_opened(channel)
        counted = keys.slack_counted(incident.id)
        if await self.store.set_value(counted, "1", cfg.storm_window, only_if_absent=True):
            count = await self.store.incr(opened, cfg.storm_window)
        else:
            count = int(await self.store.get_value(opened) or 0)
        key = keys.slack_storm(channel)
        storm = await self.store.get_value(key)
        if storm is None and count > cfg.storm_threshold:
            fresh = f"{int(time.time())}-{secrets.token_hex(4)}"
            if await self.store.set_value(key, fresh, cfg.storm_window, only_if_absent=True):
                log.warning(
                    "alert storm: new incidents go to one summary's thread",
                    channel=channel,
                    opened=count,
                    window=cfg.storm_window,
                )
            storm = await self.store.get_value(key)
        if storm is not None:  # a whole quiet window ends the storm
            await self.store.set_value(key, storm, cfg.storm_window)
        return storm

    async def member(self, incident: Incident) -> StormMember:
        details = ButtonSpec(ButtonKind.DETAILS)
        refs = await self.state.button_refs(incident.id, [details])
        d = incident.diagnosis
        return StormMember(
            incident=incident.id,
            alertname=incident.alertname,
            severity=incident.severity,
            rule=incident.rule or "",
            scenario=d.scenario if d else "diagnosing",
            resolved=incident.status is IncidentStatus.RESOLVED,
            details_ref=refs[details.key],
        )

    async def add(self, channel: str, storm: str, incident: Incident) -> None:
        await self.state.add_member(channel, storm, await self.member(incident))

    async def refresh(self, member: MemberRef, incident: Incident) -> None:
        fresh = await self.member(incident)
        if await self.state.member(member.storm, member.seq) != fresh:
            await self.state.save_member(member.storm, member.seq, fresh)
            await self.state.mark_dirty(member.storm)


async def ensure_summary(
    state: SlackState, poster: Poster, config: SlackConfig, storm: str, channel: str
) -> MessageRef:
    """The storm's summary message, posted when it is not yet."""
    posts = await state.storm_posts(storm)
    if "summary" in posts:
        return MessageRef(posts["channel"], posts["summary"])
    members = [m for _, m in await state.members(storm)]
    summary = render_storm_summary(members, config.storm_threshold, config.storm_window)
    ref = await poster.post_once(f"storm:{storm}:summary", channel, summary.text, summary.blocks)
    posts = await state.storm_posts(storm)
    posts.update({"summary": ref.ts, "channel": ref.channel})
    await state.save_storm_posts(storm, posts)
    return ref


async def flush_storm(
    state: SlackState, poster: Poster, config: SlackConfig, storm: str, channel: str
) -> None:
    """Summary first (its count is what people read), then each digest reply."""
    members = await state.members(storm)
    if not members:
        return
    summary_ref = await ensure_summary(state, poster, config, storm, channel)
    summary = render_storm_summary(
        [m for _, m in members], config.storm_threshold, config.storm_window
    )
    await poster.update_once(f"storm:{storm}:summary", summary_ref, summary.text, summary.blocks)
    chunks: dict[int, list[tuple[int, StormMember]]] = {}
    for seq, m in members:
        chunks.setdefault((seq - 1) // DIGEST_SIZE, []).append((seq, m))
    for index, chunk in sorted(chunks.items()):
        digest = render_storm_digest(chunk)
        key = f"storm:{storm}:d{index}"
        posts = await state.storm_posts(storm)
        if f"d{index}" not in posts:
            ref = await poster.post_once(
                key, summary_ref.channel, digest.text, digest.blocks, summary_ref.ts
            )
            posts[f"d{index}"] = ref.ts
            await state.save_storm_posts(storm, posts)
        else:
            ref = MessageRef(summary_ref.channel, posts[f"d{index}"], summary_ref.ts)
        await poster.update_once(key, ref, digest.text, digest.blocks)
