"""The Kubernetes fake, exercised only through the real ``kubernetes_asyncio`` client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from kubernetes_asyncio.client import (
    ApiClient,
    ApisApi,
    AppsV1Api,
    Configuration,
    CoreV1Api,
    V1Container,
    V1Deployment,
    V1DeploymentSpec,
    V1LabelSelector,
    V1ObjectMeta,
    V1PodSpec,
    V1PodTemplateSpec,
    VersionApi,
)
from kubernetes_asyncio.client.exceptions import ApiException

from tests.fakes.kube_api import DEFAULT_USER, NAMESPACE, FakeKube, KubeFakeServer, seed_honua
from tests.helpers import REPO, free_port, wait_for

NS = NAMESPACE
DEPLOY = "honua-process-framework"
REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture
def kube() -> Iterator[KubeFakeServer]:
    with KubeFakeServer(seed_honua(FakeKube())) as server:
        yield server


@pytest.fixture
def fake(kube: KubeFakeServer) -> FakeKube:
    return kube.fake


@pytest.fixture
async def client(kube: KubeFakeServer) -> AsyncIterator[ApiClient]:
    async with ApiClient(Configuration(host=kube.url)) as api_client:
        yield api_client


@pytest.fixture
def core(client: ApiClient) -> CoreV1Api:
    return CoreV1Api(client)


@pytest.fixture
def apps(client: ApiClient) -> AppsV1Api:
    return AppsV1Api(client)


def _ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


async def _replica_sets(apps: AppsV1Api) -> dict[int, Any]:
    listed = await apps.list_namespaced_replica_set(
        NS, label_selector="app=honua-process-framework"
    )
    return {int(rs.metadata.annotations[REVISION]): rs for rs in listed.items}


def _status_body(exc: ApiException) -> dict[str, Any]:
    return json.loads(exc.body or b"{}")


# --- reads ------------------------------------------------------------------------------


async def test_pods_by_label_selector_with_container_statuses(
    fake: FakeKube, core: CoreV1Api
) -> None:
    pods = (await core.list_namespaced_pod(NS, label_selector="app=honua-process-framework")).items
    assert len(pods) == 3
    assert all(p.status.phase == "Running" and _ready(p) for p in pods)
    assert {p.spec.containers[0].image for p in pods} == {"honua/process-framework:1.4.2"}
    crashing, evicted, _ = sorted(p.metadata.name for p in pods)
    fake.oom_killed(NS, crashing, restarts=4)
    fake.evict(NS, evicted)

    pods = (
        await core.list_namespaced_pod(NS, label_selector="app in (honua-process-framework)")
    ).items
    by_name = {p.metadata.name: p for p in pods}
    status = by_name[crashing].status.container_statuses[0]
    assert (status.ready, status.restart_count) == (False, 4)
    assert status.state.waiting.reason == "CrashLoopBackOff"
    assert status.last_state.terminated.reason == "OOMKilled"
    assert status.last_state.terminated.exit_code == 137
    assert (by_name[evicted].status.phase, by_name[evicted].status.reason) == ("Failed", "Evicted")
    assert len(pods) == 4  # the ReplicaSet replaced the evicted pod, as a real one does

    fake.image_pull_backoff(NS, "redis-0")
    redis = await core.read_namespaced_pod("redis-0", NS)
    assert redis.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"
    others = await core.list_namespaced_pod(NS, label_selector="app notin (redis),!missing")
    assert {p.metadata.labels["app"] for p in others.items} == {"honua-process-framework"}


async def test_logs_tail_and_previous(fake: FakeKube, core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        await core.read_namespaced_pod_log("redis-0", NS, previous=True)
    assert exc.value.status == 400
    message = _status_body(exc.value)["message"]
    assert message == 'previous terminated container "redis" in pod "redis-0" not found'

    fake.oom_killed(NS, "redis-0")
    fake.set_logs(
        NS, "redis-0", ["used_memory:1900000000", "used_memory:2147000000", "OOM"], previous=True
    )
    fake.set_logs(NS, "redis-0", "Ready to accept connections tcp\n")
    previous = await core.read_namespaced_pod_log("redis-0", NS, previous=True, tail_lines=2)
    assert previous == "used_memory:2147000000\nOOM\n"
    current = await core.read_namespaced_pod_log("redis-0", NS, container="redis")
    assert current == "Ready to accept connections tcp\n"

    with pytest.raises(ApiException) as exc:
        await core.read_namespaced_pod_log("redis-0", NS, container="sidecar")
    assert exc.value.status == 400


async def test_events_by_field_selector(fake: FakeKube, core: CoreV1Api) -> None:
    fake.add_event(NS, "redis-0", "BackOff", "Back-off restarting failed container redis", count=7)
    fake.add_event(NS, "redis-0", "Pulled", "Container image already present", type="Normal")
    fake.add_event(NS, "redis", "FailedCreate", "create Pod redis-1 failed", kind="StatefulSet")
    events = await core.list_namespaced_event(
        NS, field_selector="involvedObject.name=redis-0,involvedObject.kind=Pod,type=Warning"
    )
    assert [(e.reason, e.count, e.involved_object.uid is not None) for e in events.items] == [
        ("BackOff", 7, True)
    ]
    normal = await core.list_namespaced_event(NS, field_selector="type!=Warning,reason=Pulled")
    assert [e.reason for e in normal.items] == ["Pulled"]
    with pytest.raises(ApiException) as exc:
        await core.list_namespaced_event(NS, field_selector="involvedObject.colour=red")
    assert exc.value.status == 400
    assert _status_body(exc.value)["message"] == "field label not supported: involvedObject.colour"


# --- deployments ------------------------------------------------------------------------


async def test_strategic_merge_template_patch_rolls_out_a_new_replica_set(
    apps: AppsV1Api, core: CoreV1Api
) -> None:
    before = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert before.metadata.annotations[REVISION] == "2"
    assert sorted(await _replica_sets(apps)) == [1, 2]
    body = {
        "spec": {
            "template": {
                "metadata": {
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-27T03:00:00Z"}
                },
                "spec": {
                    "containers": [
                        {"name": "process-framework", "image": "honua/process-framework:1.4.3"}
                    ]
                },
            }
        }
    }
    patched = await apps.patch_namespaced_deployment(DEPLOY, NS, body)
    assert patched.metadata.generation == before.metadata.generation + 1
    container = patched.spec.template.spec.containers[0]
    assert container.image == "honua/process-framework:1.4.3"
    assert (
        container.readiness_probe.http_get.path == "/health/ready"
    )  # merged by name, not replaced

    rss = await _replica_sets(apps)
    assert sorted(rss) == [1, 2, 3]
    assert (rss[3].spec.replicas, rss[2].spec.replicas, rss[1].spec.replicas) == (3, 0, 0)
    assert rss[3].metadata.owner_references[0].uid == before.metadata.uid
    assert rss[3].spec.template.spec.containers[0].image == "honua/process-framework:1.4.3"
    after = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert after.metadata.annotations[REVISION] == "3"
    assert (after.status.updated_replicas, after.status.ready_replicas) == (3, 3)
    assert after.status.observed_generation == after.metadata.generation
    pods = (await core.list_namespaced_pod(NS, label_selector="app=honua-process-framework")).items
    assert {p.metadata.owner_references[0].name for p in pods} == {rss[3].metadata.name}


async def test_dry_run_patch_changes_nothing(
    fake: FakeKube, client: ApiClient, apps: AppsV1Api
) -> None:
    before = await apps.read_namespaced_deployment(DEPLOY, NS)
    rss_before = await _replica_sets(apps)
    body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "process-framework", "image": "x:9"}]}}
        }
    }
    preview = await apps.patch_namespaced_deployment(DEPLOY, NS, body, dry_run="All")
    assert preview.spec.template.spec.containers[0].image == "x:9"
    assert preview.metadata.resource_version == before.metadata.resource_version
    after = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert after.metadata.resource_version == before.metadata.resource_version
    assert after.spec.template.spec.containers[0].image == "honua/process-framework:1.4.2"
    assert sorted(await _replica_sets(apps)) == sorted(rss_before)

    scale = await apps.patch_namespaced_deployment_scale(
        DEPLOY, NS, {"spec": {"replicas": 7}}, dry_run="All"
    )
    assert scale.spec.replicas == 7
    assert (await apps.read_namespaced_deployment(DEPLOY, NS)).spec.replicas == 3
    redis = fake.get("pods", NS, "redis-0")
    await CoreV1Api(client).delete_namespaced_pod("redis-0", NS, dry_run="All")
    assert fake.get("pods", NS, "redis-0")["metadata"] == redis["metadata"]
    assert ("GET", f"/apis/apps/v1/namespaces/{NS}/deployments/{DEPLOY}") in fake.requests


async def test_json_patch_undo_reuses_the_old_replica_set(
    client: ApiClient, apps: AppsV1Api
) -> None:
    """kubectl rollout undo: the previous revision's template, sent as a JSON patch."""
    rss = await _replica_sets(apps)
    template = client.sanitize_for_serialization(rss[1].spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    ops = [
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/template", "value": template},
    ]
    patched = await apps.patch_namespaced_deployment(DEPLOY, NS, ops)
    assert patched.spec.template.spec.containers[0].image == "honua/process-framework:1.4.1"
    rss = await _replica_sets(apps)
    assert sorted(rss) == [2, 3]  # revision 1 became revision 3, no new ReplicaSet
    assert rss[3].metadata.annotations["deployment.kubernetes.io/revision-history"] == "1"
    assert (rss[3].spec.replicas, rss[2].spec.replicas) == (3, 0)
    assert (await apps.read_namespaced_deployment(DEPLOY, NS)).metadata.annotations[REVISION] == "3"

    with pytest.raises(ApiException) as exc:
        await apps.patch_namespaced_deployment(
            DEPLOY, NS, [{"op": "test", "path": "/spec/replicas", "value": 9}]
        )
    assert exc.value.status == 422


async def test_merge_patch_configmap(core: CoreV1Api) -> None:
    cm = await core.read_namespaced_config_map("process-config", NS)
    assert "MaxConcurrentProcesses: 20" in cm.data["appsettings.yaml"]
    assert "# Runbook 1 Scenario B" in cm.data["appsettings.yaml"]
    new_yaml = cm.data["appsettings.yaml"].replace(
        "MaxConcurrentProcesses: 20", "MaxConcurrentProcesses: 10"
    )
    body = {"data": {"appsettings.yaml": new_yaml, "LOG_LEVEL": None}}
    patched = await core.patch_namespaced_config_map(
        "process-config",
        NS,
        body,
        _content_type="application/merge-patch+json",  # type: ignore[call-arg]  # not in the stubs
    )
    assert "MaxConcurrentProcesses: 10" in patched.data["appsettings.yaml"]
    assert "LOG_LEVEL" not in patched.data
    assert int(patched.metadata.resource_version) > int(cm.metadata.resource_version)


async def test_scale_subresources(fake: FakeKube, apps: AppsV1Api, core: CoreV1Api) -> None:
    scale = await apps.read_namespaced_deployment_scale(DEPLOY, NS)
    assert (scale.spec.replicas, scale.status.selector) == (3, "app=honua-process-framework")
    scale = await apps.patch_namespaced_deployment_scale(DEPLOY, NS, {"spec": {"replicas": 5}})
    assert scale.kind == "Scale" and scale.spec.replicas == 5
    pods = await core.list_namespaced_pod(NS, label_selector="app=honua-process-framework")
    assert len(pods.items) == 5

    await apps.patch_namespaced_stateful_set_scale("redis", NS, {"spec": {"replicas": 2}})
    sts = await apps.read_namespaced_stateful_set("redis", NS)
    assert (sts.spec.replicas, sts.status.ready_replicas) == (2, 2)
    redis_pods = await core.list_namespaced_pod(NS, label_selector="app=redis")
    assert [p.metadata.name for p in redis_pods.items] == ["redis-0", "redis-1"]
    pvc = await core.read_namespaced_persistent_volume_claim("redis-data-redis-1", NS)
    assert (pvc.status.phase, pvc.status.capacity["storage"]) == ("Bound", "10Gi")

    with pytest.raises(ApiException) as exc:
        await apps.patch_namespaced_deployment_scale(DEPLOY, NS, {"spec": {"replicas": -1}})
    assert exc.value.status == 422


async def test_pvc_expand(core: CoreV1Api) -> None:
    body = {"spec": {"resources": {"requests": {"storage": "20Gi"}}}}
    await core.patch_namespaced_persistent_volume_claim("redis-data-redis-0", NS, body)
    pvc = await core.read_namespaced_persistent_volume_claim("redis-data-redis-0", NS)
    assert (pvc.spec.resources.requests["storage"], pvc.status.capacity["storage"]) == (
        "20Gi",
        "20Gi",
    )
    shrink = {"spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    with pytest.raises(ApiException) as exc:
        await core.patch_namespaced_persistent_volume_claim("redis-data-redis-0", NS, shrink)
    assert exc.value.status == 422


# --- errors -----------------------------------------------------------------------------


async def test_stale_resource_version_conflicts(apps: AppsV1Api) -> None:
    stale = await apps.read_namespaced_deployment(DEPLOY, NS)
    await apps.patch_namespaced_deployment(DEPLOY, NS, {"metadata": {"labels": {"touched": "yes"}}})
    stale.spec.replicas = 4
    with pytest.raises(ApiException) as exc:
        await apps.replace_namespaced_deployment(DEPLOY, NS, stale)
    assert exc.value.status == 409
    body = _status_body(exc.value)
    assert (body["kind"], body["reason"], body["details"]["kind"]) == (
        "Status",
        "Conflict",
        "deployments",
    )
    assert "the object has been modified" in body["message"]

    with pytest.raises(ApiException) as exc:
        patch = {
            "metadata": {"resourceVersion": stale.metadata.resource_version},
            "spec": {"replicas": 4},
        }
        await apps.patch_namespaced_deployment(DEPLOY, NS, patch)
    assert exc.value.status == 409
    assert (await apps.read_namespaced_deployment(DEPLOY, NS)).spec.replicas == 3


async def test_not_found_status(apps: AppsV1Api, core: CoreV1Api) -> None:
    with pytest.raises(ApiException) as exc:
        await apps.read_namespaced_deployment("x", NS)
    assert exc.value.status == 404
    assert _status_body(exc.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'deployments.apps "x" not found',
        "reason": "NotFound",
        "details": {"name": "x", "group": "apps", "kind": "deployments"},
        "code": 404,
    }
    with pytest.raises(ApiException) as exc:
        await core.read_namespaced_pod_log("nope", NS)
    assert _status_body(exc.value)["message"] == 'pods "nope" not found'


async def test_configured_forbidden(fake: FakeKube, core: CoreV1Api, apps: AppsV1Api) -> None:
    fake.deny("list", "pods", NS)
    fake.deny("patch", "deployments/scale", NS)
    with pytest.raises(ApiException) as exc:
        await core.list_namespaced_pod(NS)
    assert exc.value.status == 403
    assert _status_body(exc.value)["message"] == (
        f'pods is forbidden: User "{DEFAULT_USER}" cannot list resource "pods" '
        'in API group "" in the namespace "honua-process-framework"'
    )
    await core.read_namespaced_pod("redis-0", NS)  # only the denied verb fails
    with pytest.raises(ApiException) as exc:
        await apps.patch_namespaced_deployment_scale(DEPLOY, NS, {"spec": {"replicas": 1}})
    assert _status_body(exc.value)["message"] == (
        f'deployments.apps "{DEPLOY}" is forbidden: User "{DEFAULT_USER}" cannot patch resource '
        '"deployments/scale" in API group "apps" in the namespace "honua-process-framework"'
    )
    fake.clear_rules()
    assert len((await core.list_namespaced_pod(NS)).items) == 4


# --- controllers ------------------------------------------------------------------------


async def test_deleted_statefulset_pod_returns_and_becomes_ready(
    fake: FakeKube, client: ApiClient, core: CoreV1Api
) -> None:
    old = await core.read_namespaced_pod("redis-0", NS)
    fake.set_pod_startup("pending", reads=2)
    await core.delete_namespaced_pod("redis-0", NS)
    seen = []
    for _ in range(3):
        pod = await core.read_namespaced_pod("redis-0", NS)
        seen.append((pod.status.phase, _ready(pod)))
    assert pod.metadata.uid != old.metadata.uid
    assert seen == [("Pending", False), ("Pending", False), ("Running", True)]

    fake.set_pod_startup("pending", seconds=0.3)
    await core.delete_namespaced_pod("redis-0", NS)

    async def redis_ready() -> bool:
        return _ready(await core.read_namespaced_pod("redis-0", NS))

    assert not await redis_ready()
    await wait_for(redis_ready, timeout=10)
    sts = await AppsV1Api(client).read_namespaced_stateful_set("redis", NS)
    assert sts.status.ready_replicas == 1


async def test_deleted_replica_set_pod_is_replaced_under_a_new_name(
    fake: FakeKube, core: CoreV1Api
) -> None:
    pods = (await core.list_namespaced_pod(NS, label_selector="app=honua-process-framework")).items
    victim = pods[0].metadata.name
    fake.set_pod_startup("crashloop", seconds=0.3)
    await core.delete_namespaced_pod(victim, NS)

    async def replaced() -> list[Any]:
        listed = await core.list_namespaced_pod(NS, label_selector="app=honua-process-framework")
        return [p for p in listed.items if p.metadata.name not in {q.metadata.name for q in pods}]

    fresh = (await wait_for(replaced))[0]
    assert fresh.metadata.name.startswith(pods[0].metadata.owner_references[0].name + "-")
    assert fresh.status.container_statuses[0].state.waiting.reason == "CrashLoopBackOff"

    async def fresh_ready() -> bool:
        return _ready(await core.read_namespaced_pod(fresh.metadata.name, NS))

    await wait_for(fresh_ready)
    restarts = (
        (await core.read_namespaced_pod(fresh.metadata.name, NS))
        .status.container_statuses[0]
        .restart_count
    )
    assert restarts == 1  # it crashed once on the way up


async def test_paused_deployment_does_not_roll_out(apps: AppsV1Api) -> None:
    await apps.patch_namespaced_deployment(DEPLOY, NS, {"spec": {"paused": True}})
    body = {
        "spec": {
            "template": {"spec": {"containers": [{"name": "process-framework", "image": "y:1"}]}}
        }
    }
    await apps.patch_namespaced_deployment(DEPLOY, NS, body)
    paused = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert paused.metadata.annotations[REVISION] == "2"
    assert sorted(await _replica_sets(apps)) == [1, 2]
    progressing = next(c for c in paused.status.conditions if c.type == "Progressing")
    assert progressing.reason == "DeploymentPaused"

    await apps.patch_namespaced_deployment(DEPLOY, NS, {"spec": {"paused": None}})
    resumed = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert resumed.metadata.annotations[REVISION] == "3"
    assert (await _replica_sets(apps))[3].spec.template.spec.containers[0].image == "y:1"


async def test_kubectl_rollout_undo_restores_template_and_annotations(
    client: ApiClient, apps: AppsV1Api
) -> None:
    """The algorithm of kubectl's rollback.go, as the bot's undo action will run it."""
    skip = {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
    deployment = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert deployment.metadata.annotations["kubernetes.io/change-cause"].startswith("deploy 1.4.2")
    rss = await _replica_sets(apps)
    owned = {
        r: rs
        for r, rs in rss.items()
        if rs.metadata.owner_references[0].uid == deployment.metadata.uid
    }
    target = owned[max(owned) - 1]
    template = client.sanitize_for_serialization(target.spec.template)
    del template["metadata"]["labels"]["pod-template-hash"]
    annotations = {k: v for k, v in deployment.metadata.annotations.items() if k in skip}
    annotations |= {k: v for k, v in target.metadata.annotations.items() if k not in skip}
    await apps.patch_namespaced_deployment(
        DEPLOY,
        NS,
        [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ],
    )
    after = await apps.read_namespaced_deployment(DEPLOY, NS)
    assert after.spec.template.spec.containers[0].image == "honua/process-framework:1.4.1"
    assert after.metadata.annotations == {
        "kubernetes.io/change-cause": "deploy 1.4.1",
        REVISION: "3",
    }
    assert after.status.updated_replicas == 3


async def test_created_deployment_rolls_out_and_cascades_on_delete(
    fake: FakeKube, apps: AppsV1Api, core: CoreV1Api
) -> None:
    labels = {"app": "web"}
    body = V1Deployment(
        metadata=V1ObjectMeta(name="web"),
        spec=V1DeploymentSpec(
            replicas=2,
            revision_history_limit=1,
            selector=V1LabelSelector(match_labels=labels),
            template=V1PodTemplateSpec(
                metadata=V1ObjectMeta(labels=labels),
                spec=V1PodSpec(containers=[V1Container(name="web", image="nginx:1.25")]),
            ),
        ),
    )
    created = await apps.create_namespaced_deployment(NS, body)
    assert created.metadata.generation == 1 and created.metadata.uid
    with pytest.raises(ApiException) as exc:
        await apps.create_namespaced_deployment(NS, body)
    assert (exc.value.status, _status_body(exc.value)["reason"]) == (409, "AlreadyExists")
    for image in ("nginx:1.26", "nginx:1.27"):
        patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}}
        await apps.patch_namespaced_deployment("web", NS, patch)
    rss = (await apps.list_namespaced_replica_set(NS, label_selector="app=web")).items
    assert sorted(rs.metadata.annotations[REVISION] for rs in rss) == ["2", "3"]  # history limit 1

    status = await apps.delete_namespaced_deployment("web", NS)
    assert (status.status, status.details.name) == ("Success", "web")
    assert (await apps.list_namespaced_replica_set(NS, label_selector="app=web")).items == []
    assert (await core.list_namespaced_pod(NS, label_selector="app=web")).items == []


async def test_statefulset_template_change_recreates_its_pod(
    apps: AppsV1Api, core: CoreV1Api
) -> None:
    before = await core.read_namespaced_pod("redis-0", NS)
    restart = {"kubectl.kubernetes.io/restartedAt": "2026-11-27T03:00:00Z"}
    await apps.patch_namespaced_stateful_set(
        "redis", NS, {"spec": {"template": {"metadata": {"annotations": restart}}}}
    )
    after = await core.read_namespaced_pod("redis-0", NS)
    assert after.metadata.uid != before.metadata.uid
    assert after.metadata.annotations == restart
    sts = await apps.read_namespaced_stateful_set("redis", NS)
    assert sts.status.update_revision == after.metadata.labels["controller-revision-hash"]
    assert sts.status.current_revision == sts.status.update_revision


async def test_latency_and_injected_errors(fake: FakeKube, core: CoreV1Api) -> None:
    fake.set_latency(0.5)
    with pytest.raises(asyncio.TimeoutError):
        await core.list_namespaced_pod(NS, _request_timeout=0.1)
    fake.set_latency(0)
    fake.fail("get", "pods", code=503, times=1)
    with pytest.raises(ApiException) as exc:
        await core.read_namespaced_pod("redis-0", NS)
    assert (exc.value.status, _status_body(exc.value)["reason"]) == (503, "ServiceUnavailable")
    assert (await core.read_namespaced_pod("redis-0", NS)).metadata.name == "redis-0"
    with pytest.raises(ApiException) as exc:
        await core.list_namespaced_pod(NS, watch=True)
    assert exc.value.status == 405


async def test_discovery(client: ApiClient) -> None:
    assert (await VersionApi(client).get_code()).major == "1"
    groups = await ApisApi(client).get_api_versions()
    assert [g.name for g in groups.groups] == ["apps", "storage.k8s.io"]
    resources = {r.name for r in (await AppsV1Api(client).get_api_resources()).resources}
    assert {"deployments", "deployments/scale", "statefulsets/scale", "replicasets"} <= resources


@pytest.fixture
def kube_process() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m tests.fakes.kube_api --seed honua`` as its own process."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.kube_api", "--port", str(port), "--seed", "honua"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    yield f"http://127.0.0.1:{port}", proc
    proc.terminate()
    proc.wait(10)


async def test_entry_point_and_admin_endpoints(
    kube_process: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = kube_process
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:

        async def up() -> bool:
            try:
                return (await http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return proc.poll() is not None  # exited: fail below, not by timeout

        await wait_for(up, timeout=20)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        deny = {"verb": "get", "resource": "pods/log", "namespace": NS}
        resp = await http.post("/_fake/deny", json=deny)
        assert resp.json()["result"]["resource"] == "pods/log"
        crash = {"namespace": NS, "pod": "redis-0", "last_reason": "OOMKilled"}
        assert (await http.post("/_fake/crashloop", json=crash)).status_code == 200
        assert (await http.post("/_fake/nope", json={})).status_code == 404
        async with ApiClient(Configuration(host=url)) as api:
            core = CoreV1Api(api)
            pod = await core.read_namespaced_pod("redis-0", NS)
            assert pod.status.container_statuses[0].last_state.terminated.reason == "OOMKilled"
            with pytest.raises(ApiException) as exc:
                await core.read_namespaced_pod_log("redis-0", NS)
            assert 'cannot get resource "pods/log"' in _status_body(exc.value)["message"]
            assert (await http.post("/_fake/reset")).status_code == 200
            assert (await core.list_namespaced_pod(NS)).items == []
            assert (await http.post("/_fake/seed", json={"name": "honua"})).status_code == 200
            assert len((await core.list_namespaced_pod(NS)).items) == 4
