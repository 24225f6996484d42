"""A fake Slack Web API on a real port, for the Slack tests and local runs.

Speaks the wire protocol the bot's ``slack_sdk`` client uses: ``POST
/api/{method}`` with a form or JSON body and ``Authorization: Bearer``; answers
``{"ok": …}`` as Slack does (HTTP 200 with ``ok: false`` for API errors, 429
with ``Retry-After`` when rate limited). Implements ``auth.test``,
``chat.postMessage`` (with message ``metadata``), ``chat.update``,
``chat.postEphemeral``, ``conversations.list`` (the channels posted to by name),
``conversations.history`` and ``conversations.replies``
(newest first / parent first, ``oldest``/``latest``/``inclusive``, cursor paging,
metadata only with ``include_all_metadata``, channel ids only as Slack
requires), ``users.info``, ``usergroups.list`` and ``usergroups.users.list``,
and records every call.

- ``chat.postMessage`` is limited per channel like Slack's (about one message a
  second, small bursts tolerated): a token bucket of ``burst`` messages refilled
  at ``rate`` a second; beyond it, 429 with ``Retry-After``.
- Failure injection: ``down = 503`` answers every call with that status;
  ``fail_next(n, status, method, retry_after)`` fails the next ``n`` calls.
  ``stop()`` / ``start()`` (same port) gives connection refused in between.
- Block Kit limits Slack enforces server-side are checked (50 blocks, text and
  field lengths, elements per block): a message over them gets ``invalid_blocks``.
- ``/response/{key}``: a ``response_url`` endpoint recording what is posted.
- Socket Mode: ``apps.connections.open`` (app-level token) hands out
  ``ws://…/socket``; ``send_envelope`` pushes an interaction to the connected
  app and ``socket_acks`` records its acknowledgements.

Also builds signed requests exactly as Slack signs them (``sign``,
``interaction_body``, ``command_body``, ``block_actions``).

    python -m tests.fakes.slack_api --port 3001 --token xoxb-fake
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from tests.helpers import free_port

TEAM_ID = "T0FAKE"
BOT_USER = "U0BOT"
_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    status: int
    ok: bool
    error: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str = ""
    updates: int = 0
    metadata: dict[str, Any] | None = None  # message metadata, as chat.postMessage took it

    def as_history(self, with_metadata: bool) -> dict[str, Any]:
        """The message as conversations.history / .replies return it."""
        found: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER,
            "bot_id": "B0BOT",
            "text": self.text,
            "ts": self.ts,
            "blocks": self.blocks,
        }
        if self.thread_ts:
            found["thread_ts"] = self.thread_ts
        if with_metadata and self.metadata:
            found["metadata"] = self.metadata
        return found


@dataclass
class Upload:
    """A file shared by files.completeUploadExternal (the third step of files_upload_v2)."""

    id: str
    filename: str
    title: str
    data: bytes
    channel: str
    thread_ts: str = ""
    initial_comment: str = ""


def channel_id(name: str) -> str:
    """``#incidents`` → a stable fake id; an id stays as it is."""
    if _ID.match(name):
        return name
    return "C" + hashlib.sha1(name.lstrip("#").encode()).hexdigest()[:9].upper()


def _check_blocks(blocks: Any) -> str:
    """The Block Kit limits Slack enforces on its side; '' when fine."""
    if blocks is None:
        return ""
    if not isinstance(blocks, list) or len(blocks) > 50:
        return "more than 50 blocks"
    for block in blocks:
        if not isinstance(block, dict) or "type" not in block:
            return "block without a type"
        kind = block["type"]
        text = (block.get("text") or {}).get("text", "")
        if kind == "header" and len(text) > 150:
            return "header text over 150"
        if kind == "section":
            if len(text) > 3000:
                return "section text over 3000"
            fields = block.get("fields") or []
            if len(fields) > 10 or any(len(f.get("text", "")) > 2000 for f in fields):
                return "section fields over 10 or over 2000 characters"
            if not text and not fields:
                return "section without text or fields"
        if kind == "actions" and len(block.get("elements") or []) > 25:
            return "more than 25 elements in actions"
        if kind == "context" and len(block.get("elements") or []) > 10:
            return "more than 10 elements in context"
    return ""


class FakeSlack:
    def __init__(
        self,
        token: str = "xoxb-fake-token",
        rate: float = 1.0,
        burst: int = 3,
        users: dict[str, str] | None = None,
        groups: dict[str, list[str]] | None = None,
    ) -> None:
        self.token = token
        self.rate = rate
        self.burst = burst
        self.users = users or {"U0ALICE": "alice", "U0BOB": "bob", "U0EVE": "eve"}
        self.groups = groups or {}  # handle → user ids
        self.calls: list[Call] = []
        self.messages: list[Posted] = []
        self.ephemeral: list[dict[str, Any]] = []
        self.responses: list[dict[str, Any]] = []
        self.rate_limited = 0
        self.down: int | None = None
        self.app_token = "xapp-1-fake-app-token"
        self.sockets: list[web.WebSocketResponse] = []
        self.socket_acks: list[dict[str, Any]] = []
        self._fail: list[tuple[str | None, int, float | None]] = []
        self._buckets: dict[str, tuple[float, float]] = {}
        self._ts = itertools.count(1)
        self.channel_names: dict[str, str] = {}  # id → name, for channels posted to by name
        self._file_ids = itertools.count(1)
        self.pending_files: dict[str, dict[str, Any]] = {}  # file id → {filename, length, data}
        self.uploads: list[Upload] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    # running -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self, key: str) -> str:
        return f"{self.url}/response/{key}"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("GET", "/api/{method}", self._api)  # some methods are GETs
        app.router.add_post("/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        return app

    async def start(self, port: int = 0) -> FakeSlack:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        self.port = port or self.port or free_port()  # a restart keeps its port
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        return self

    async def stop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # failure injection ---------------------------------------------------------------
    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        method: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self._fail += [(method, status, retry_after)] * count

    # what happened -------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, top_level: bool | None = None) -> list[Posted]:
        if top_level is None:
            return list(self.messages)
        return [m for m in self.messages if (not m.thread_ts) == top_level]

    def message(self, ts: str) -> Posted | None:
        return next((m for m in self.messages if m.ts == ts), None)

    def replies(self, thread_ts: str) -> list[Posted]:
        return [m for m in self.messages if m.thread_ts == thread_ts]

    # handlers -------------------------------------------------------------------------
    async def _response(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.responses.append({"key": request.match_info["key"], **body})
        return web.Response(text="ok")

    async def _args(self, request: web.Request) -> dict[str, Any]:
        args: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            args.update(body if isinstance(body, dict) else {})
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                args[key] = value if isinstance(value, str) else str(value)
        for key in ("blocks", "attachments", "metadata"):
            if isinstance(args.get(key), str):
                try:
                    args[key] = json.loads(args[key])
                except ValueError:
                    pass
        return args

    def _reply(
        self,
        method: str,
        args: dict[str, Any],
        body: dict[str, Any],
        status: int = 200,
        **headers: str,
    ) -> web.Response:
        self.calls.append(
            Call(method, args, status, bool(body.get("ok")), str(body.get("error", "")))
        )
        return web.json_response(body, status=status, headers=headers or None)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        if self.down is not None:
            self.calls.append(Call(method, args, self.down, False, "down"))
            return web.Response(
                status=self.down, text="upstream connect error", content_type="text/html"
            )
        for i, (only, status, retry_after) in enumerate(self._fail):
            if only is None or only == method:
                del self._fail[i]
                headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else {}
                if status == 429:
                    self.rate_limited += 1
                    return self._reply(
                        method, args, {"ok": False, "error": "ratelimited"}, 429, **headers
                    )
                self.calls.append(Call(method, args, status, False, "injected"))
                return web.Response(
                    status=status, text="injected failure", content_type="text/html"
                )
        auth = request.headers.get("Authorization", "")
        if not auth:
            return self._reply(method, args, {"ok": False, "error": "not_authed"})
        # apps.connections.open takes the app-level token, every other method the bot token
        expected = self.app_token if method == "apps.connections.open" else self.token
        if not hmac.compare_digest(auth, f"Bearer {expected}"):
            return self._reply(method, args, {"ok": False, "error": "invalid_auth"})
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return self._reply(method, args, {"ok": False, "error": "unknown_method"})
        result = handler(args)
        if isinstance(result, web.Response):
            return result
        return self._reply(method, args, result)

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _take_token(self, channel: str) -> float:
        """0 when a message may go now, else the seconds until one may."""
        now = time.monotonic()
        tokens, last = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[channel] = (tokens - 1, now)
        return 0.0

    # methods -------------------------------------------------------------------------
    def _m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """Socket Mode: a hello, then envelopes pushed by ``send_envelope``; acks recorded."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"}})
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    self.socket_acks.append(json.loads(msg.data))
        finally:
            self.sockets.remove(ws)
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Push an ``interactive`` / ``slash_commands`` envelope to the connected app."""
        envelope_id = f"env-{next(self._ts)}"
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "payload": payload,
                "accepts_response_payload": kind != "events_api",
                "retry_attempt": 0,
                "retry_reason": "",
            }
        )
        return envelope_id

    def _m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "honua-bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER,
            "bot_id": "B0BOT",
        }

    def _content_error(self, args: dict[str, Any]) -> str:
        if not args.get("text") and not args.get("blocks"):
            return "no_text"
        problem = _check_blocks(args.get("blocks"))
        return "invalid_blocks" if problem else ""

    def _m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any] | web.Response:
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        cid = channel_id(str(args["channel"]))
        if cid != args["channel"]:
            self.channel_names[cid] = str(args["channel"]).lstrip("#")
        wait = self._take_token(cid)
        if wait > 0:
            self.rate_limited += 1
            return self._reply(
                "chat.postMessage",
                args,
                {"ok": False, "error": "ratelimited"},
                429,
                **{"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if error := self._content_error(args):
            return {"ok": False, "error": error}
        thread = str(args.get("thread_ts") or "")
        if thread and not any(m.ts == thread and m.channel == cid for m in self.messages):
            return {"ok": False, "error": "thread_not_found"}
        metadata = args.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, dict)
            and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload"), dict)
        ):
            return {"ok": False, "error": "invalid_metadata_format"}
        posted = Posted(
            cid,
            self._next_ts(),
            str(args.get("text", "")),
            args.get("blocks") or [],
            thread,
            metadata=metadata,
        )
        self.messages.append(posted)
        return {
            "ok": True,
            "channel": cid,
            "ts": posted.ts,
            "message": {"text": posted.text, "ts": posted.ts},
        }

    # files_upload_v2, as the real API does it: ask for an upload URL (filename and
    # length required), POST the bytes there, then complete to share in a channel/thread
    def _m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            length = int(args.get("length", ""))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        if not args.get("filename") or length <= 0:
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._file_ids):08d}"
        self.pending_files[file_id] = {"filename": args["filename"], "length": length}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    async def _upload(self, request: web.Request) -> web.Response:
        pending = self.pending_files.get(request.match_info["file_id"])
        if pending is None:
            return web.Response(status=404, text="unknown upload URL")
        data = await request.read()
        if len(data) != pending["length"]:
            return web.Response(status=400, text="length mismatch")
        pending["data"] = data
        return web.Response(text=f"OK - {len(data)}")

    def _m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        try:
            files = json.loads(str(args.get("files", "")))
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        cid = channel_id(str(args.get("channel_id", ""))) if args.get("channel_id") else ""
        thread = str(args.get("thread_ts") or "")
        if thread and not any(m.ts == thread and m.channel == cid for m in self.messages):
            return {"ok": False, "error": "invalid_thread_ts"}
        done = []
        for f in files:
            pending = self.pending_files.get(str(f.get("id")))
            if pending is None or "data" not in pending:
                return {"ok": False, "error": "file_not_found"}
            done.append((f, pending))
        for f, pending in done:
            del self.pending_files[f["id"]]
            self.uploads.append(
                Upload(
                    f["id"],
                    pending["filename"],
                    str(f.get("title") or pending["filename"]),
                    pending["data"],
                    cid,
                    thread,
                    str(args.get("initial_comment") or ""),
                )
            )
        return {
            "ok": True,
            "files": [{"id": f["id"], "title": f.get("title", "")} for f, _ in done],
        }

    def _m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        cid = channel_id(str(args.get("channel", "")))
        found = next(
            (m for m in self.messages if m.ts == args.get("ts") and m.channel == cid), None
        )
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        if error := self._content_error(args):
            return {"ok": False, "error": error}
        found.text = str(args.get("text", ""))
        found.blocks = args.get("blocks") or []
        found.updates += 1
        return {"ok": True, "channel": cid, "ts": found.ts, "text": found.text}

    def _page(self, args: dict[str, Any], found: list[Posted]) -> dict[str, Any]:
        """``oldest``/``latest`` (exclusive unless ``inclusive``), ``limit`` and ``cursor``."""
        inclusive = str(args.get("inclusive", "")).lower() in ("1", "true")
        oldest = float(args.get("oldest") or 0)
        latest = float(args.get("latest") or 0) or math.inf

        def within(m: Posted) -> bool:
            ts = float(m.ts)
            if inclusive:
                return oldest <= ts <= latest
            return oldest < ts < latest

        found = [m for m in found if within(m)]
        start = int(args.get("cursor") or 0)
        limit = min(int(args.get("limit") or 100), 999)
        page = found[start : start + limit]
        more = start + limit < len(found)
        with_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        return {
            "ok": True,
            "messages": [m.as_history(with_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_conversations_list(self, args: dict[str, Any]) -> dict[str, Any]:
        channels = [
            {"id": cid, "name": name, "is_channel": True, "is_archived": False}
            for cid, name in sorted(self.channel_names.items())
        ]
        start = int(args.get("cursor") or 0)
        limit = int(args.get("limit") or 100)
        more = start + limit < len(channels)
        return {
            "ok": True,
            "channels": channels[start : start + limit],
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages (thread replies are not in a channel's history), newest first."""
        channel = str(args.get("channel", ""))
        if not _ID.match(channel):  # Slack wants the id here, not #name
            return {"ok": False, "error": "channel_not_found"}
        found = [m for m in self.messages if m.channel == channel and not m.thread_ts]
        return self._page(args, sorted(found, key=lambda m: float(m.ts), reverse=True))

    def _m_conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent, then the replies oldest first."""
        channel = str(args.get("channel", ""))
        if not _ID.match(channel):
            return {"ok": False, "error": "channel_not_found"}
        ts = str(args.get("ts", ""))
        parent = [m for m in self.messages if m.channel == channel and m.ts == ts]
        if not parent:
            return {"ok": False, "error": "thread_not_found"}
        replies = [m for m in self.messages if m.channel == channel and m.thread_ts == ts]
        return self._page(args, parent + sorted(replies, key=lambda m: float(m.ts)))

    def _m_chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "channel_not_found"}
        self.ephemeral.append(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": {"id": user, "name": self.users[user], "team_id": TEAM_ID}}

    def _m_usergroups_list(self, args: dict[str, Any]) -> dict[str, Any]:
        include = str(args.get("include_users", "")).lower() in ("1", "true")
        groups = []
        for i, (handle, members) in enumerate(sorted(self.groups.items())):
            group: dict[str, Any] = {"id": f"S0GROUP{i}", "handle": handle, "name": handle}
            if include:
                group["users"] = list(members)
            groups.append(group)
        return {"ok": True, "usergroups": groups}

    def _m_usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        for i, (_, members) in enumerate(sorted(self.groups.items())):
            if args.get("usergroup") == f"S0GROUP{i}":
                return {"ok": True, "users": list(members)}
        return {"ok": False, "error": "no_such_subteam"}


# -- requests as Slack signs them ----------------------------------------------------------
def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers Slack sends: v0 = HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def interaction_body(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def find_button(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    for block in blocks:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        for element in elements:
            if element.get("type") == "button" and element.get("action_id") == action_id:
                return {**element, "block_id": block.get("block_id", "")}
    return None


def block_actions(
    button: dict[str, Any],
    *,
    user: str = "U0ALICE",
    user_name: str = "alice",
    channel: str = "C0FAKE",
    channel_name: str = "incidents",
    message_ts: str = "",
    response_url: str = "",
) -> dict[str, Any]:
    """A ``block_actions`` payload for a click on ``button`` (as found in a posted message)."""
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user_name, "name": user_name, "team_id": TEAM_ID},
        "api_app_id": "A0FAKE",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.1.abc",
        "team": {"id": TEAM_ID, "domain": "fake"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": channel_name},
        "message": {"type": "message", "ts": message_ts, "bot_id": "B0BOT"},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": button.get("block_id", ""),
                "text": button.get("text", {"type": "plain_text", "text": ""}),
                "value": button.get("value", ""),
                "type": "button",
                "action_ts": f"{time.time():.6f}",
                **({"style": button["style"]} if "style" in button else {}),
            }
        ],
    }


def command_body(
    text: str,
    *,
    user: str = "U0ALICE",
    user_name: str = "alice",
    channel: str = "C0FAKE",
    response_url: str = "",
    command: str = "/honua",
) -> str:
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "fake",
            "channel_id": channel,
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0FAKE",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": f"{int(time.time())}.1.abc",
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="a fake Slack Web API")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--token", default="xoxb-fake-token")
    parser.add_argument(
        "--rate", type=float, default=1.0, help="chat.postMessage per channel per second"
    )
    parser.add_argument("--burst", type=int, default=3)
    args = parser.parse_args()

    async def run() -> None:
        fake = await FakeSlack(args.token, args.rate, args.burst).start(args.port)
        print(f"fake Slack Web API at {fake.api_url} (token {args.token})", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
