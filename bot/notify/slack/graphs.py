"""Graphs of the alert's metric in the incident's thread: one when the incident
is diagnosed, and one after each action finishes (the action's start marked),
so before/after is visible at a glance.

Posting never delays the message: ``schedule`` starts a task after the message
went out; the range query, the drawing (in a worker thread) and the upload
(``files_upload_v2``: files.getUploadURLExternal, the upload, then
files.completeUploadExternal) run there, and a failure is a log line. Each
graph is claimed in the store first, so two replicas never post it twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters.prometheus import PrometheusClient
from bot.logs import get_logger
from bot.models import Incident
from bot.notify.graph import Graph, Line, alert_query, render_png
from bot.notify.slack.state import SlackState
from bot.store import Store, keys

WINDOW = 3600.0  # the last hour
STEP = 30.0

log = get_logger("slack.graphs")


def moment(incident: Incident) -> str | None:
    """Which graph is due: ``diagnosed``, ``after-N`` once run N finished, or none."""
    if incident.diagnosis is None:
        return None
    finished = [i for i, r in enumerate(incident.runs) if r.state in ("verified", "failed", "done")]
    return f"after-{finished[-1]}" if finished else "diagnosed"


def _label(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(labels.items()) if k != "__name__")


class GraphPoster:
    def __init__(
        self,
        client: AsyncWebClient,
        store: Store,
        state: SlackState,
        prometheus: PrometheusClient | None,
        ttl: float,
    ) -> None:
        self.client = client
        self.store = store
        self.state = state
        self.prometheus = prometheus
        self.ttl = ttl
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_missing = False

    def schedule(self, incident: Incident) -> None:
        """Start posting the graph that is due, if any; returns at once."""
        due = moment(incident)
        if due is None or self.prometheus is None or incident.status.value == "resolved":
            return
        task = asyncio.create_task(self._post(incident, due))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """For tests and shutdown: until the graphs being posted are posted."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.prometheus is not None:
            await self.prometheus.aclose()

    async def _post(self, incident: Incident, due: str) -> None:
        key = keys.slack_graph(incident.id, due)
        if not await self.store.set_value(key, "1", self.ttl, only_if_absent=True):
            return
        try:
            posted = await self._draw_and_upload(incident, due)
        except ImportError:
            if not self._warned_missing:
                log.warning(
                    "no graphs: matplotlib is not installed (pip install honua-bot[graphs])"
                )
                self._warned_missing = True
            return
        except asyncio.CancelledError:
            await self.store.delete_value(key)
            raise
        except Exception as exc:  # a graph is a nicety: never more than a log line
            log.warning("graph not posted", incident=incident.id, moment=due, error=str(exc))
            await self.store.delete_value(key)  # a later update may try again
            return
        if posted:
            log.info("graph posted", incident=incident.id, moment=due)

    async def _draw_and_upload(self, incident: Incident, due: str) -> bool:
        d = incident.diagnosis
        query = alert_query(incident.generator_url, d.graph_expr if d else "")
        ref = await self.state.message(incident.id)
        if query is None or ref is None or self.prometheus is None:
            return False
        found = await self.prometheus.query_range(query.expr, WINDOW, STEP)
        lines = [
            Line(
                _label(s.labels),
                [datetime.fromtimestamp(t, UTC) for t in s.times],
                list(s.values),
            )
            for s in found
        ]
        markers = []
        if due.startswith("after-"):
            run = incident.runs[int(due.removeprefix("after-"))]
            markers.append((run.started_at, f"{run.action} ({run.state})"))
        title = f"{incident.alertname}: {query.expr}"
        graph = Graph(title[:110], lines, query.threshold, query.op, markers)
        png = await asyncio.to_thread(render_png, graph)  # matplotlib off the event loop
        when = "after " + markers[0][1] if markers else "the last hour"
        await self.client.files_upload_v2(
            channel=ref.channel,
            thread_ts=ref.thread,
            file=png,
            filename=f"{incident.id}-{due}.png",
            title=f"{incident.alertname} — {when}",
            initial_comment=f":chart_with_upwards_trend: `{query.expr}` over the last hour"
            + (
                f", threshold {query.op} {query.threshold:g}" if query.threshold is not None else ""
            ),
        )
        return True
