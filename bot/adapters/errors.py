"""Turn transport failures into the sentence an engineer needs."""

from __future__ import annotations

import httpx


class AdapterError(Exception):
    """A target answered badly or not at all; the message is for humans."""


class NotConfigured(AdapterError):
    def __init__(self, target: str, setting: str) -> None:
        super().__init__(f"{target} is not configured (set {setting})")


def describe_http_error(exc: Exception, where: str) -> str:
    if isinstance(
        exc, httpx.ConnectTimeout | httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout
    ):
        return f"timed out: {where}"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "refused" in text or _caused_by(exc, ConnectionRefusedError):
            return f"connection refused: {where}"
        if "name" in text and ("resolution" in text or "known" in text):
            return f"cannot resolve host: {where}"
        return f"cannot connect: {where}: {exc}"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code} from {where}: {exc.response.text[:200]}"
    return f"{type(exc).__name__}: {exc} ({where})"


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """httpx (anyio) wraps a refused connect as "All connection attempts failed";
    the ConnectionRefusedError is further down the cause/context chain."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, kind):
            return True
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return False
