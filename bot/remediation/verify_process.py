"""Validation read from the process API, as Runbooks 2 and 5 validate: the process
the action acted on is Cancelled / Completed, and no longer in the Running list.

A validation whose ``expr`` starts with ``process-api:`` is answered here, every
other one by Prometheus:

* ``process-api:status`` — the acted-on process's status (``"not found"`` after a
  force cancel deleted it, the runbook's expected 404);
* ``process-api:listed-running`` — 1.0 while it is still listed as Running, else 0.0.

The acted-on process is the plan's target (``process/<id>``). An action that names
no process (a config edit) reads ``"n/a"``, so the rule says what then holds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.adapters.errors import AdapterError
from bot.adapters.process_api import ProcessApiClient, ProcessNotFound

PREFIX = "process-api:"
NOT_APPLICABLE = "n/a"

Query = Callable[[str], Awaitable[list[Any]]]


def with_process_api(
    prometheus: Query, process_api: Callable[[], ProcessApiClient], target: str
) -> Query:
    """A validation query that sends ``process-api:`` checks to the process API."""
    pid = target.removeprefix("process/") if target.startswith("process/") else None

    async def query(expr: str) -> list[Any]:
        if not expr.startswith(PREFIX):
            return await prometheus(expr)
        check = expr.removeprefix(PREFIX).strip()
        if pid is None:
            return [NOT_APPLICABLE]
        api = process_api()
        if check == "status":
            try:
                return [str((await api.get_process(pid)).get("status"))]
            except ProcessNotFound:
                return ["not found"]
        if check == "listed-running":
            running = await api.list_processes("Running")
            return [1.0 if any(str(p.get("processId")) == pid for p in running) else 0.0]
        raise AdapterError(f"unknown check {expr!r}: use {PREFIX}status or {PREFIX}listed-running")

    return query
