"""The Honua process framework's HTTP API."""

from __future__ import annotations

from typing import Any

from bot.adapters.errors import AdapterError
from bot.adapters.http import JsonHttpClient


class ProcessApiClient(JsonHttpClient):
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        super().__init__(base_url, timeout, "process API")

    async def list_processes(
        self, status: str | None = None, since: str | None = None
    ) -> list[dict[str, Any]]:
        params = {k: v for k, v in {"status": status, "since": since}.items() if v}
        body = await self.get_json("/api/processes", params)
        if not isinstance(body, list):
            raise AdapterError("process API: /api/processes did not return a list")
        return [p for p in body if isinstance(p, dict)]

    async def get_process(self, process_id: str) -> dict[str, Any]:
        body = await self.get_json(f"/api/processes/{process_id}")
        if not isinstance(body, dict):
            raise AdapterError(f"process API: /api/processes/{process_id} did not return an object")
        return body
