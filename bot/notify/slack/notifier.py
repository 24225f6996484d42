"""One living Slack message per incident, recorded by the workers in the Slack
outbox and sent by the channel's paced sender (``sender``): a worker never waits
for Slack.

- Posted once per incident, then updated in place for every later state;
  resolved updates the same message and never posts a new one. Progress
  (``incident.activity``) goes to the message's thread, each entry once.
- Routed to a channel by rule, then severity, then the default channel.
- Alert storms (``storms``): past ``storm_threshold`` incidents in
  ``storm_window`` seconds, new incidents are listed in one summary's thread; a
  storm incident someone acts on gets its own message in that thread.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.models import Incident
from bot.notify.base import Event
from bot.notify.slack.calls import SlackCalls, SlackUnavailable
from bot.notify.slack.config import SlackConfig
from bot.notify.slack.graphs import GraphPoster
from bot.notify.slack.outbox import Entry, Outbox, Wanted
from bot.notify.slack.render import (
    Message,
    button_specs,
    lifecycle,
    offer_spec,
    render_activity,
    render_incident,
    render_offer,
)
from bot.notify.slack.sender import ChannelSender, Pacer
from bot.notify.slack.state import MessageRef, SlackState
from bot.notify.slack.storms import StormBook
from bot.notify.slack.verification import show_verification
from bot.polling import poll_until
from bot.store import MemoryStore, Store, keys

log = get_logger("slack")
GRAPH_WAIT = 120.0  # how long a graph waits for its message to be posted


__all__ = ["SlackConfig", "SlackNotifier", "SlackUnavailable"]


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, store: Store, config: SlackConfig) -> None:
        self.client = client
        self.store = store
        self.config = config
        self.state = SlackState(store, config.ttl)
        self.outbox = Outbox(store, config.ttl)
        self.storms = StormBook(store, self.state, config)
        owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        calls = self.calls = SlackCalls(client, config.retry_seconds)
        pacers = {channel: Pacer() for channel in config.channels}
        self.senders = {
            channel: ChannelSender(
                channel, store, self.outbox, self.state, calls, config, owner, pacers[channel]
            )
            for channel in config.channels
        }
        # While the store is degraded (its Redis unreachable) the shared outbox's
        # numbering is not shared any more: entries go to this process's own outbox
        # and sender instead, so nothing recorded then is lost when Redis returns.
        local = MemoryStore()
        self.local_outbox = Outbox(local, config.ttl)
        self.local_senders = {
            channel: ChannelSender(
                channel,
                local,
                self.local_outbox,
                self.state,
                calls,
                config,
                owner,
                pacers[channel],
                flushes_storms=False,  # storms are the shared sender's, degraded or not
            )
            for channel in config.channels
        }
        self._tasks: list[asyncio.Task[None]] = []
        self.graphs: GraphPoster | None = None  # set when graphs are on (graphs.py)
        self._graphs_waiting: set[asyncio.Task[None]] = set()

    @property
    def on_failure(self) -> Callable[[str], None]:
        """Told the Web API method of each call that failed after its retries (metrics)."""
        return self.calls.on_failure

    @on_failure.setter
    def on_failure(self, report: Callable[[str], None]) -> None:
        self.calls.on_failure = report

    # lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        if not self._tasks:
            senders = [*self.senders.values(), *self.local_senders.values()]
            self._tasks = [asyncio.create_task(s.run()) for s in senders]

    async def aclose(self) -> None:
        for task in list(self._graphs_waiting):
            task.cancel()
        if self.graphs is not None:
            await self.graphs.aclose()
        for sender in [*self.senders.values(), *self.local_senders.values()]:
            sender.closing = True
            sender.wake.set()
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        self._tasks = []

    # the Notifier protocol -----------------------------------------------------------
    async def notify(self, incident: Incident, event: Event) -> None:
        """Record what Slack must show; the channel's sender shows it."""
        channel = self.config.channel_for(incident)
        wanted = await self.outbox.wanted(incident.id) or await self.local_outbox.wanted(
            incident.id
        )
        if wanted is not None or await self.state.message(incident.id) is not None:
            await self._show(wanted.channel if wanted else channel, incident, event, wanted)
            if event is not Event.RESOLVED:
                await self._queue_activity(channel, incident)
                await show_verification(self, incident)
                self._graph(incident)
            return
        member = await self.state.member_of(incident.id)
        if member is not None:
            await self.storms.refresh(member, incident)
            self._wake(member.channel)
            if event in (Event.DIAGNOSING, Event.DIAGNOSED, Event.RESOLVED):
                return
            # someone acted on a storm incident: it gets a message of its own in the thread
            await self._show(member.channel, incident, event, None, storm=member.storm)
            await self._queue_activity(member.channel, incident)
            return
        if event is Event.RESOLVED:
            log.warning("resolved incident has no Slack message to update", incident=incident.id)
            return
        storm = await self.storms.storm_for(channel, incident)
        if storm is not None:
            await self.storms.add(channel, storm, incident)
            self._wake(channel)
            return
        await self._show(channel, incident, event, None)
        await self._queue_activity(channel, incident)
        self._graph(incident)

    def _graph(self, incident: Incident) -> None:
        """The graph that is due goes to the thread in the background, once the
        channel's sender has posted the message (it is only recorded here)."""
        if self.graphs is None:
            return
        task = asyncio.create_task(self._graph_after_post(incident))
        self._graphs_waiting.add(task)
        task.add_done_callback(self._graphs_waiting.discard)

    async def _graph_after_post(self, incident: Incident) -> None:
        posted = await poll_until(lambda: self.state.message(incident.id), GRAPH_WAIT, 0.2)
        if posted is not None and self.graphs is not None:
            self.graphs.schedule(incident)

    async def settled(self) -> None:
        """Every graph waiting for its message has been handed over (tests)."""
        while self._graphs_waiting:
            await asyncio.gather(*self._graphs_waiting, return_exceptions=True)
        if self.graphs is not None:
            await self.graphs.wait()

    async def render(self, incident: Incident, event: Event | None = None) -> Message:
        """The incident's message with live button references (also for ephemeral views)."""
        lc = lifecycle(incident, event)
        refs = await self.state.button_refs(incident.id, button_specs(incident, lc))
        return render_incident(incident, lc, refs, runbook_base=self.config.runbook_base_url)

    # thread replies other modules post (details, graphs, verification progress) ----------
    # These answer with the reply's reference (verification edits it later), so they
    # call Slack directly instead of going through the outbox.
    async def reply_in_thread(
        self, incident_id: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> MessageRef | None:
        """A reply in the incident's thread; None when it has no message yet."""
        ref = await self.state.message(incident_id)
        if ref is None:
            return None
        key = f"direct:{incident_id}:{uuid.uuid4().hex[:12]}"
        return await self.calls.post(key, ref.channel, text, blocks, ref.thread)

    async def edit_reply(self, reply: MessageRef, message: Message) -> None:
        await self.calls.update(reply.channel, reply.ts, message.text, message.blocks)

    async def message_link(self, incident_id: str) -> str | None:
        ref = await self.state.message(incident_id)
        if ref is None:
            member = await self.state.member_of(incident_id)
            if member is None:
                return None
            posts = await self.state.storm_posts(member.storm)
            if "summary" not in posts:
                return None
            ref = MessageRef(posts["channel"], posts["summary"])
        url = f"https://slack.com/archives/{ref.channel}/p{ref.ts.replace('.', '')}"
        if ref.thread_ts:
            url += f"?thread_ts={ref.thread_ts}&cid={ref.channel}"
        return url

    async def drained(self) -> bool:
        """True when every channel's outbox has been handled (tests, benchmarks)."""
        for outbox in (self.outbox, self.local_outbox):
            for channel in self.senders:
                if await outbox.done(channel) < await outbox.head(channel):
                    return False
        return True

    def _current(self) -> Outbox:
        return self.local_outbox if self.store.degraded else self.outbox

    # recording -------------------------------------------------------------------------
    async def _show(
        self,
        channel: str,
        incident: Incident,
        event: Event,
        previous: Wanted | None,
        storm: str = "",
    ) -> None:
        message = await self.render(incident, event)
        wanted = Wanted(
            channel, message.text, message.blocks, previous.storm if previous else storm
        )
        outbox = self._current()
        await outbox.want(incident.id, wanted)
        await outbox.add(channel, Entry("show", incident.id))
        self._wake(channel)

    async def _queue_activity(self, channel: str, incident: Incident) -> None:
        """Each timeline entry once, as a reply in the message's thread."""
        for i, item in enumerate(incident.activity):
            claim = keys.slack_activity(incident.id, i)
            if await self.store.get_value(claim) is not None:
                continue
            # queued before it is claimed: a worker dying in between queues it twice,
            # and the sender posts a key once
            entry = Entry("reply", incident.id, f"act:{incident.id}:{i}", render_activity(item))
            if item.offer:  # a restore offer: the reply carries its button
                spec = offer_spec(item)
                refs = await self.state.button_refs(incident.id, [spec])
                entry.text, entry.blocks = render_offer(item, refs[spec.key])
            await self._current().add(channel, entry)
            await self.store.set_value(claim, "1", self.config.ttl)
        self._wake(channel)

    def _wake(self, channel: str) -> None:
        for senders in (self.senders, self.local_senders):
            sender = senders.get(channel)
            if sender is not None:
                sender.wake.set()
