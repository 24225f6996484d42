"""Alertmanager's API v2: silences."""

from __future__ import annotations

from datetime import datetime

import httpx

from bot.adapters.errors import AdapterError, describe_http_error
from bot.adapters.http import JsonHttpClient


class AlertmanagerClient(JsonHttpClient):
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        super().__init__(base_url, timeout, "alertmanager")

    async def create_silence(
        self,
        labels: dict[str, str],
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Silence exactly this label set (equality matchers); the silence id."""
        if not labels:
            raise AdapterError(
                "refusing to create a silence with no matchers (it would match everything)"
            )
        body = {
            "matchers": [
                {"name": k, "value": v, "isRegex": False, "isEqual": True}
                for k, v in sorted(labels.items())
            ],
            "startsAt": starts_at.isoformat(),
            "endsAt": ends_at.isoformat(),
            "createdBy": created_by,
            "comment": comment,
        }
        try:
            resp = await self._http.post("/api/v2/silences", json=body)
        except httpx.HTTPError as exc:
            raise AdapterError(describe_http_error(exc, f"alertmanager {self._where}")) from exc
        if resp.status_code >= 400:
            raise AdapterError(self._status_error(resp))
        try:
            return str(resp.json()["silenceID"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AdapterError(
                f"alertmanager {self._where}: no silenceID in {resp.text[:200]}"
            ) from exc
