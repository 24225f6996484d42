"""structlog JSON logs. Secrets are masked by key name and by known values.

Everything the process writes to stderr is one JSON object per line: the
standard ``logging`` module (aiohttp, slack_bolt, asyncio's "Task exception was
never retrieved") goes through the same processors, and so do uncaught
exceptions (main thread, other threads), with the traceback as a field.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog

_SECRET_KEYS = ("token", "secret", "password", "dsn", "authorization")
_known_secrets: set[str] = set()


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _known_secrets.add(value)
        decoded = unquote(value)
        if decoded != value and len(decoded) >= 4:
            _known_secrets.add(decoded)


def register_url_credentials(url: str | None) -> None:
    """The password (and user) in ``scheme://user:pass@host`` become masked values."""
    if not url:
        return
    try:
        parts = urlsplit(url)
        register_secret(parts.password)
        if parts.password:
            register_secret(parts.username)
    except ValueError:
        return


# user:password@ in any URL, registered or not (a URL in an exception message)
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^\s/@:]*)(:[^\s/@]*)?@")


def _hide_credentials(m: re.Match[str]) -> str:
    # user:password@ keeps the user; a lone user@ may be a token: hidden too
    return f"{m.group(1)}{m.group(2)}:***@" if m.group(3) is not None else f"{m.group(1)}***@"


def mask_text(text: str) -> str:
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def redact(text: str) -> str:
    """``text`` with URL credentials stripped and known secrets masked: for
    anything shown to people (findings, run details, Slack, the console)."""
    return mask_text(_URL_CREDENTIALS.sub(_hide_credentials, text))


def _mask(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if any(s in key.lower() for s in _SECRET_KEYS) and value:
            event[key] = "***"
        elif isinstance(value, str):
            event[key] = redact(value)
    return event


def _processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _mask,
    ]


def _route_stdlib(level: int, stream: Any) -> None:
    """Records of the ``logging`` module rendered by structlog, as JSON lines."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_processors()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_honua", False):
            root.removeHandler(old)
    handler._honua = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, _ParserErrors) for f in server.filters):
        server.addFilter(_ParserErrors())
    # aiohttp's access log is off (access_log=None); its error logs stay at level


class _ParserErrors(logging.Filter):
    """aiohttp logs a full traceback at ERROR for every request its HTTP parser
    refuses (bad Content-Encoding, bad headers): the client's fault, already
    answered 400. One warning line without the traceback instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and type(exc).__name__ in _CLIENT_ERRORS:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = (
                "request refused by the HTTP parser: %s",
                (str(exc).replace("\n", " ")[:200],),
            )
            record.exc_info = None
            record.exc_text = None
        return True


_CLIENT_ERRORS = frozenset(
    {
        "ContentEncodingError",
        "RequestPayloadError",
        "BadHttpMessage",
        "BadStatusLine",
        "InvalidHeader",
        "LineTooLong",
        "TransferEncodingError",
    }
)


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    get_logger("bot").critical("uncaught exception", exc_info=(kind, value, tb))


def _thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    get_logger("bot").critical(
        "uncaught exception in thread",
        thread=getattr(args.thread, "name", None),
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def configure(level: str = "info", stream: Any = None) -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    out = stream or sys.stderr
    structlog.configure(
        processors=[*_processors(), structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(out),
        cache_logger_on_first_use=False,
    )
    _route_stdlib(numeric, out)
    sys.excepthook = _excepthook
    threading.excepthook = _thread_excepthook


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)
