"""One paced sender per Slack channel, across every replica.

Each replica runs a :class:`ChannelSender` per configured channel; only the one
holding the channel's lease (``slack-sender:{channel}``, renewed every third of
``sender_lease``) sends. When its replica dies the lease runs out and another
replica's sender takes over within ``sender_lease`` seconds, from the cursor the
dead one left.

The leader handles the channel's outbox in order, one Slack call per
``post_interval`` at most, and brings a dirty storm summary up to date every
``storm_flush_interval``. A 429 or an outage keeps the entry at the head and is
retried (``Retry-After`` honoured, then backing off up to 30 s): nothing is lost,
and no worker ever waits for it.

Exactly one message per key: before a post the sender records the attempt; an
entry found with an attempt but no saved reference (the sender died between
Slack accepting the post and saving it) is looked up in the channel's history
by the key in the message metadata and adopted instead of posted again.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from typing import Any

from bot.logs import get_logger
from bot.notify.slack.calls import SlackCalls, SlackRejected, SlackUnavailable, content_hash
from bot.notify.slack.config import SlackConfig
from bot.notify.slack.outbox import Entry, Outbox, message_key
from bot.notify.slack.state import MessageRef, SlackState
from bot.notify.slack.storms import ensure_summary, flush_storm
from bot.store import Store, StoreUnavailable, keys

log = get_logger("slack")

HOLE_GRACE = 10.0  # an entry number taken by a worker that died before writing it
CLOCK_SKEW = 30.0  # history is searched from this long before the attempt
IDLE_POLL = 0.25  # how often an idle leader looks for entries queued by other replicas
MAX_BACKOFF = 30.0
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


class Pacer:
    """When the channel's last Slack call ended; shared by the senders of one channel
    in a process (the shared outbox's and the one used while the store is degraded)."""

    def __init__(self) -> None:
        self.last_call = 0.0


class ChannelSender:
    def __init__(
        self,
        channel: str,
        store: Store,
        outbox: Outbox,
        state: SlackState,
        calls: SlackCalls,
        config: SlackConfig,
        owner: str,
        pacer: Pacer | None = None,
        flushes_storms: bool = True,
    ) -> None:
        self.channel = channel
        self.store = store
        self.outbox = outbox
        self.state = state
        self.calls = calls
        self.config = config
        self.owner = owner
        self.wake = asyncio.Event()
        self.leading = False
        self.closing = False  # checked as well as cancelled: a swallowed cancel must not hang
        self._lost = False
        self.pacer = pacer or Pacer()
        self.flushes_storms = flushes_storms
        self._degraded = False
        self._epoch: str | None = None
        self._next_flush = 0.0
        self._backoff = 0.0
        self._backoff_step = 0.0
        self._hole_since: float | None = None
        self._done = 0
        self._head = 0

    @property
    def lease_name(self) -> str:
        return keys.slack_sender_lock(self.channel)

    async def run(self) -> None:
        """Forever: lead while holding the lease, else wait to take it over."""
        lease = self.config.sender_lease
        while not self.closing:
            try:
                if await self.store.acquire(self.lease_name, self.owner, lease):
                    await self._lead()
                    continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("slack sender failed; retrying", channel=self.channel)
            await self._sleep(lease / 3)

    async def _lead(self) -> None:
        log.info("slack sender leading", channel=self.channel, owner=self.owner)
        self.leading, self._lost = True, False
        # the previous leader may just have called
        self.pacer.last_call = max(self.pacer.last_call, time.monotonic())
        renewer = asyncio.create_task(self._renew())
        try:
            self._done = await self.outbox.done(self.channel)
            self._head = await self.outbox.head(self.channel)
            while not self._lost and not self.closing:
                if not await self._step():
                    await self._sleep(IDLE_POLL)
        finally:
            self.leading = False
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
            with contextlib.suppress(StoreUnavailable):
                await self.store.release(self.lease_name, self.owner)

    async def _sleep(self, seconds: float) -> None:
        """Until woken (an entry recorded here) or ``seconds`` passed. Not
        ``wait_for(event.wait())``: cancelled at shutdown, that hung (Python 3.11)."""
        waiter = asyncio.ensure_future(self.wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()
        self.wake.clear()

    async def _renew(self) -> None:
        lease = self.config.sender_lease
        held_until = time.monotonic() + lease
        while True:
            await asyncio.sleep(lease / 3)
            try:
                if not await self.store.acquire(self.lease_name, self.owner, lease):
                    break
                held_until = time.monotonic() + lease
            except StoreUnavailable:
                if time.monotonic() > held_until:
                    break
        log.warning("slack sender lost its lease", channel=self.channel)
        self._lost = True
        self.wake.set()

    async def _step(self) -> bool:
        """Handle one thing; False when there was nothing to do."""
        if self._backoff and time.monotonic() < self._backoff:
            await asyncio.sleep(min(self._backoff - time.monotonic(), 1.0))
            return True
        try:
            if self.flushes_storms and await self._flush_storm_if_due():
                return True
            degraded = self.store.degraded
            if degraded != self._degraded:
                # the store fell back to memory, or came back: the cursor read now is
                # the one that counts (work recorded meanwhile went to the local outbox)
                self._degraded = degraded
                self._done = await self.outbox.done(self.channel)
                self._head = await self.outbox.head(self.channel)
            if degraded:
                return False  # the shared entries are out of reach until Redis returns
            await self._check_epoch()
            return await self._next_entry()
        except SlackUnavailable as exc:
            self._back_off(exc)
            return True

    def _back_off(self, exc: SlackUnavailable) -> None:
        step = max(exc.retry_after, min(max(self._backoff_step * 2, 1.0), MAX_BACKOFF))
        self._backoff_step = step
        self._backoff = time.monotonic() + step
        log.warning(
            "slack unavailable; outbox kept", channel=self.channel, retry_in=step, error=str(exc)
        )

    def _succeeded(self) -> None:
        self._backoff = 0.0
        self._backoff_step = 0.0

    async def _flush_storm_if_due(self) -> bool:
        if time.monotonic() < self._next_flush:
            return False
        storm = await self.state.last_storm(self.channel)
        generation = await self.state.dirty(storm) if storm else None
        if storm is None or generation is None:
            self._next_flush = time.monotonic() + min(self.config.storm_flush_interval, 1.0)
            return False
        self._next_flush = time.monotonic() + self.config.storm_flush_interval
        try:
            await flush_storm(self.state, self, self.config, storm, self.channel)
        except SlackRejected as exc:
            log.error("storm summary rejected by Slack", storm=storm, error=str(exc))
        await self.state.flushed(storm, generation)
        self._succeeded()
        return True

    async def _check_epoch(self) -> None:
        """The store came back empty (a Redis restarted without persistence): its
        numbering starts again at 1, so the cursor does too."""
        epoch = await self.outbox.epoch(self.channel)
        if epoch is not None and epoch == self._epoch:
            return
        if epoch is None:
            if self._epoch is not None:
                log.warning(
                    "slack outbox emptied under the sender; starting over", channel=self.channel
                )
                self._done = 0
                await self.outbox.advance(self.channel, 0)
            self._epoch = await self.outbox.new_epoch(self.channel)
        else:  # a predecessor's: its cursor is the store's
            self._epoch = epoch
            self._done = await self.outbox.done(self.channel)
        self._head = await self.outbox.head(self.channel)

    async def _next_entry(self) -> bool:
        if self._done >= self._head:
            self._head = await self.outbox.head(self.channel)
            if self._done >= self._head:
                return False
        number = self._done + 1
        entry = await self.outbox.entry(self.channel, number)
        if entry is None:
            # numbered but not (yet) written: a worker between its two writes, or one
            # that died there (nothing to send then)
            now = time.monotonic()
            self._hole_since = self._hole_since or now
            if now - self._hole_since < HOLE_GRACE:
                return False
            log.warning("outbox entry never written; skipped", channel=self.channel, n=number)
        else:
            try:
                await self._handle(entry)
            except SlackRejected as exc:
                log.error(
                    "slack refused an outbox entry; skipped",
                    channel=self.channel,
                    incident=entry.incident,
                    op=entry.op,
                    error=str(exc),
                )
            self._succeeded()
        self._hole_since = None
        await self.outbox.advance(self.channel, number)
        self._done = number
        return True

    async def _handle(self, entry: Entry) -> None:
        if entry.op == "show":
            await self._show(entry.incident)
        elif entry.op == "reply":
            ref = await self.state.message(entry.incident)
            if ref is None:
                log.warning(
                    "thread reply for an incident without a message", incident=entry.incident
                )
                return
            await self.post_once(entry.key, ref.channel, entry.text, entry.blocks, ref.thread)
        else:
            log.error("unknown outbox entry; skipped", op=entry.op)

    async def _show(self, incident: str) -> None:
        wanted = await self.outbox.wanted(incident)
        if wanted is None:
            return
        key = message_key(incident)
        ref = await self.state.message(incident)
        if ref is None:
            thread = ""
            if wanted.storm:
                summary = await ensure_summary(
                    self.state, self, self.config, wanted.storm, wanted.channel
                )
                thread = summary.ts
            ref = await self.post_once(key, wanted.channel, wanted.text, wanted.blocks, thread)
            await self.state.save_message(incident, ref)
            log.info("slack message posted", incident=incident, channel=ref.channel, ts=ref.ts)
        await self.update_once(key, ref, wanted.text, wanted.blocks)

    # the Poster protocol (storms use it too) ------------------------------------------
    async def post_once(
        self, key: str, channel: str, text: str, blocks: list[dict[str, Any]], thread_ts: str = ""
    ) -> MessageRef:
        """Post unless this key was posted already, or adopt what an earlier attempt
        left in the channel."""
        ref = await self.outbox.posted(key)
        if ref is not None:
            return ref
        since = await self.outbox.attempted(key)
        if since is not None:
            ref = await self._find(key, channel, since, thread_ts)
            if ref is not None:
                await self.outbox.save_posted(key, ref)
                log.warning(
                    "adopted a message posted by an interrupted attempt", key=key, ts=ref.ts
                )
                return ref
        await self.outbox.attempt(key)
        await self._pace()
        try:
            ref = await self.calls.post(key, channel, text, blocks or None, thread_ts)
        except (SlackRejected, SlackUnavailable) as exc:
            if isinstance(exc, SlackRejected) or exc.retry_after:
                # Slack answered no (or 429): nothing was posted, nothing to look for
                await self.outbox.clear_attempt(key)
            raise
        finally:
            self.pacer.last_call = time.monotonic()
        await self.outbox.save_posted(key, ref)
        await self.outbox.save_sent_hash(key, content_hash(text, blocks or None))
        if ref.channel != channel:
            await self.store.set_value(keys.slack_channel_id(channel), ref.channel, self.config.ttl)
        return ref

    async def update_once(
        self, key: str, ref: MessageRef, text: str, blocks: list[dict[str, Any]]
    ) -> None:
        digest = content_hash(text, blocks or None)
        if await self.outbox.sent_hash(key) == digest:
            return  # Slack shows it already: successive updates coalesce here
        await self._pace()
        try:
            await self.calls.update(ref.channel, ref.ts, text, blocks or None)
        finally:
            self.pacer.last_call = time.monotonic()
        await self.outbox.save_sent_hash(key, digest)

    async def _find(
        self, key: str, channel: str, since: float, thread_ts: str
    ) -> MessageRef | None:
        try:
            channel_id = await self._channel_id(channel)
            if channel_id is None:
                log.warning("channel not found for the history lookup; posting", channel=channel)
                return None
            ts = await self.calls.find(key, channel_id, since - CLOCK_SKEW, thread_ts)
        except SlackRejected as exc:  # no channels:history scope, say: post again
            log.warning("could not look for an earlier post; posting", key=key, error=str(exc))
            return None
        return MessageRef(channel_id, ts, thread_ts) if ts else None

    async def _channel_id(self, channel: str) -> str | None:
        if _CHANNEL_ID.match(channel):
            return channel
        known = await self.store.get_value(keys.slack_channel_id(channel))
        if known:
            return known
        found = await self.calls.channel_id(channel)
        if found:
            await self.store.set_value(keys.slack_channel_id(channel), found, self.config.ttl)
        return found

    async def _pace(self) -> None:
        """At most one Slack call per ``post_interval`` on this channel, counted from
        the end of the previous call, so Slack sees them at least that far apart."""
        wait = self.pacer.last_call + self.config.post_interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
