"""Kubernetes probes through the real kubernetes_asyncio client against the API fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters import Adapters
from bot.adapters.kubernetes import KubernetesClient
from bot.alerts.diagnose import run_probe
from bot.models import Finding
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.fakes.kube_api import NAMESPACE, FakeKube, seed_honua, serve
from tests.helpers import free_port


@pytest.fixture
async def kube() -> AsyncIterator[tuple[FakeKube, Adapters]]:
    fake = seed_honua(FakeKube())
    async with serve(fake) as url:
        adapters = Adapters(kubernetes_client=KubernetesClient(host=url, timeout=2))
        yield fake, adapters
        await adapters.aclose()


async def probe(adapters: Adapters, type_: str, params: dict[str, Any]) -> Finding:
    return await run_probe(ProbeCall("k", type_, params), probes, ProbeContext(adapters), 5, {})


async def test_pods_by_selector_and_the_problem_reasons(kube: tuple[FakeKube, Adapters]) -> None:
    fake, adapters = kube
    healthy = await probe(adapters, "kubernetes.pods", {"selector": "app=honua-process-framework"})
    assert healthy.ok, healthy.error
    assert (
        healthy.data["count"] == 3 and healthy.data["ready"] == 3 and healthy.data["crashloop"] == 0
    )
    fake.crashloop(NAMESPACE, "redis-0", last_reason="OOMKilled", restarts=9)
    redis = await probe(adapters, "kubernetes.pods", {"name": "redis-0"})
    assert redis.ok, redis.error
    assert (
        redis.data["crashloop"] == 1
        and redis.data["oomkilled"] == 1
        and redis.data["restarts"] == 9
    )
    assert redis.data["pods"][0]["reasons"] == ["CrashLoopBackOff", "OOMKilled"]


async def test_previous_logs_with_pattern_counts(kube: tuple[FakeKube, Adapters]) -> None:
    fake, adapters = kube
    fake.set_logs(
        NAMESPACE,
        "redis-0",
        ["boot", "Bad file format reading the append only file"],
        previous=True,
    )
    params = {"pod": "redis-0", "previous": True, "patterns": {"aof": "append only file"}}
    f = await probe(adapters, "kubernetes.logs", params)
    assert f.ok, f.error
    assert f.data["matches"] == {"aof": 1} and f.data["last_line"].startswith("Bad file format")


async def test_warning_events_for_an_object(kube: tuple[FakeKube, Adapters]) -> None:
    fake, adapters = kube
    fake.add_event(
        NAMESPACE, "redis-0", "BackOff", "Back-off restarting failed container", count=12
    )
    f = await probe(adapters, "kubernetes.events", {"name": "redis-0", "kind": "Pod"})
    assert f.ok, f.error
    assert f.data["reasons"].get("BackOff") == 1 and f.data["events"][0]["count"] == 12


async def test_rollout_history_workload_config_and_pvc(kube: tuple[FakeKube, Adapters]) -> None:
    _, adapters = kube
    history = await probe(
        adapters, "kubernetes.rollout_history", {"deployment": "honua-process-framework"}
    )
    assert history.ok, history.error
    assert (
        history.data["count"] == 2
        and history.data["revision"] == history.data["revisions"][0]["revision"]
    )
    assert history.data["image_changed"] and history.data["images"] == [
        "honua/process-framework:1.4.2"
    ]
    workload = await probe(
        adapters, "kubernetes.workload", {"name": "redis", "kind": "statefulset"}
    )
    assert (
        workload.ok
        and workload.data["replicas"] == 1
        and workload.data["containers"][0]["image"] == "redis:7"
    )
    value = await probe(
        adapters,
        "kubernetes.config_value",
        {"configmap": "process-config", "key": "ProcessFramework.MaxConcurrentProcesses"},
    )
    assert value.ok and value.data == {**value.data, "found": True, "value": 20}
    pvc = await probe(adapters, "kubernetes.pvc", {"name": "redis-data-redis-0"})
    assert pvc.ok and pvc.data["phase"] == "Bound" and pvc.data["capacity_bytes"] == 10 * 2**30


async def test_rbac_denial_missing_object_and_unreachable_api_read_clearly(
    kube: tuple[FakeKube, Adapters],
) -> None:
    fake, adapters = kube
    fake.deny("list", "pods", NAMESPACE)
    denied = await probe(adapters, "kubernetes.pods", {"selector": "app=redis"})
    assert not denied.ok and denied.error is not None
    assert denied.error.startswith(f"forbidden: cannot list pods in namespace {NAMESPACE} (RBAC)")
    missing = await probe(adapters, "kubernetes.workload", {"name": "nope"})
    assert (
        missing.error is not None
        and missing.error.startswith("not found:")
        and "nope" in missing.error
    )
    port = free_port()
    gone = Adapters(kubernetes_client=KubernetesClient(host=f"http://127.0.0.1:{port}", timeout=2))
    try:
        refused = await probe(gone, "kubernetes.pods", {"name": "redis-0"})
    finally:
        await gone.aclose()
    assert refused.error == f"connection refused: kubernetes 127.0.0.1:{port}"


async def test_no_cluster_configured_is_not_evidence() -> None:
    f = await probe(
        Adapters(kubernetes_client=KubernetesClient()), "kubernetes.pods", {"name": "redis-0"}
    )
    assert not f.ok and not f.configured and "HONUA_BOT_KUBECONFIG" in (f.error or "")
