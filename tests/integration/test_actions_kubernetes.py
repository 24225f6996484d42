"""Workload actions (rollout restart/undo, scale, delete pod, resources, PVC expansion)
through the real kubernetes_asyncio client against the Kubernetes API fake: the plan
(server-side dry run) writes nothing and previews exactly what execute then does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.actions.base import Limits, Refused
from tests.integration.kube_actions import (
    APP,
    NS,
    Kube,
    execute,
    kube_fake,
    plan,
    plan_then_execute,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
async def kube() -> AsyncIterator[Kube]:
    async with kube_fake() as k:
        yield k


def template_annotations(obj: dict[str, Any]) -> dict[str, str]:
    return obj["spec"]["template"]["metadata"].get("annotations") or {}


def image(obj: dict[str, Any]) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


async def test_rollout_restart_previews_then_sets_restarted_at(kube: Kube) -> None:
    rs_before = len(kube.fake.objects("replicasets", NS))
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.rollout_restart", {"name": APP})
    assert the_plan.target == f"deployment/{NS}/{APP}" and the_plan.dry_run_checked
    [change] = the_plan.changes
    assert (change.field, change.before) == (
        f"spec.template.metadata.annotations[{RESTARTED_AT}]",
        None,
    )
    assert outcome.ok and outcome.changes == the_plan.changes
    assert "not waiting" in outcome.message
    deployment = kube.get("deployments", APP)
    assert template_annotations(deployment)[RESTARTED_AT] == change.after
    assert len(kube.fake.objects("replicasets", NS)) == rs_before + 1  # it rolled


async def test_rollout_restart_refuses_a_paused_deployment(kube: Kube) -> None:
    kube.fake.patch("deployments", NS, APP, {"spec": {"paused": True}})
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.rollout_restart", {"name": APP}, kube.ctx())
    assert exc.value.gate == "conflict"
    assert "is paused" in exc.value.message and "kubectl rollout resume" in exc.value.message


async def test_a_deployment_paused_after_the_preview_is_refused_too(kube: Kube) -> None:
    ctx = kube.ctx()
    the_plan = await plan("kubernetes.rollout_restart", {"name": APP}, ctx)
    kube.fake.patch("deployments", NS, APP, {"spec": {"paused": True}})
    with pytest.raises(Refused) as exc:
        await execute("kubernetes.rollout_restart", {"name": APP}, ctx, the_plan)
    assert exc.value.gate == "conflict"
    assert RESTARTED_AT not in template_annotations(kube.get("deployments", APP))


async def test_rbac_denial_is_a_clear_forbidden_refusal(kube: Kube) -> None:
    kube.fake.deny("patch", "deployments", NS)
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.rollout_restart", {"name": APP}, kube.ctx())
    assert exc.value.gate == "forbidden"
    assert exc.value.message.startswith(
        f"forbidden: cannot patch deployment {APP} in namespace {NS} (RBAC)"
    )


async def test_statefulset_restart(kube: Kube) -> None:
    params = {"name": "redis", "kind": "statefulset"}
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.rollout_restart", params)
    assert the_plan.target == f"statefulset/{NS}/redis" and outcome.ok
    sts = kube.get("statefulsets", "redis")
    assert template_annotations(sts)[RESTARTED_AT] == the_plan.changes[0].after


async def test_rollout_undo_restores_the_previous_template_and_annotations(kube: Kube) -> None:
    before = kube.get("deployments", APP)
    assert image(before) == "honua/process-framework:1.4.2"
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.rollout_undo", {"name": APP})
    preview = {c.field: (c.before, c.after) for c in the_plan.changes}
    assert preview["spec.template"] == ("revision 2", "revision 1")
    assert preview["containers[process-framework].image"] == (
        "honua/process-framework:1.4.2",
        "honua/process-framework:1.4.1",
    )
    assert preview["metadata.annotations[kubernetes.io/change-cause]"] == (
        "deploy 1.4.2 (faster metadata step)",
        "deploy 1.4.1",
    )
    assert outcome.ok and outcome.changes == the_plan.changes
    after = kube.get("deployments", APP)
    assert image(after) == "honua/process-framework:1.4.1"
    assert "pod-template-hash" not in after["spec"]["template"]["metadata"]["labels"]
    assert after["metadata"]["annotations"] == {
        "kubernetes.io/change-cause": "deploy 1.4.1",
        REVISION: "3",  # the old ReplicaSet is reused under the next revision, as kubectl does
    }
    assert outcome.undo is not None and outcome.undo.type == "kubernetes.rollout_undo"
    assert outcome.undo.params == {"name": APP, "namespace": NS, "to_revision": 2}
    _, back = await plan_then_execute(kube, outcome.undo.type, outcome.undo.params)
    assert back.ok and image(kube.get("deployments", APP)) == "honua/process-framework:1.4.2"


async def test_rollout_undo_to_a_revision_that_does_not_exist(kube: Kube) -> None:
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.rollout_undo", {"name": APP, "to_revision": 7}, kube.ctx())
    assert exc.value.gate == "input"
    assert "unable to find revision 7" in exc.value.message and "revisions kept: 1, 2" in (
        exc.value.message
    )


async def test_scale_with_a_template_over_current_and_its_undo(kube: Kube) -> None:
    params = {"name": APP, "replicas": "{{ current + 1 }}"}
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.scale", params)
    assert [(c.field, c.before, c.after) for c in the_plan.changes] == [("spec.replicas", 3, 4)]
    assert outcome.ok and outcome.changes == the_plan.changes
    assert kube.get("deployments", APP)["spec"]["replicas"] == 4
    assert len(kube.fake.list("pods", NS, f"app={APP}")["items"]) == 4
    assert outcome.undo is not None
    _, back = await plan_then_execute(kube, outcome.undo.type, outcome.undo.params)
    assert back.ok and kube.get("deployments", APP)["spec"]["replicas"] == 3


async def test_scale_beyond_the_caps_is_refused(kube: Kube) -> None:
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.scale", {"name": APP, "replicas": "9"}, kube.ctx())
    assert exc.value.gate == "blast_radius" and "max_replica_change" in exc.value.message
    ctx = kube.ctx(limits=Limits(max_replica_change=5, max_replicas=4))
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.scale", {"name": APP, "replicas": "5"}, ctx)
    assert exc.value.gate == "blast_radius"
    assert exc.value.message == (
        f"scale deployment {NS}/{APP}: 5 replicas is above the cap of 4 (max_replicas)"
    )
    assert kube.get("deployments", APP)["spec"]["replicas"] == 3


async def test_scale_changed_since_the_preview_is_a_conflict(kube: Kube) -> None:
    ctx = kube.ctx()
    the_plan = await plan(
        "kubernetes.scale", {"name": "redis", "kind": "statefulset", "replicas": "0"}, ctx
    )
    kube.fake.patch("statefulsets", NS, "redis", {"spec": {"replicas": 2}})
    with pytest.raises(Refused) as exc:
        await execute(
            "kubernetes.scale",
            {"name": "redis", "kind": "statefulset", "replicas": "0"},
            ctx,
            the_plan,
        )
    assert exc.value.gate == "conflict" and "(1 → 2 replicas)" in exc.value.message


async def test_delete_pod_waits_for_the_statefulset_replacement(kube: Kube) -> None:
    old_uid = kube.get("pods", "redis-0")["metadata"]["uid"]
    kube.fake.set_pod_startup("pending", seconds=0.3)
    the_plan, outcome = await plan_then_execute(
        kube, "kubernetes.delete_pod", {"name": "redis-0", "wait_ready": "10s"}
    )
    assert the_plan.changes[0].after == "deleted; StatefulSet redis creates a replacement"
    assert outcome.ok, outcome.message
    assert outcome.changes == the_plan.changes
    assert outcome.message.startswith(f"deleted pod {NS}/redis-0; replacement redis-0 is Ready")
    fresh = kube.get("pods", "redis-0")
    assert fresh["metadata"]["uid"] != old_uid


async def test_delete_pod_of_a_replica_set_waits_for_the_new_name(kube: Kube) -> None:
    victim = kube.fake.list("pods", NS, f"app={APP}")["items"][0]["metadata"]["name"]
    kube.fake.set_pod_startup("crashloop", seconds=0.3)
    _, outcome = await plan_then_execute(kube, "kubernetes.delete_pod", {"name": victim})
    assert outcome.ok, outcome.message
    replacement = outcome.details["replacement"]
    assert replacement != victim and replacement.startswith(f"{APP}-")


async def test_delete_pod_times_out_with_a_clear_message(kube: Kube) -> None:
    kube.fake.set_pod_startup("crashloop")  # the replacement never becomes Ready
    _, outcome = await plan_then_execute(
        kube, "kubernetes.delete_pod", {"name": "redis-0", "wait_ready": 0.5}
    )
    assert not outcome.ok
    assert outcome.message == (
        f"deleted pod {NS}/redis-0, but replacement redis-0 is not Ready "
        "(Running (CrashLoopBackOff)) after 0.5s (wait_ready); check its events and logs"
    )


async def test_delete_pod_without_a_controller_is_refused(kube: Kube) -> None:
    kube.fake.create(
        "pods",
        {"metadata": {"name": "loner"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}},
        NS,
    )
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.delete_pod", {"name": "loner"}, kube.ctx())
    assert exc.value.gate == "input" and "has no controller" in exc.value.message
    with pytest.raises(Refused) as missing:
        await plan("kubernetes.delete_pod", {"name": "ghost"}, kube.ctx())
    assert missing.value.gate == "not_found"


async def test_set_resources_by_factor_with_cap_and_undo(kube: Kube) -> None:
    params = {"name": "redis", "kind": "statefulset", "memory_limit": "x8", "memory_request": "2Gi"}
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.set_resources", params)
    assert [(c.field, c.before, c.after) for c in the_plan.changes] == [
        ("containers[redis].resources.limits.memory", "2Gi", "8Gi"),
        ("containers[redis].resources.requests.memory", "1Gi", "2Gi"),
    ]
    assert the_plan.warnings == ["memory_limit: factor x8 capped at x4"]
    assert outcome.ok and outcome.changes == the_plan.changes
    resources = kube.get("statefulsets", "redis")["spec"]["template"]["spec"]["containers"][0][
        "resources"
    ]
    assert resources["limits"] == {"cpu": "1", "memory": "8Gi"}
    assert resources["requests"] == {"cpu": "250m", "memory": "2Gi"}
    assert outcome.undo is not None
    assert (
        outcome.undo.params["memory_limit"] == "2Gi"
        and outcome.undo.params["memory_request"] == "1Gi"
    )
    _, back = await plan_then_execute(kube, outcome.undo.type, outcome.undo.params)
    assert back.ok
    resources = kube.get("statefulsets", "redis")["spec"]["template"]["spec"]["containers"][0][
        "resources"
    ]
    assert resources["limits"]["memory"] == "2Gi"


async def test_set_resources_refuses_a_request_above_its_limit(kube: Kube) -> None:
    params = {"name": APP, "memory_request": "4Gi"}
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.set_resources", params, kube.ctx())
    assert exc.value.gate == "input"
    assert exc.value.message.startswith(
        "the memory request 4Gi would be above the memory limit 2Gi"
    )


async def test_expand_pvc_grows_and_says_there_is_no_undo(kube: Kube) -> None:
    the_plan, outcome = await plan_then_execute(
        kube, "kubernetes.expand_pvc", {"name": "redis-data-redis-0", "size": "x1.5"}
    )
    assert [(c.before, c.after) for c in the_plan.changes] == [("10Gi", "15Gi")]
    assert outcome.ok and outcome.changes == the_plan.changes
    assert outcome.undo is None and "No undo" in outcome.message
    assert "capacity is now 15Gi" in outcome.message
    assert (
        kube.get("persistentvolumeclaims", "redis-data-redis-0")["status"]["capacity"]["storage"]
        == "15Gi"
    )


async def test_expand_pvc_pending_file_system_resize_is_reported(kube: Kube) -> None:
    kube.fake.set_pvc_resize("pending")
    _, outcome = await plan_then_execute(
        kube, "kubernetes.expand_pvc", {"name": "redis-data-redis-0", "size": "20Gi"}
    )
    assert outcome.ok and "capacity is still 10Gi (FileSystemResizePending)" in outcome.message


async def test_expand_pvc_refuses_shrinking_and_a_class_without_expansion(kube: Kube) -> None:
    with pytest.raises(Refused) as exc:
        await plan(
            "kubernetes.expand_pvc", {"name": "redis-data-redis-0", "size": "5Gi"}, kube.ctx()
        )
    assert exc.value.gate == "input" and "a claim can only grow" in exc.value.message
    kube.fake.create("storageclasses", {"metadata": {"name": "fixed"}, "provisioner": "x"})
    kube.fake.create(
        "persistentvolumeclaims",
        {
            "metadata": {"name": "data"},
            "spec": {"storageClassName": "fixed", "resources": {"requests": {"storage": "1Gi"}}},
        },
        NS,
    )
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.expand_pvc", {"name": "data", "size": "2Gi"}, kube.ctx())
    assert exc.value.gate == "input"  # the admission plugin's 403 is not an RBAC matter
    assert exc.value.message.startswith("storageclass fixed does not allow volume expansion")
    assert "must support resize" in exc.value.message  # the API server's own words
    assert kube.get("persistentvolumeclaims", "data")["spec"]["resources"]["requests"] == {
        "storage": "1Gi"
    }


async def test_expand_pvc_needs_no_cluster_scoped_read(kube: Kube) -> None:
    """The chart grants namespaced permissions only: the class is judged by the API
    server's dry run of the patch, never by reading the StorageClass."""
    kube.fake.deny("get", "storageclasses")
    the_plan, outcome = await plan_then_execute(
        kube, "kubernetes.expand_pvc", {"name": "redis-data-redis-0", "size": "20Gi"}
    )
    assert the_plan.dry_run_checked and the_plan.warnings == []
    assert outcome.ok and "capacity is now 20Gi" in outcome.message


async def test_dry_run_mode_executes_nothing(kube: Kube) -> None:
    ctx = kube.ctx(dry_run=True)
    before = kube.writes()
    the_plan = await plan("kubernetes.scale", {"name": APP, "replicas": "4"}, ctx)
    outcome = await execute("kubernetes.scale", {"name": APP, "replicas": "4"}, ctx, the_plan)
    assert outcome.ok and outcome.message.startswith("dry run: nothing changed")
    assert outcome.changes == the_plan.changes and kube.writes() == before
