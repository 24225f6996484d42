"""Kubernetes probes: pods, events, logs, rollout history, workloads, config, PVCs."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, Literal

from pydantic import Field, model_validator

from bot.adapters.errors import AdapterError
from bot.adapters.kubernetes import DEFAULT_NAMESPACE
from bot.probes import kubernetes_shape as shape
from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes


class PodsParams(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    selector: str | None = Field(
        default=None, description="label selector, e.g. app=honua-process-framework"
    )
    name: str | None = Field(default=None, description="one pod by name")

    @model_validator(mode="after")
    def _one_target(self) -> PodsParams:
        if not self.selector and not self.name:
            raise ValueError("give a selector or a pod name")
        return self


@probes.register("kubernetes.pods")
async def pods(params: PodsParams, ctx: ProbeContext) -> dict[str, Any]:
    """Pods by selector or name: phase, readiness, restarts and problem reasons.

    Returns `count`, `ready`, `not_ready`, `restarts`, `phases`, `reasons`,
    `crashloop`, `oomkilled`, `image_pull`, `evicted`, `pending` and `pods`
    (name, phase, ready, restarts, reasons, images, node).
    """
    k8s = ctx.adapters.kubernetes
    core = await k8s.core()
    if params.name:
        request: Awaitable[Any] = core.read_namespaced_pod(
            params.name, params.namespace, _preload_content=False
        )
        found = [await k8s.call(request, f"pod {params.name}", params.namespace)]
    else:
        request = core.list_namespaced_pod(
            params.namespace, label_selector=params.selector or "", _preload_content=False
        )
        found = (await k8s.call(request, "pods", params.namespace, "list")).get("items", [])
    return shape.summarise_pods(found)


class EventsParams(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    name: str | None = Field(default=None, description="involved object's name")
    kind: str | None = Field(default=None, description="involved object's kind, e.g. Pod")
    type: Literal["Warning", "Normal"] | None = "Warning"
    limit: int = Field(default=10, ge=1, le=100)


@probes.register("kubernetes.events")
async def events(params: EventsParams, ctx: ProbeContext) -> dict[str, Any]:
    """Recent events (Warning by default) for an object or the namespace.

    Returns `count`, `reasons` {reason: n} and the newest `events`
    (reason, message, count, object, age_seconds).
    """
    selectors = [
        f"{field}={value}"
        for field, value in (
            ("involvedObject.name", params.name),
            ("involvedObject.kind", params.kind),
            ("type", params.type),
        )
        if value
    ]
    k8s = ctx.adapters.kubernetes
    core = await k8s.core()
    request = core.list_namespaced_event(
        params.namespace, field_selector=",".join(selectors), _preload_content=False
    )
    found = (await k8s.call(request, "events", params.namespace, "list")).get("items", [])
    return shape.summarise_events(found, params.limit, shape.now())


class LogsParams(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    pod: str | None = None
    selector: str | None = Field(
        default=None,
        description="read every matching pod's log (up to max_pods), as `kubectl logs -l` does",
    )
    max_pods: int = Field(default=10, ge=1, le=50, description="pods read for a selector")
    container: str | None = None
    tail: int = Field(default=100, ge=1, le=5000)
    previous: bool = Field(default=False, description="the previous (crashed) container's log")
    patterns: dict[str, str] = Field(default_factory=dict, description="name → regex to count")
    show: int = Field(default=20, ge=0, le=200, description="lines kept in the finding")

    @model_validator(mode="after")
    def _one_target(self) -> LogsParams:
        if not self.pod and not self.selector:
            raise ValueError("give a pod or a selector")
        return self


@probes.register("kubernetes.logs")
async def logs(params: LogsParams, ctx: ProbeContext) -> dict[str, Any]:
    """Pod logs (optionally the previous containers') with pattern counts: one pod,
    or every pod a selector matches (a fault may show in one replica only).

    Returns `pod` (the first pod read), `pods`, `lines`, `tail` (last `show`
    lines), `last_line` and `matches` {pattern name: count over all pods}.
    """
    k8s = ctx.adapters.kubernetes
    core = await k8s.core()
    pods = [params.pod] if params.pod else []
    if not pods:
        listed = await k8s.call(
            core.list_namespaced_pod(
                params.namespace, label_selector=params.selector or "", _preload_content=False
            ),
            "pods",
            params.namespace,
            "list",
        )
        items = listed.get("items", [])
        if not items:
            raise AdapterError(f"no pod matches {params.selector} in namespace {params.namespace}")
        pods = [item["metadata"]["name"] for item in items[: params.max_pods]]
    kwargs: dict[str, Any] = {
        "tail_lines": params.tail,
        "previous": params.previous,
        "_preload_content": False,
    }
    if params.container:
        kwargs["container"] = params.container

    async def read(pod: str) -> str:
        return str(
            await k8s.call(
                core.read_namespaced_pod_log(pod, params.namespace, **kwargs),
                f"pods/log {pod}",
                params.namespace,
            )
        )

    texts = await asyncio.gather(*(read(pod) for pod in pods))
    text = "\n".join(t.rstrip("\n") for t in texts if t.strip())
    result = shape.summarise_logs(text, params.show, params.patterns)
    return {"pod": pods[0], "pods": pods, **result}


class DeploymentRef(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    deployment: str = Field(min_length=1)


@probes.register("kubernetes.rollout_history")
async def rollout_history(params: DeploymentRef, ctx: ProbeContext) -> dict[str, Any]:
    """A deployment's revisions (as `kubectl rollout history`), newest first.

    Returns `revision` (current), `count`, `revisions` (revision, replicaset,
    images, replicas, age_seconds), `latest_age_seconds`, `images`,
    `previous_images`, `image_changed` and `paused`.
    """
    k8s = ctx.adapters.kubernetes
    apps = await k8s.apps()
    deployment = await k8s.call(
        apps.read_namespaced_deployment(
            params.deployment, params.namespace, _preload_content=False
        ),
        f"deployment {params.deployment}",
        params.namespace,
    )
    match = (deployment.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    selector = ",".join(f"{k}={v}" for k, v in match.items())
    listed = await k8s.call(
        apps.list_namespaced_replica_set(
            params.namespace, label_selector=selector, _preload_content=False
        ),
        "replicasets",
        params.namespace,
        "list",
    )
    return shape.rollout_history(deployment, listed.get("items", []), shape.now())


class WorkloadParams(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    kind: Literal["deployment", "statefulset"] = "deployment"
    name: str = Field(min_length=1)


@probes.register("kubernetes.workload")
async def workload(params: WorkloadParams, ctx: ProbeContext) -> dict[str, Any]:
    """A deployment's or statefulset's replicas, resources and probe settings.

    Returns `replicas`, `ready_replicas`, `updated_replicas`,
    `available_replicas`, `paused`, `healthy`, `conditions` and `containers`
    (name, image, requests, limits, liveness, readiness).
    """
    k8s = ctx.adapters.kubernetes
    apps = await k8s.apps()
    request: Awaitable[Any]
    if params.kind == "deployment":
        request = apps.read_namespaced_deployment(
            params.name, params.namespace, _preload_content=False
        )
    else:
        request = apps.read_namespaced_stateful_set(
            params.name, params.namespace, _preload_content=False
        )
    obj = await k8s.call(request, f"{params.kind} {params.name}", params.namespace)
    return shape.workload_status(obj)


class ConfigValueParams(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    configmap: str = Field(min_length=1)
    entry: str = Field(default="appsettings.yaml", description="data entry holding YAML or JSON")
    key: str = Field(
        min_length=1, description="dotted path, e.g. ProcessFramework.MaxConcurrentProcesses"
    )


@probes.register("kubernetes.config_value")
async def config_value(params: ConfigValueParams, ctx: ProbeContext) -> dict[str, Any]:
    """A value at a nested path inside a ConfigMap entry holding YAML or JSON.

    Returns `found`, `value`, `resource_version` and `annotations` (for
    change tracking such as last-modified).
    """
    k8s = ctx.adapters.kubernetes
    core = await k8s.core()
    cm = await k8s.call(
        core.read_namespaced_config_map(params.configmap, params.namespace, _preload_content=False),
        f"configmap {params.configmap}",
        params.namespace,
    )
    data = cm.get("data") or {}
    if params.entry not in data:
        raise AdapterError(
            f"configmap {params.namespace}/{params.configmap} has no entry {params.entry!r}"
        )
    try:
        found, value = shape.read_path(shape.parse_entry(data[params.entry]), params.key)
    except ValueError as exc:
        raise AdapterError(f"configmap {params.configmap}/{params.entry}: {exc}") from exc
    meta = cm.get("metadata", {})
    return {
        "found": found,
        "value": value,
        "resource_version": meta.get("resourceVersion", ""),
        "annotations": meta.get("annotations") or {},
    }


class PvcParams(ProbeParams):
    namespace: str = DEFAULT_NAMESPACE
    name: str = Field(min_length=1)


@probes.register("kubernetes.pvc")
async def pvc(params: PvcParams, ctx: ProbeContext) -> dict[str, Any]:
    """A PersistentVolumeClaim's phase and capacity.

    Returns `phase`, `requested`, `capacity`, `capacity_bytes`,
    `storage_class` and `resizing`. (Usage comes from Prometheus:
    kubelet_volume_stats_used_bytes / kubelet_volume_stats_capacity_bytes.)
    """
    k8s = ctx.adapters.kubernetes
    core = await k8s.core()
    found = await k8s.call(
        core.read_namespaced_persistent_volume_claim(
            params.name, params.namespace, _preload_content=False
        ),
        f"persistentvolumeclaim {params.name}",
        params.namespace,
    )
    return shape.pvc_status(found)
