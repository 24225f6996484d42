"""Who the bot is on Slack, fetched once and cached, so clicks are answered
even while Slack's Web API is unreachable from the bot.

Bolt's single-workspace authorization calls ``auth.test`` until it succeeds
once, and answers 500 to every request while that call fails (egress broken).
This replaces it: ``auth.test`` runs at start and then in the background with
backoff until it succeeds; until then requests are authorized with the bot
token alone (the ids Slack sent in the request), and that is logged once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.authorization import AuthorizeResult
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import get_logger
from bot.polling import until_true

log = get_logger("slack")


class BotIdentity:
    def __init__(self, client: AsyncWebClient, max_delay: float = 60.0) -> None:
        self.client = client
        self.max_delay = max_delay
        self.info: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned = False

    async def refresh(self) -> bool:
        try:
            result = await self.client.auth_test()
        except Exception as exc:
            log.warning("slack auth.test failed; will retry", error=f"{type(exc).__name__}: {exc}")
            return False
        self.info = dict(result.data) if isinstance(result.data, dict) else {}
        log.info("slack bot identity cached", bot_user=self.info.get("user_id"))
        return True

    def start(self) -> None:
        if self._task is None and self.info is None:
            self._task = asyncio.create_task(self._until_known())

    async def _until_known(self) -> None:
        await until_true(self.refresh, max_delay=self.max_delay)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def authorize_function(self) -> Any:
        """For ``AsyncApp(authorize=...)``: Bolt passes arguments by their names,
        so it must be a plain function (a bound method's ``self`` confuses it)."""

        async def authorize(
            enterprise_id: str | None, team_id: str | None, user_id: str | None
        ) -> AuthorizeResult:
            return self.authorize(enterprise_id, team_id, user_id)

        return authorize

    def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult:
        info = self.info
        if info is None:
            self.start()  # when not started (tests building the app directly)
            if not self._warned:
                self._warned = True
                log.warning(
                    "slack Web API not reached yet: authorizing requests with the bot token "
                    "alone until auth.test answers"
                )
            info = {}
        return AuthorizeResult(
            enterprise_id=info.get("enterprise_id") or enterprise_id,
            team_id=info.get("team_id") or team_id,
            team=info.get("team"),
            url=info.get("url"),
            bot_user_id=info.get("user_id"),
            bot_id=info.get("bot_id"),
            bot_token=self.client.token,
            user_id=user_id,
        )
