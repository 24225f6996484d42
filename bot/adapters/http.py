"""A small base for JSON-over-HTTP targets built on one pooled httpx client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.adapters.errors import AdapterError, describe_http_error


class JsonHttpClient:
    def __init__(self, base_url: str, timeout: float, name: str) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        # shown in every error: host and port only, never the URL's user:password
        self._where = url_where(self.base_url).rstrip("/") or "(no host)"
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


ALLOWED_SCHEMES = ("http", "https")


def url_where(url: str) -> str:
    """``host[:port]/path`` of a URL, without credentials or query string."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{host}{port}{parts.path}"


def check_url(url: str) -> str:
    """The URL itself if it is an absolute http(s) URL with a host; ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise ValueError(
            f"only http and https URLs are allowed, not {parts.scheme or 'no scheme'!r}"
        )
    if not parts.hostname:
        raise ValueError("URL has no host")
    return url


@dataclass(frozen=True)
class JsonAnswer:
    status_code: int
    body: Any


class UrlJsonClient:
    """JSON from absolute http(s) URLs (status pages named in rules): one pooled
    client that is bound to no base URL. Answers of 400 and above, bodies that are
    not JSON or larger than ``max_bytes`` are AdapterErrors."""

    def __init__(self, timeout: float = 10.0, max_bytes: int = 2 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._http = httpx.AsyncClient(
            timeout=timeout,
            follow_redirects=True,
            max_redirects=5,
            headers={"Accept": "application/json", "User-Agent": "honua-bot"},
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
        )

    async def get_json(self, url: str) -> JsonAnswer:
        try:
            check_url(url)
        except ValueError as exc:
            raise AdapterError(f"refusing URL {url_where(url) or url!r}: {exc}") from exc
        where = url_where(url)
        try:
            async with self._http.stream("GET", url) as resp:
                body = bytearray()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise AdapterError(f"{where}: answer larger than {self.max_bytes} bytes")
        except httpx.HTTPError as exc:
            raise AdapterError(describe_http_error(exc, where)) from exc
        if resp.status_code >= 400:
            text = body[:200].decode("utf-8", "replace")
            raise AdapterError(f"HTTP {resp.status_code} from {where}: {text}")
        try:
            return JsonAnswer(resp.status_code, json.loads(body))
        except ValueError as exc:
            kind = resp.headers.get("content-type", "unknown content type")
            raise AdapterError(f"{where}: answer is not JSON ({kind})") from exc

    async def aclose(self) -> None:
        await self._http.aclose()
