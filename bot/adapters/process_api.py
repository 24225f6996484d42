"""The Honua process framework's HTTP API: reads for the probes, the runbooks'
writes (cancel, force cancel, retry, retry current step, start, mark cleaned up)
for the actions.

A 404 is :class:`ProcessNotFound` and a 409 (the process is in a state the call
does not accept) :class:`ProcessConflict`, so actions can tell "gone" and "no
longer Running" from a broken API; both are AdapterErrors with the API's answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from bot.adapters.errors import AdapterError, describe_http_error
from bot.adapters.http import JsonHttpClient


class ProcessNotFound(AdapterError):
    """The API answered 404 for this process."""


class ProcessConflict(AdapterError):
    """The API answered 409: the process's state does not allow the call."""


def _path(process_id: str, tail: str = "") -> str:
    # quoted so an id can never reach another endpoint ("x/../../other")
    return f"/api/processes/{quote(process_id, safe='')}{tail}"


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
        return _object(await self._call("GET", _path(process_id)), _path(process_id))

    # writes (Runbooks 2 and 5) ----------------------------------------------------------
    async def cancel(self, process_id: str, force: bool = False) -> dict[str, Any]:
        """``POST /cancel`` (graceful: Running → Cancelling → Cancelled) or
        ``/cancel?force=true`` (skips the process's own cleanup)."""
        params = {"force": "true"} if force else None
        path = _path(process_id, "/cancel")
        return _object(await self._call("POST", path, params=params), path)

    async def retry(self, process_id: str, current_step_only: bool = False) -> dict[str, Any]:
        path = _path(process_id, "/retry-current-step" if current_step_only else "/retry")
        return _object(await self._call("POST", path), path)

    async def create(self, process_type: str, payload: Any) -> dict[str, Any]:
        """Start a process: ``POST /api/processes {processType, input}``."""
        body = {"processType": process_type, "input": payload}
        answer = _object(await self._call("POST", "/api/processes", json=body), "/api/processes")
        if not isinstance(answer.get("processId"), str):
            raise AdapterError(f"process API {self._where}: new process has no processId")
        return answer

    async def mark_cleaned_up(self, process_id: str) -> dict[str, Any]:
        path = _path(process_id, "/mark-cleaned-up")
        return _object(await self._call("POST", path), path)

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            resp = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdapterError(describe_http_error(exc, f"{self.name} {self._where}")) from exc
        if resp.status_code == 404:
            raise ProcessNotFound(self._status_error(resp))
        if resp.status_code == 409:
            raise ProcessConflict(self._status_error(resp))
        if resp.status_code >= 400:
            raise AdapterError(self._status_error(resp))
        if not resp.content:
            return {}
        try:
            return resp.json()
        except ValueError as exc:
            raise AdapterError(f"{self.name} {self._where}{path}: answer is not JSON") from exc


def _object(body: Any, path: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise AdapterError(f"process API: {path} did not return an object")
    return body
