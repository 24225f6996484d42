"""Each Kubernetes action asks the API server only for what helm/honua-bot/permissions.yaml
grants it: its requests against the fake, read back as RBAC (group, resource, verb)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from scripts import rbac_table
from tests.integration.kube_actions import APP, Kube, kube_fake, plan_then_execute

VERBS = {"PATCH": "patch", "PUT": "update", "DELETE": "delete", "POST": "create"}
NAMESPACED_SUBRESOURCES = {"scale", "status", "log"}

# a happy run of each action: plan, then execute
RUNS: dict[str, dict[str, Any]] = {
    "kubernetes.rollout_restart": {"name": APP},
    "kubernetes.rollout_undo": {"name": APP},
    "kubernetes.scale": {"name": APP, "replicas": "4"},
    "kubernetes.delete_pod": {"name": "redis-0", "wait_ready": "5s"},
    "kubernetes.patch_config": {
        "configmap": "process-config",
        "key": "ProcessFramework.MaxConcurrentProcesses",
        "value": "10",
        "restart": f"deployment/{APP}",
    },
    "kubernetes.swap_llm_provider": {"restart": f"deployment/{APP}"},
    "kubernetes.set_resources": {"name": "redis", "kind": "statefulset", "memory_limit": "x2"},
    "kubernetes.expand_pvc": {"name": "redis-data-redis-0", "size": "20Gi"},
}


@pytest.fixture
async def kube() -> AsyncIterator[Kube]:
    async with kube_fake() as k:
        yield k


def as_rbac(method: str, path_qs: str) -> tuple[str, str, str]:
    """(apiGroup, resource[/subresource], verb) of one API request."""
    parts = [p for p in urlsplit(path_qs).path.split("/") if p]
    group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
    if rest[:1] == ["namespaces"] and len(rest) > 2:
        rest = rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) > 2 else "")
    verb = VERBS.get(method) or ("get" if len(rest) > 1 else "list")
    return group, resource, verb


def granted(name: str) -> set[tuple[str, str, str]]:
    entry = next(e for e in rbac_table.load_permissions()["actions"] if e["name"] == name)
    return {
        (rule["apiGroup"], resource, verb)
        for rule in entry.get("rules", []) + entry.get("clusterRules", [])
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


@pytest.mark.parametrize("name", sorted(RUNS))
async def test_an_action_uses_only_its_granted_permissions(kube: Kube, name: str) -> None:
    kube.fake.requests.clear()
    _, outcome = await plan_then_execute(kube, name, RUNS[name])
    assert outcome.ok, outcome.message
    used = {as_rbac(method, path) for method, path in kube.fake.requests}
    assert used - granted(name) == set(), f"{name} needs permissions.yaml to grant these"


async def test_restore_config_uses_only_its_granted_permissions(kube: Kube) -> None:
    await plan_then_execute(kube, "kubernetes.swap_llm_provider", {})
    kube.fake.requests.clear()
    params = {"configmap": "process-config", "restart": f"deployment/{APP}"}
    _, outcome = await plan_then_execute(kube, "kubernetes.restore_config", params)
    assert outcome.ok, outcome.message
    used = {as_rbac(method, path) for method, path in kube.fake.requests}
    assert used - granted("kubernetes.restore_config") == set()
