"""Stand-ins for the three exporters the alert rules read besides the framework's
own metrics, computed at every scrape from the real parts of the e2e world:

- redis_exporter: ``redis_up``, ``redis_db_keys{db}``, ``redis_db_keys_expiring{db}``
  from the monitored redis-server (PING, INFO keyspace); when Redis does not
  answer only ``redis_up 0``, as redis_exporter does;
- kube-state-metrics: ``kube_pod_container_status_{ready,restarts_total,
  waiting_reason,last_terminated_reason}`` from the Kubernetes fake's pods (read
  without the side effects an API read has on pods coming up);
- postgres_exporter: ``pg_up`` and, when it connects, ``pg_stat_activity_count``
  and ``pg_settings_max_connections``.

The Debian packages prometheus-redis-exporter and prometheus-postgres-exporter
could replace the first and last; kube-state-metrics needs a real cluster.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg
import redis.asyncio as aioredis
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from redis.exceptions import RedisError

from tests.fakes.kube_api import FakeKube

CONTAINER_LABELS = ["namespace", "pod", "container"]


class _Families:
    """A one-shot collector: the families computed for this scrape."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


async def redis_families(url: str) -> list[Metric]:
    up = GaugeMetricFamily("redis_up", "Information about the Redis instance")
    client = aioredis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        keyspace = await client.info("keyspace")
        count = int((await client.config_get("databases")).get("databases") or 16)
        up.add_metric([], 1)
    except (RedisError, OSError):
        up.add_metric([], 0)
        return [up]
    finally:
        await client.aclose()
    keys = GaugeMetricFamily("redis_db_keys", "Total number of keys by DB", labels=["db"])
    expiring = GaugeMetricFamily(
        "redis_db_keys_expiring", "Total number of expiring keys by DB", labels=["db"]
    )
    # like redis_exporter, every database up to `databases` is exported, empty ones as 0
    databases = {f"db{i}": {"keys": 0, "expires": 0} for i in range(count)} | keyspace
    for db, stats in sorted(databases.items()):
        keys.add_metric([db], float(stats.get("keys", 0)))
        expiring.add_metric([db], float(stats.get("expires", 0)))
    return [up, keys, expiring]


def kube_families(fake: FakeKube, namespace: str) -> list[Metric]:
    ready = GaugeMetricFamily(
        "kube_pod_container_status_ready",
        "Describes whether the container is ready",
        labels=CONTAINER_LABELS,
    )
    restarts = GaugeMetricFamily(
        "kube_pod_container_status_restarts_total",
        "The number of container restarts per container",
        labels=CONTAINER_LABELS,
    )
    waiting = GaugeMetricFamily(
        "kube_pod_container_status_waiting_reason",
        "Describes the reason the container is currently in waiting state",
        labels=[*CONTAINER_LABELS, "reason"],
    )
    terminated = GaugeMetricFamily(
        "kube_pod_container_status_last_terminated_reason",
        "Describes the last reason the container was in terminated state",
        labels=[*CONTAINER_LABELS, "reason"],
    )
    for pod in fake.objects("pods", namespace):
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            labels = [namespace, pod["metadata"]["name"], status["name"]]
            ready.add_metric(labels, 1.0 if status.get("ready") else 0.0)
            restarts.add_metric(labels, float(status.get("restartCount", 0)))
            if reason := (status.get("state") or {}).get("waiting", {}).get("reason"):
                waiting.add_metric([*labels, reason], 1.0)
            last = (status.get("lastState") or {}).get("terminated") or {}
            if reason := last.get("reason"):
                terminated.add_metric([*labels, reason], 1.0)
    return [ready, restarts, waiting, terminated]


async def postgres_families(dsn: str) -> list[Metric]:
    up = GaugeMetricFamily("pg_up", "Whether the last scrape was able to connect to the server")
    try:
        conn = await asyncpg.connect(dsn, timeout=1)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        up.add_metric([], 0)
        return [up]
    try:
        rows = await conn.fetch(
            "SELECT coalesce(datname, '') AS datname, coalesce(state, '') AS state, count(*) AS n "
            "FROM pg_stat_activity GROUP BY 1, 2"
        )
        max_connections = float(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()
    up.add_metric([], 1)
    activity = GaugeMetricFamily(
        "pg_stat_activity_count", "number of connections in this state", labels=["datname", "state"]
    )
    for row in rows:
        activity.add_metric([row["datname"], row["state"]], float(row["n"]))
    settings = GaugeMetricFamily("pg_settings_max_connections", "Server Parameter: max_connections")
    settings.add_metric([], max_connections)
    return [up, activity, settings]


@dataclass
class Exporters:
    """``GET /metrics``: the families of whatever is configured. ``postgres_dsn`` may be
    changed while running (a database going away)."""

    redis_url: str | None = None
    kube: FakeKube | None = None
    namespace: str = "honua-process-framework"
    postgres_dsn: str | None = None

    async def families(self) -> list[Metric]:
        out: list[Metric] = []
        if self.redis_url:
            out += await redis_families(self.redis_url)
        if self.kube is not None:
            # the fake's lock is a threading lock: read it off the event loop
            out += await asyncio.to_thread(kube_families, self.kube, self.namespace)
        if self.postgres_dsn:
            out += await postgres_families(self.postgres_dsn)
        return out

    def app(self) -> web.Application:
        async def metrics(request: web.Request) -> web.Response:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(_Families(await self.families()))  # type: ignore[arg-type]
            return web.Response(body=generate_latest(registry), content_type="text/plain")

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        return app
