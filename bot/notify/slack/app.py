"""Slack → bot: button clicks and ``/honua``, through Bolt.

HTTP: ``POST /slack/events`` on the bot's own aiohttp app. The v0 signature and
its 5-minute window are checked (Slack's ``SignatureVerifier``, as Bolt does)
and an identical signed request seen before inside that window is refused as a
replay — both with 401 and no effect. Socket Mode instead when an app token is
set (no public URL needed; Slack authenticates the socket).

A click is acked first (``process_before_response=False``: Bolt answers Slack as
soon as ``ack()`` runs), then: the button's opaque value is resolved from the
store (never parameters from the payload), a stale one gets an ephemeral
explanation; the clicker is authorized for that action (refusals are ephemeral
and audited); a double click acts once (a store key per button and user); the
request goes to the engine's :class:`~bot.remediation.requests.IncidentRequests`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.emergency import BadProcessId, raise_emergency
from bot.alerts.intake import IntakeError
from bot.audit import AuditEntry, AuditLog
from bot.logs import get_logger
from bot.models import IncidentStatus
from bot.notify.slack import endpoint
from bot.notify.slack.auth import Authorizer
from bot.notify.slack.identity import BotIdentity
from bot.notify.slack.notifier import SlackNotifier
from bot.notify.slack.render import (
    SILENCES,
    ButtonKind,
    Message,
    esc,
    render_details,
    render_status,
)
from bot.notify.slack.state import ButtonRef
from bot.polling import until_true
from bot.remediation.requests import Actor, Decision, IncidentRequests, Verdict
from bot.store import Store, keys

log = get_logger("slack")
audit = get_logger("audit")

_SLACK_ACTOR = re.compile(r"\bslack:([UW][A-Z0-9]+)\b")

_VERDICT_ICON = {
    Verdict.ACCEPTED: ":arrow_forward:",
    Verdict.DONE: ":white_check_mark:",
    Verdict.NEEDS_APPROVAL: ":raised_hand:",
    Verdict.REFUSED: ":no_entry:",
    Verdict.DUPLICATE: ":repeat:",
}

HELP = (
    "`/honua` (or `/honua status`) lists the open incidents; "
    "`/honua incident ID` shows one with its findings and buttons; "
    "`/honua cancel PROCESS_ID [reason]` opens a Runbook 5 emergency cancellation."
)


def describe(button: ButtonRef) -> str:
    if button.kind is ButtonKind.ACTION:
        return f"run `{esc(button.action)}`"
    if button.kind is ButtonKind.SILENCE:
        return "silence for " + dict(SILENCES).get(button.seconds, f"{button.seconds}s")
    if button.kind is ButtonKind.ACK:
        return "acknowledge"
    if button.kind is ButtonKind.RERUN:
        return "re-run the diagnosis"
    if button.kind is ButtonKind.RESTORE:
        return f"restore (run `{esc(button.action)}`)"
    return "see the details"


def _mentions(text: str) -> str:
    """``slack:U123`` as the engine records people → a Slack mention."""
    return _SLACK_ACTOR.sub(r"<@\1>", text)


class SlackApp:
    def __init__(
        self,
        *,
        client: AsyncWebClient,
        store: Store,
        notifier: SlackNotifier,
        requests: IncidentRequests,
        authorizer: Authorizer,
        signing_secret: str | None,
        app_token: str | None = None,
        click_dedup_seconds: float = 60.0,
    ) -> None:
        self.client = client
        self.store = store
        self.notifier = notifier
        self.requests = requests
        self.authorizer = authorizer
        self.app_token = app_token
        self.click_dedup_seconds = click_dedup_seconds
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.identity = BotIdentity(client)
        self.bolt = AsyncApp(
            client=client,
            authorize=self.identity.authorize_function(),
            signing_secret=signing_secret or "",
            request_verification_enabled=bool(signing_secret),
            process_before_response=False,
            name="honua-bot",
            logger=logging.getLogger("honua_bot.slack.bolt"),
        )
        self.bolt.action(re.compile(r"^honua:"))(self.on_button)
        self.bolt.command("/honua")(self.on_command)
        self._socket: AsyncSocketModeHandler | None = None
        self._socket_task: asyncio.Task[None] | None = None

    # HTTP ---------------------------------------------------------------------------
    def mount(self, app: web.Application, path: str = "/slack/events") -> None:
        if self.verifier is None:
            if not self.app_token:
                log.error("HONUA_BOT_SLACK_SIGNING_SECRET is not set: /slack/events is not served")
            return
        app.router.add_post(path, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        assert self.verifier is not None
        return await endpoint.handle(request, self.verifier, self.store, self.bolt)

    # Socket Mode ----------------------------------------------------------------------
    async def start(self) -> None:
        self.identity.start()
        if self.app_token and self._socket_task is None:
            self._socket = AsyncSocketModeHandler(self.bolt, self.app_token, web_client=self.client)
            self._socket_task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        socket = self._socket
        assert socket is not None

        async def connected() -> bool:
            try:
                await socket.connect_async()
            except Exception as exc:  # CancelledError is not an Exception: it stops the retries
                log.warning("slack socket mode connection failed; retrying", error=str(exc))
                return False
            log.info("slack socket mode connected")
            return True

        await until_true(connected)

    async def aclose(self) -> None:
        await self.identity.aclose()
        if self._socket_task is not None:
            self._socket_task.cancel()
            await asyncio.gather(self._socket_task, return_exceptions=True)
        if self._socket is not None:
            await self._socket.close_async()

    # listeners -----------------------------------------------------------------------
    async def _say(
        self,
        respond: Any,
        channel: str,
        user: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
    ) -> None:
        """An ephemeral answer to the clicker only."""
        text = _mentions(text)
        try:
            if respond is not None:
                await respond(
                    text=text, blocks=blocks, response_type="ephemeral", replace_original=False
                )
            elif channel and user:
                await self.client.chat_postEphemeral(
                    channel=channel, user=user, text=text, blocks=blocks
                )
        except Exception as exc:
            log.warning("ephemeral answer not delivered", error=str(exc))

    async def on_button(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any
    ) -> None:
        await ack()  # within Slack's 3 s, before any work
        try:
            await self.click(body, action, respond)
        except Exception:
            log.exception("slack click failed")
            user = str((body.get("user") or {}).get("id", ""))
            channel = str((body.get("channel") or {}).get("id", ""))
            await self._say(
                respond, channel, user, ":warning: That did not work; the bot logged why."
            )

    async def click(self, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        user = body.get("user") or {}
        user_id = str(user.get("id", ""))
        user_name = str(user.get("username") or user.get("name") or "")
        channel = body.get("channel") or {}
        channel_id, channel_name = str(channel.get("id", "")), str(channel.get("name", ""))
        value = str(action.get("value", ""))

        async def say(text: str, blocks: list[dict[str, Any]] | None = None) -> None:
            await self._say(respond, channel_id, user_id, text, blocks)

        button = await self.notifier.state.resolve_button(value)
        if button is None:
            log.info("stale slack button", user=user_id, action_id=action.get("action_id"))
            await say(
                ":hourglass: This button is no longer valid (it expired or belongs to an old "
                "message). Nothing was done. " + HELP
            )
            return
        incident = await self.store.get_incident(button.incident)
        if incident is None:
            await say(
                f":hourglass: Incident `{button.incident}` no longer exists. Nothing was done."
            )
            return
        if button.kind is ButtonKind.DETAILS:
            message = await self.notifier.render(incident)
            await say(message.text, message.blocks)
            return
        if button.kind is ButtonKind.RAW:  # raw results: a thread reply everyone can read
            details = render_details(incident)
            if await self.notifier.reply_in_thread(incident.id, details.text, details.blocks):
                return
            await say(details.text, details.blocks)
            return
        what = describe(button)
        # a resolved incident's buttons are out of date, but for a mitigation's restore
        # (whether it still applies is the engine's staleness check)
        if incident.status is IncidentStatus.RESOLVED and button.kind is not ButtonKind.RESTORE:
            await say(
                f":large_green_circle: Incident `{incident.id}` is resolved, so this button is "
                f"out of date: did not {what}."
            )
            return
        policy = self.authorizer.policy_for(incident.rule, button)
        verdict = await self.authorizer.check(policy, user_id, channel_id, channel_name)
        context = {
            "incident": incident.id,
            "rule": incident.rule or "",
            "button": button.kind.value,
            "action": button.action,
            "user": user_id,
            "user_name": user_name,
            "channel": channel_id,
        }
        if not verdict.allowed:
            audit.warning("slack click refused: not authorized", reason=verdict.reason, **context)
            await AuditLog(self.store).record(
                AuditEntry(
                    event="refused",
                    gate="authorization",
                    incident=incident.id,
                    rule=incident.rule or "",
                    action=button.action or button.kind.value,
                    actor=f"slack:{user_id}",
                    message=f"not authorized: {verdict.reason}",
                )
            )
            await say(f":no_entry: You may not {what} here: {verdict.reason}. Nothing was done.")
            return
        once = keys.slack_click(value, user_id)
        if not await self.store.set_value(once, "1", self.click_dedup_seconds, only_if_absent=True):
            log.info("repeated slack click ignored", **context)
            return
        actor = Actor(
            id=user_id,
            name=user_name,
            source="slack",
            groups=verdict.groups,
            channel=channel_id,
            channel_name=channel_name,
        )
        decision = await self._request(button, actor)
        audit.info(
            "slack request",
            verdict=decision.verdict.value,
            gate=decision.gate,
            message=decision.message,
            **context,
        )
        await say(self._decision_text(what, decision))

    async def _request(self, button: ButtonRef, actor: Actor) -> Decision:
        if button.kind in (ButtonKind.ACTION, ButtonKind.RESTORE):
            return await self.requests.request_action(
                button.incident, button.action, actor, button.nonce
            )
        if button.kind is ButtonKind.SILENCE:
            return await self.requests.silence(button.incident, button.seconds, actor)
        if button.kind is ButtonKind.ACK:
            return await self.requests.acknowledge(button.incident, actor)
        return await self.requests.rerun_diagnosis(button.incident, actor)

    @staticmethod
    def _decision_text(what: str, decision: Decision) -> str:
        icon = _VERDICT_ICON.get(decision.verdict, "")
        text = f"{icon} {esc(decision.message)}"
        if decision.verdict is Verdict.REFUSED:
            gate = f" (gate: {decision.gate})" if decision.gate else ""
            text = f"{icon} Did not {what}{gate}: {esc(decision.message)}"
        return text

    async def on_command(self, ack: Any, command: dict[str, Any], respond: Any) -> None:
        await ack()
        words = str(command.get("text") or "").split()
        try:
            message = await self.command(words, f"slack:{command.get('user_id', '')}")
        except Exception:
            log.exception("/honua failed")
            message = Message(":warning: That did not work; the bot logged why.", [])
        await respond(
            text=_mentions(message.text), blocks=message.blocks or None, response_type="ephemeral"
        )

    async def command(self, words: list[str], actor: str = "slack:") -> Message:
        if not words or words[0] in ("status", "open", "list"):
            incidents = await self.store.list_incidents(IncidentStatus.OPEN, 200)
            links = {}
            for incident in incidents:
                url = await self.notifier.message_link(incident.id)
                if url:
                    links[incident.id] = url
            return render_status(incidents, links)
        if words[0] in ("incident", "show") and len(words) > 1:
            found = await self.store.get_incident(words[1])
            if found is None:
                return Message(f"No incident `{esc(words[1])}`. " + HELP, [])
            return await self.notifier.render(found)
        if words[0] == "cancel" and len(words) > 1:
            return await self._emergency(words[1], " ".join(words[2:]), actor)
        return Message(HELP, [])

    async def _emergency(self, process_id: str, reason: str, actor: str) -> Message:
        """Runbook 5 on request: a ProcessRunaway incident for this process, whose
        message carries the cancel buttons (behind the usual gates)."""
        try:
            incident = await raise_emergency(self.store, process_id, actor, reason)
        except BadProcessId as exc:
            return Message(f":warning: {esc(str(exc))}", [])
        except IntakeError as exc:
            return Message(f":warning: Could not queue it: {esc(exc.message)}. Try again.", [])
        audit.info("emergency cancellation requested", process_id=process_id, user=actor)
        return Message(
            f":rotating_light: Emergency cancellation of `{esc(process_id)}` requested: "
            f"incident `{incident}` will post with the cancel options (Runbook 5).",
            [],
        )
