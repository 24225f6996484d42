"""Item 4: everything written to the log stream is a JSON line."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import sys
import threading

import structlog

from bot import logs


def _lines(buf: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


def test_stdlib_asyncio_and_uncaught_exceptions_are_json_lines() -> None:
    buf = io.StringIO()
    saved = sys.excepthook, threading.excepthook
    try:
        logs.configure("info", stream=buf)
        logging.getLogger("slack_bolt.App").warning("bolt says %s", "hello")
        try:
            raise ValueError("inside a handler")
        except ValueError:
            logging.getLogger("aiohttp.web").exception("Error handling request")

        async def fails() -> None:
            raise RuntimeError("never retrieved")

        async def main() -> None:
            task = asyncio.get_running_loop().create_task(fails())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            del task

        asyncio.run(main())
        gc.collect()  # "Task exception was never retrieved" is logged when the task dies
        try:
            raise KeyError("uncaught")
        except KeyError:
            sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
        thread = threading.Thread(target=lambda: 1 / 0, name="worker-thread")
        thread.start()
        thread.join()
    finally:
        sys.excepthook, threading.excepthook = saved
        structlog.reset_defaults()
        for h in list(logging.getLogger().handlers):
            if getattr(h, "_honua", False):
                logging.getLogger().removeHandler(h)
    lines = _lines(buf)  # raises if any line is not JSON
    events = {str(line["event"]) for line in lines}
    assert "bolt says hello" in events
    assert any(e.startswith("Task exception was never retrieved") for e in events)
    assert "uncaught exception" in events and "uncaught exception in thread" in events
    with_tb = [line for line in lines if "exception" in line]
    assert any("never retrieved" in str(line["exception"]) for line in with_tb)
    assert any("ZeroDivisionError" in str(line["exception"]) for line in with_tb)
    assert any("inside a handler" in str(line["exception"]) for line in with_tb)


def test_parser_refusals_are_one_warning_without_traceback() -> None:
    buf = io.StringIO()
    try:
        logs.configure("info", stream=buf)

        class ContentEncodingError(Exception):
            pass

        try:
            raise ContentEncodingError("400, message:\n  Can not decode content-encoding: gzip")
        except ContentEncodingError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
    finally:
        structlog.reset_defaults()
        for h in list(logging.getLogger().handlers):
            if getattr(h, "_honua", False):
                logging.getLogger().removeHandler(h)
    [line] = _lines(buf)
    assert line["level"] == "warning" and "exception" not in line
    assert "content-encoding" in str(line["event"])
