"""Alertmanager's API v2: silences (create, read, expire)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx

from bot.adapters.errors import AdapterError, describe_http_error
from bot.adapters.http import JsonHttpClient


class SilenceNotFound(AdapterError):
    """Alertmanager has no silence with this id."""


def silence_path(silence_id: str) -> str:
    """``/api/v2/silence/{id}``; the id must be a UUID, as Alertmanager's own ids are
    (which also keeps anything else out of the path)."""
    try:
        return f"/api/v2/silence/{UUID(silence_id)}"
    except ValueError as exc:
        raise AdapterError(f"silence id {silence_id!r} is not a UUID") from exc


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
        resp = await self._send("POST", "/api/v2/silences", json=body)
        try:
            return str(resp.json()["silenceID"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AdapterError(
                f"alertmanager {self._where}: no silenceID in {resp.text[:200]}"
            ) from exc

    async def get_silence(self, silence_id: str) -> dict[str, Any]:
        """The silence (``id``, ``status.state``: active/pending/expired, ``matchers``,
        ``createdBy``, ``endsAt``, …)."""
        resp = await self._send("GET", silence_path(silence_id), missing=silence_id)
        try:
            body = resp.json()
        except ValueError as exc:
            raise AdapterError(f"alertmanager {self._where}: answer is not JSON") from exc
        if not isinstance(body, dict):
            raise AdapterError(f"alertmanager {self._where}: silence is not an object")
        return body

    async def expire_silence(self, silence_id: str) -> None:
        """``DELETE /api/v2/silence/{id}``: the silence ends now (it stays listed, expired)."""
        await self._send("DELETE", silence_path(silence_id), missing=silence_id)

    async def _send(
        self, method: str, path: str, missing: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            resp = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdapterError(describe_http_error(exc, f"alertmanager {self._where}")) from exc
        # GET answers 404; DELETE of an unknown id answers 500 "silence not found" (0.25)
        if missing is not None and (
            resp.status_code == 404 or (resp.status_code >= 500 and "not found" in resp.text)
        ):
            raise SilenceNotFound(f"alertmanager {self._where} has no silence {missing}")
        if resp.status_code >= 400:
            raise AdapterError(self._status_error(resp))
        return resp
