"""A small base for JSON-over-HTTP targets built on one pooled httpx client."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.adapters.errors import AdapterError, describe_http_error


class JsonHttpClient:
    def __init__(self, base_url: str, timeout: float, name: str) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._where = urlsplit(self.base_url).netloc or self.base_url
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    async def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            resp = await self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise AdapterError(describe_http_error(exc, f"{self.name} {self._where}")) from exc
        if resp.status_code >= 400:
            raise AdapterError(self._status_error(resp))
        try:
            return resp.json()
        except ValueError as exc:
            raise AdapterError(f"{self.name} {self._where}{path}: answer is not JSON") from exc

    def _status_error(self, resp: httpx.Response) -> str:
        return f"HTTP {resp.status_code} from {self.name} {self._where}{resp.request.url.path}: {resp.text[:200]}"

    async def aclose(self) -> None:
        await self._http.aclose()
