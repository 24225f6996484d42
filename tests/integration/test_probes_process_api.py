"""Process API and Prometheus probes against the simulator and real Prometheus,
through the same run_probe path the engine uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters import Adapters
from bot.adapters.process_api import ProcessApiClient
from bot.adapters.prometheus import PrometheusClient
from bot.alerts.diagnose import run_probe
from bot.models import Finding
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.helpers import free_port
from tests.integration.conftest import RunningSim
from tests.realbins import PrometheusServer


@pytest.fixture
async def adapters(honua_sim: RunningSim) -> AsyncIterator[Adapters]:
    a = Adapters(process_api_client=ProcessApiClient(honua_sim.url))
    yield a
    await a.aclose()


async def probe(
    adapters: Adapters, type_: str, params: dict[str, Any], variables: Any = None
) -> Finding:
    return await run_probe(
        ProbeCall("p", type_, params), probes, ProbeContext(adapters), 5, variables or {}
    )


async def test_failures_grouped_by_error_message(adapters: Adapters, honua_sim: RunningSim) -> None:
    f = await probe(
        adapters, "processes.list", {"status": "Failed", "since": "1h", "group_by": "errorMessage"}
    )
    assert f.ok, f.error
    failed = [p for p in honua_sim.sim.processes.values() if p["status"] == "Failed"]
    assert f.data["count"] >= len(failed) > 0
    assert f.data["top"]["message"] == "429 Too Many Requests"
    assert sum(g["count"] for g in f.data["groups"]) == f.data["count"]


async def test_running_longer_than_an_hour_stuck_versus_slow(
    adapters: Adapters, honua_sim: RunningSim
) -> None:
    stuck = honua_sim.sim.add_processes("stuck", count=2, age_minutes=95)
    slow = honua_sim.sim.add_processes("slow", count=1, age_minutes=70)
    honua_sim.sim.add_processes("stuck", count=1, age_minutes=20)  # young: not over the hour
    params = {"status": "Running", "older_than": "60m", "stalled_after": "30m"}
    f = await probe(adapters, "processes.list", params)
    assert f.ok, f.error
    assert f.data["count"] == 3
    assert f.data["stalled"] == 2 and f.data["progressing"] == 1
    assert set(f.data["stalled_ids"]) == {p["processId"] for p in stuck}
    by_id = {p["processId"]: p for p in f.data["processes"]}
    assert by_id[slow[0]["processId"]]["since_progress_seconds"] < 60
    assert by_id[stuck[0]["processId"]]["running_seconds"] > 95 * 60 - 5


async def test_one_process_with_created_resources(
    adapters: Adapters, honua_sim: RunningSim
) -> None:
    runaway = honua_sim.sim.add_processes("runaway", count=1, age_minutes=30)[0]
    variables = {"alert": {"labels": {"process_id": runaway["processId"]}}}
    f = await probe(adapters, "processes.get", {"id": "{{ alert.labels.process_id }}"}, variables)
    assert f.ok, f.error
    assert f.data["status"] == "Running" and f.data["currentStep"] == "DeployInfrastructure"
    assert f.data["completionPercentage"] == 45
    assert f.data["created_resources"] >= 4 and "subnet-456" in f.data["createdResources"]


async def test_unknown_process_and_unreachable_api_read_clearly(adapters: Adapters) -> None:
    f = await probe(adapters, "processes.get", {"id": "no-such-id"})
    assert not f.ok and f.error is not None
    assert f.error.startswith("HTTP 404 from process API 127.0.0.1:")
    port = free_port()
    gone = Adapters(process_api_client=ProcessApiClient(f"http://127.0.0.1:{port}"))
    try:
        f = await probe(gone, "processes.list", {"status": "Failed"})
    finally:
        await gone.aclose()
    assert not f.ok and f.error == f"connection refused: process API 127.0.0.1:{port}"


async def test_prometheus_instant_per_label_and_range(
    honua_sim: RunningSim, prometheus: PrometheusServer
) -> None:
    a = Adapters(prometheus_client=PrometheusClient(prometheus.url))
    try:
        by_type = await probe(
            a, "prometheus.query", {"expr": "honua_process_started_total", "by": "process_type"}
        )
        avg = await probe(
            a,
            "prometheus.query",
            {"expr": 'avg(honua_process_duration_seconds{process_type="DeploymentProcess"})'},
        )
        rng = await probe(
            a,
            "prometheus.range",
            {"expr": "sum(honua_process_started_total)", "range": "5m", "step": "1s"},
        )
        empty = await probe(
            a, "prometheus.query", {"expr": 'honua_process_started_total{process_type="Nope"}'}
        )
    finally:
        await a.aclose()
    assert by_type.ok and set(by_type.data["by_label"]) == {
        "DeploymentProcess",
        "UpgradeProcess",
        "MetadataProcess",
    }
    assert all(v > 0 for v in by_type.data["by_label"].values())
    assert avg.ok and avg.data["value"] is not None and avg.data["value"] > 0
    assert rng.ok and rng.data["series"][0]["points"] >= 2
    assert (
        rng.data["max"] >= rng.data["min"] > 0 and rng.data["last"] == rng.data["max"]
    )  # a counter only grows
    assert empty.ok and empty.data == {"value": None, "empty": True, "series": []}


def test_simulator_exposes_the_seed_metrics(honua_sim: RunningSim) -> None:
    text = httpx.get(f"{honua_sim.url}/metrics").text
    for name in (
        "honua_process_started_total",
        "honua_process_failures_total",
        "honua_llm_errors_total",
        "honua_process_duration_seconds",
        "honua_active_processes",
    ):
        assert name in text
    assert 'honua_llm_errors_total{error_type="rate_limit",provider="openai"}' in text


async def test_simulator_keeps_process_state_in_redis_with_a_ttl(private_redis: Any) -> None:
    import json

    import redis.asyncio as aioredis

    from tests.fakes.honua_sim import Simulator, create_app
    from tests.fakes.server import ThreadedServer
    from tests.helpers import wait_for

    sim = Simulator(fault="none", rate=0, seed=3, redis_url=private_redis.url)
    server = ThreadedServer(create_app(sim, traffic=False)).start()
    client = aioredis.Redis.from_url(private_redis.url)
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            created = (await http.post("/api/processes", json={"processType": "Test"})).json()
        key = f"honua:process:{created['processId']}"
        raw = await wait_for(lambda: client.get(key))
        assert json.loads(raw)["processType"] == "Test"
        assert 0 < await client.ttl(key) <= sim.process_ttl
    finally:
        await client.aclose()
        server.stop()
