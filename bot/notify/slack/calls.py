"""Slack Web API calls the outbox sender makes: post (with message metadata
naming what the message is), update, and finding a message posted by an earlier
attempt. Transient failures (429, 5xx, connection errors) are retried with
tenacity, honouring ``Retry-After``; what is still failing after
``retry_seconds`` is raised as :class:`SlackUnavailable` and retried by the
sender later, so nothing is lost."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay

from bot.logs import get_logger
from bot.notify.slack.state import MessageRef

log = get_logger("slack")

METADATA_EVENT = "honua_bot_message"  # message metadata event_type; the payload names the key
# chat.update answers that no retry can fix (the message was deleted, say)
GONE = {"message_not_found", "cant_update_message", "channel_not_found", "is_archived"}
HISTORY_PAGES = 10  # pages of conversations.history searched for an earlier attempt


class SlackUnavailable(Exception):
    """Slack did not take the call (yet): the sender keeps the entry and retries."""

    def __init__(self, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SlackRejected(Exception):
    """Slack refused the call for good (invalid blocks, unknown channel): skipped."""


def retry_after(exc: SlackApiError) -> float:
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
        return retry_after(exc)
    return min(0.25 * 2 ** (state.attempt_number - 1), 8.0)


def error_code(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error", f"HTTP {exc.response.status_code}"))


def describe(exc: BaseException | None) -> str:
    if isinstance(exc, SlackApiError):
        return f"HTTP {exc.response.status_code}: {error_code(exc)}"
    return f"{type(exc).__name__}: {exc}" if exc else "unknown error"


def content_hash(text: str, blocks: list[dict[str, Any]] | None) -> str:
    raw = json.dumps([text, blocks], sort_keys=True).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


class SlackCalls:
    def __init__(self, client: AsyncWebClient, retry_seconds: float) -> None:
        self.client = client
        self.retry_seconds = retry_seconds
        # told the Web API method of each call that failed after its retries (metrics)
        self.on_failure: Callable[[str], None] = lambda method: None

    async def post(
        self,
        key: str,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None,
        thread_ts: str = "",
    ) -> MessageRef:
        """chat.postMessage carrying ``key`` in its metadata (see :meth:`find`)."""

        async def once() -> AsyncSlackResponse:
            return await self.client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts or None,
                metadata={"event_type": METADATA_EVENT, "event_payload": {"key": key}},
                unfurl_links=False,
                unfurl_media=False,
            )

        resp = await self._retry(once, "chat.postMessage")
        return MessageRef(str(resp["channel"]), str(resp["ts"]), thread_ts)

    async def update(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> bool:
        """False when the message is gone (deleted, archived channel): nothing to update."""

        async def once() -> AsyncSlackResponse:
            return await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

        try:
            await self._retry(once, "chat.update")
        except SlackRejected as exc:
            if isinstance(exc.__cause__, SlackApiError) and error_code(exc.__cause__) in GONE:
                log.warning(
                    "slack message cannot be updated", channel=channel, ts=ts, error=str(exc)
                )
                return False
            raise
        return True

    async def find(self, key: str, channel: str, since: float, thread_ts: str = "") -> str | None:
        """The ts of a message the bot posted with ``key`` at or after ``since``:
        conversations.history (top level) or conversations.replies (a thread)."""
        cursor = ""
        for _ in range(HISTORY_PAGES):
            args: dict[str, Any] = {
                "channel": channel,
                "oldest": f"{since:.6f}",
                "inclusive": True,
                "include_all_metadata": True,
                "limit": 200,
            }
            if cursor:
                args["cursor"] = cursor

            async def once(args: dict[str, Any] = args) -> AsyncSlackResponse:
                if thread_ts:
                    return await self.client.conversations_replies(ts=thread_ts, **args)
                return await self.client.conversations_history(**args)

            resp = await self._retry(once, "conversations.history")
            for message in resp.get("messages") or []:
                meta = message.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if meta.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                    return str(message["ts"])
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not resp.get("has_more") or not cursor:
                return None
        return None

    async def channel_id(self, name: str) -> str | None:
        """The id of channel ``#name`` (conversations.history takes ids only)."""
        wanted = name.lstrip("#")
        cursor = ""
        for _ in range(HISTORY_PAGES):
            args: dict[str, Any] = {
                "types": "public_channel,private_channel",
                "exclude_archived": True,
                "limit": 1000,
            }
            if cursor:
                args["cursor"] = cursor

            async def once(args: dict[str, Any] = args) -> AsyncSlackResponse:
                return await self.client.conversations_list(**args)

            resp = await self._retry(once, "conversations.list")
            for channel in resp.get("channels") or []:
                if channel.get("name") == wanted:
                    return str(channel["id"])
            cursor = str((resp.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        return None

    async def _retried(
        self, call: Callable[[], Awaitable[AsyncSlackResponse]], method: str
    ) -> AsyncSlackResponse:
        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "slack call failed; retrying",
                method=method,
                attempt=state.attempt_number,
                error=describe(exc),
            )

        retrying = AsyncRetrying(
            stop=stop_after_delay(self.retry_seconds),
            wait=_wait,
            retry=retry_if_exception(_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        try:
            return await retrying(call)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, OSError):
            self.on_failure(method)
            raise

    async def _retry(
        self, call: Callable[[], Awaitable[AsyncSlackResponse]], method: str
    ) -> AsyncSlackResponse:
        try:
            return await self._retried(call, method)
        except SlackApiError as exc:
            if _transient(exc):
                wait = retry_after(exc) if exc.response.status_code == 429 else 0.0
                raise SlackUnavailable(f"{method}: {describe(exc)}", wait) from exc
            raise SlackRejected(f"{method}: {describe(exc)}") from exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise SlackUnavailable(f"{method}: {describe(exc)}") from exc
