"""One living Slack message per incident.

- Posted once per incident — the post is keyed in the store, so a redelivered
  notification or another replica updates it instead of posting again — then
  ``chat.update`` in place for every later state; resolved updates the same
  message and never posts a new one. Progress (``incident.activity``) goes to the
  message's thread, each entry once.
- Routed to a channel by rule, then severity, then the default channel.
- Alert storms: when more than ``storm_threshold`` incidents open in a channel
  within ``storm_window`` seconds, new ones are not posted one by one: one
  summary message (counts by rule and scenario, updated in place) is posted and
  the incidents are listed in its thread, a few dozen per reply, each with a
  Details button. A storm incident someone acts on gets its own message in that
  thread.
- Slack's limits: ``chat.postMessage`` is paced per channel (store-wide, so
  replicas share the pace), 429 ``Retry-After`` is honoured and 5xx/connection
  errors are retried with backoff. When Slack stays down the error is raised so
  the queue entry is retried later; nothing is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay

from bot.logs import get_logger
from bot.models import Incident, IncidentStatus
from bot.notify.base import Event
from bot.notify.slack.graphs import GraphPoster
from bot.notify.slack.render import (
    DIGEST_SIZE,
    ButtonKind,
    ButtonSpec,
    Message,
    StormMember,
    button_specs,
    lifecycle,
    render_activity,
    render_incident,
    render_storm_digest,
    render_storm_summary,
)
from bot.notify.slack.state import MemberRef, MessageRef, SlackState
from bot.notify.slack.verification import show_verification
from bot.store import Store
from bot.store.lease import leased

log = get_logger("slack")

POST_LEASE = 15.0  # seconds the per-incident post lock outlives a dead holder

# chat.update answers that no retry can fix (the message was deleted, say)
_GONE = {"message_not_found", "cant_update_message", "channel_not_found", "is_archived"}


class SlackUnavailable(Exception):
    """Slack did not take the message; raised so the queue entry is retried."""


@dataclass
class SlackConfig:
    default_channel: str
    by_rule: dict[str, str] = field(default_factory=dict)
    by_severity: dict[str, str] = field(default_factory=dict)
    storm_threshold: int = 10  # 0 disables storm mode
    storm_window: float = 600.0
    storm_flush_interval: float = 3.0
    post_interval: float = 1.0  # chat.postMessage per channel, at most one per this many seconds
    retry_seconds: float = 10.0  # how long one call is retried before the error is raised
    ttl: float = 30 * 86400  # how long message refs and button refs are kept
    runbook_base_url: str = ""  # the runbooks document; its section anchors are linked

    def channel_for(self, incident: Incident) -> str:
        if incident.rule and incident.rule in self.by_rule:
            return self.by_rule[incident.rule]
        if incident.severity and incident.severity in self.by_severity:
            return self.by_severity[incident.severity]
        return self.default_channel

    @property
    def channels(self) -> list[str]:
        seen = [self.default_channel, *self.by_rule.values(), *self.by_severity.values()]
        return list(dict.fromkeys(seen))


def _retry_after(exc: SlackApiError) -> float:
    headers = exc.response.headers or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(float(value[0] if isinstance(value, list) else value), 0.0)
            except (TypeError, ValueError):
                break
    return 1.0


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        return status == 429 or status >= 500
    return isinstance(exc, aiohttp.ClientError | TimeoutError | OSError)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, SlackApiError) and exc.response.status_code == 429:
        return _retry_after(exc)
    return min(0.25 * 2 ** (state.attempt_number - 1), 8.0)


def _error_code(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error", f"HTTP {exc.response.status_code}"))


def _hash(message: Message) -> str:
    return hashlib.sha256(json.dumps(message.blocks, sort_keys=True).encode()).hexdigest()[:16]


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, store: Store, config: SlackConfig) -> None:
        self.client = client
        self.store = store
        self.config = config
        self.state = SlackState(store, config.ttl)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.graphs: GraphPoster | None = (
            None  # set when graphs are on (bot/notify/slack/graphs.py)
        )
        # told the Web API method of each call that failed after its retries (metrics)
        self.on_failure: Callable[[str], None] = lambda method: None

    # lifecycle -----------------------------------------------------------------
    async def start(self) -> None:
        if self._task is None and self.config.storm_threshold > 0:
            self._task = asyncio.create_task(self._flush_loop())

    async def aclose(self) -> None:
        if self.graphs is not None:
            await self.graphs.aclose()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # the Notifier protocol -----------------------------------------------------------
    async def notify(self, incident: Incident, event: Event) -> None:
        channel = self.config.channel_for(incident)
        ref = await self.state.message(incident.id)
        if ref is not None:
            await self._update(ref, incident, event)
            if event is not Event.RESOLVED:
                await self._post_activity(channel, ref, incident)
                await show_verification(self, incident)
                self._graph(incident)
            return
        member = await self.state.member_of(incident.id)
        if member is not None:
            await self._update_member(member, incident)
            if event in (Event.DIAGNOSING, Event.DIAGNOSED, Event.RESOLVED):
                return
            # someone acted on a storm incident: it gets a message of its own in the thread
            ref = await self._promote(member, incident, event)
            await self._post_activity(channel, ref, incident)
            return
        if event is Event.RESOLVED:
            log.warning("resolved incident has no Slack message to update", incident=incident.id)
            return
        storm = await self._storm_for(channel, incident)
        if storm is not None:
            await self.state.add_member(channel, storm, await self._storm_member(incident))
            self._wake.set()
            return
        ref = await self._post_once(channel, incident, event)
        await self._post_activity(channel, ref, incident)
        self._graph(incident)

    def _graph(self, incident: Incident) -> None:
        """The graph that is due goes to the thread in the background, after the message."""
        if self.graphs is not None:
            self.graphs.schedule(incident)

    async def render(self, incident: Incident, event: Event | None = None) -> Message:
        """The incident's message with live button references (also for ephemeral views)."""
        lc = lifecycle(incident, event)
        refs = await self.state.button_refs(incident.id, button_specs(incident, lc))
        return render_incident(incident, lc, refs, runbook_base=self.config.runbook_base_url)

    # thread replies other modules post (details, graphs, verification progress) ----------
    async def reply_in_thread(
        self, incident_id: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> MessageRef | None:
        """A reply in the incident's thread; None when it has no message of its own."""
        ref = await self.state.message(incident_id)
        if ref is None:
            return None
        return await self._post(ref.channel, ref.channel, text, blocks, ref.thread)

    async def edit_reply(self, reply: MessageRef, message: Message) -> None:
        await self._update_raw(reply.channel, reply.ts, message)

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

    # posting and updating -------------------------------------------------------------
    async def _post_once(
        self, channel: str, incident: Incident, event: Event, thread_ts: str = ""
    ) -> MessageRef:
        """Post the incident's message unless someone already has (store-keyed)."""
        # A lease, renewed while the post runs: a replica killed mid-post frees it
        # within POST_LEASE seconds instead of blocking the incident's message longer.
        lock = f"slack-post:{incident.id}"
        async with leased(self.store, lock, uuid.uuid4().hex, POST_LEASE) as held:
            if not held:
                raise SlackUnavailable(f"another worker is posting {incident.id}; retried later")
            ref = await self.state.message(incident.id)
            if ref is not None:  # posted meanwhile (a replica, a redelivery)
                await self._update(ref, incident, event)
                return ref
            message = await self.render(incident, event)
            ref = await self._post(channel, channel, message.text, message.blocks, thread_ts)
            await self.state.save_message(incident.id, ref)
            log.info("slack message posted", incident=incident.id, channel=ref.channel, ts=ref.ts)
            return ref

    async def _update(self, ref: MessageRef, incident: Incident, event: Event) -> None:
        message = await self.render(incident, event)
        await self._update_raw(ref.channel, ref.ts, message)

    async def _update_raw(self, channel: str, ts: str, message: Message) -> None:
        async def once() -> AsyncSlackResponse:
            return await self.client.chat_update(
                channel=channel, ts=ts, text=message.text, blocks=message.blocks
            )

        try:
            await self._retry(once, "chat.update")
        except SlackUnavailable as exc:
            if isinstance(exc.__cause__, SlackApiError) and _error_code(exc.__cause__) in _GONE:
                log.warning(
                    "slack message cannot be updated", channel=channel, ts=ts, error=str(exc)
                )
                return
            raise

    async def _post(
        self,
        pace_key: str,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str = "",
    ) -> MessageRef:
        async def once() -> AsyncSlackResponse:
            await self._pace(pace_key)
            return await self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts or None,
                unfurl_links=False,
                unfurl_media=False,
            )

        resp = await self._retry(once, "chat.postMessage")
        return MessageRef(str(resp["channel"]), str(resp["ts"]), thread_ts)

    async def _pace(self, key: str) -> None:
        """At most one chat.postMessage per channel per ``post_interval``, across replicas."""
        interval = self.config.post_interval
        if interval <= 0:
            return
        deadline = time.monotonic() + max(60.0, interval * 10)
        while not await self.store.set_value(
            f"slack:pace:{key}", "1", ttl_seconds=interval, only_if_absent=True
        ):
            if time.monotonic() > deadline:
                raise SlackUnavailable(f"channel {key} stayed busy (pacing)")
            await asyncio.sleep(min(0.05, interval / 4))

    async def _retry(
        self, call: Callable[[], Awaitable[AsyncSlackResponse]], method: str
    ) -> AsyncSlackResponse:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "slack call failed; retrying",
                method=method,
                attempt=state.attempt_number,
                error=_describe(exc),
            )

        retrying = AsyncRetrying(
            stop=stop_after_delay(self.config.retry_seconds),
            wait=_wait,
            retry=retry_if_exception(_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return await retrying(call)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
            self.on_failure(method)
            raise SlackUnavailable(f"{method}: {_describe(exc)}") from exc

    async def _post_activity(self, pace_key: str, ref: MessageRef, incident: Incident) -> None:
        """Each timeline entry once, as a reply in the message's thread."""
        for i, entry in enumerate(incident.activity):
            claim = f"slack:activity:{incident.id}:{i}"
            if not await self.store.set_value(claim, "1", self.config.ttl, only_if_absent=True):
                continue
            try:
                await self._post(pace_key, ref.channel, render_activity(entry), None, ref.thread)
            except Exception:
                await self.store.delete_value(claim)
                raise

    # storms -----------------------------------------------------------------------------
    async def _storm_for(self, channel: str, incident: Incident) -> str | None:
        """The channel's storm id when it is storming (counting this incident once)."""
        cfg = self.config
        if cfg.storm_threshold <= 0:
            return None
        opened = f"slack:opened:{channel}"
        counted = f"slack:counted:{incident.id}"
        if await self.store.set_value(counted, "1", cfg.storm_window, only_if_absent=True):
            count = await self.store.incr(opened, cfg.storm_window)
        else:
            count = int(await self.store.get_value(opened) or 0)
        key = f"slack:storm:{channel}"
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

    async def _storm_member(self, incident: Incident) -> StormMember:
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

    async def _update_member(self, member: MemberRef, incident: Incident) -> None:
        fresh = await self._storm_member(incident)
        if await self.state.member(member.storm, member.seq) != fresh:
            await self.state.save_member(member.storm, member.seq, fresh)
            await self.state.mark_dirty(member.storm)
            self._wake.set()

    async def _promote(self, member: MemberRef, incident: Incident, event: Event) -> MessageRef:
        posts = await self.state.storm_posts(member.storm)
        if "summary" not in posts:
            await self._flush_storm(member.storm, member.channel)
            posts = await self.state.storm_posts(member.storm)
        return await self._post_once(member.channel, incident, event, posts["summary"])

    async def _flush_loop(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.storm_flush_interval)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush_storms()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("storm flush failed; retried on the next round")
            # the summary and the digests change at most once per interval
            await asyncio.sleep(self.config.storm_flush_interval)

    async def flush_storms(self) -> None:
        """Bring every dirty storm's summary and thread up to date (any replica may)."""
        for channel in self.config.channels:
            storm = await self.state.last_storm(channel)
            if storm is None:
                continue
            owner = uuid.uuid4().hex
            lock = f"slack-storm:{storm}"
            if not await self.store.acquire(lock, owner, 120):
                continue
            try:
                if not await self.state.take_dirty(storm):
                    continue
                try:
                    await self._flush_storm(storm, channel)
                except Exception as exc:
                    await self.state.mark_dirty(storm)
                    log.warning("storm summary not updated; retrying", error=str(exc))
            finally:
                await self.store.release(lock, owner)

    async def _flush_storm(self, storm: str, channel: str) -> None:
        members = await self.state.members(storm)
        if not members:
            return
        posts = await self.state.storm_posts(storm)
        cfg = self.config
        summary = render_storm_summary(
            [m for _, m in members], cfg.storm_threshold, cfg.storm_window
        )
        if "summary" not in posts:
            ref = await self._post(channel, channel, summary.text, summary.blocks)
            posts.update({"summary": ref.ts, "channel": ref.channel, "summary#": _hash(summary)})
            await self.state.save_storm_posts(storm, posts)
        chunks: dict[int, list[tuple[int, StormMember]]] = {}
        for seq, m in members:
            chunks.setdefault((seq - 1) // DIGEST_SIZE, []).append((seq, m))
        for index, chunk in sorted(chunks.items()):
            digest = render_storm_digest(chunk)
            key = f"d{index}"
            if key not in posts:
                ref = await self._post(
                    channel, posts["channel"], digest.text, digest.blocks, posts["summary"]
                )
                posts.update({key: ref.ts, f"{key}#": _hash(digest)})
                await self.state.save_storm_posts(storm, posts)
            elif posts.get(f"{key}#") != _hash(digest):
                await self._update_raw(posts["channel"], posts[key], digest)
                posts[f"{key}#"] = _hash(digest)
                await self.state.save_storm_posts(storm, posts)
        if posts.get("summary#") != _hash(summary):
            await self._update_raw(posts["channel"], posts["summary"], summary)
            posts["summary#"] = _hash(summary)
            await self.state.save_storm_posts(storm, posts)


def _describe(exc: BaseException | None) -> str:
    if isinstance(exc, SlackApiError):
        return f"HTTP {exc.response.status_code}: {_error_code(exc)}"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown error"
