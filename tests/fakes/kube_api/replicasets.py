"""The ReplicaSet controller: keeps a ReplicaSet's pods in step with spec.replicas, and
creates pods from an owner's template for the other controllers."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api.defaults import apply_defaults
from tests.fakes.kube_api.pods import PodRuntime
from tests.fakes.kube_api.resources import BY_PLURAL, Resource
from tests.fakes.kube_api.store import Store, clone, owner_ref

RS, POD = BY_PLURAL["replicasets"], BY_PLURAL["pods"]


def is_active(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Failed", "Succeeded") and not pod[
        "metadata"
    ].get("deletionTimestamp")


def pod_ready(pod: dict[str, Any]) -> bool:
    conds = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conds)


def omit_zero(status: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in status.items() if not (k in keys and v in (0, None))}


class ReplicaSetController:
    def __init__(self, store: Store, runtime: PodRuntime) -> None:
        self.store = store
        self.runtime = runtime

    def set_spec_replicas(self, r: Resource, obj: dict[str, Any], replicas: int) -> bool:
        if obj["spec"].get("replicas") == replicas:
            return False
        obj["spec"]["replicas"] = replicas
        obj["metadata"]["generation"] = obj["metadata"].get("generation", 1) + 1
        self.store.put(r, obj)
        return True

    def remove_pod(self, namespace: str, name: str) -> None:
        self.store.remove(POD, namespace, name)
        self.runtime.forget(namespace, name)

    def remove_with_pods(self, rs: dict[str, Any]) -> None:
        ns = rs["metadata"]["namespace"]
        for pod in self.store.owned(POD, ns, rs["metadata"]["uid"]):
            self.remove_pod(ns, pod["metadata"]["name"])
        self.store.remove(RS, ns, rs["metadata"]["name"])

    def sync(self, rs: dict[str, Any]) -> None:
        meta, spec = rs["metadata"], rs["spec"]
        ns = meta["namespace"]
        active = [p for p in self.store.owned(POD, ns, meta["uid"]) if is_active(p)]
        want = spec.get("replicas", 1)
        while len(active) < want:
            active.append(self.create_pod(rs, f"{meta['name']}-{self.store.suffix()}", len(active)))
        if len(active) > want:
            ranked = sorted(
                active,
                key=lambda p: (
                    pod_ready(p),
                    (p.get("status") or {}).get("phase") == "Running",
                    p["metadata"]["creationTimestamp"],
                ),
            )
            for pod in ranked[: len(active) - want]:
                self.store.remove(POD, ns, pod["metadata"]["name"])
                self.runtime.forget(ns, pod["metadata"]["name"])
                active.remove(pod)
        ready = sum(1 for p in active if pod_ready(p))
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": len(active),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": meta.get("generation", 1),
        }
        self.store.set_status(
            RS, rs, omit_zero(status, "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
        )

    def create_pod(
        self, owner: dict[str, Any], name: str, index: int, labels: dict[str, str] | None = None
    ) -> dict[str, Any]:
        template = owner["spec"]["template"]
        tmeta = template.get("metadata") or {}
        pod = {
            "metadata": {
                "name": name,
                "namespace": owner["metadata"]["namespace"],
                "labels": {**(tmeta.get("labels") or {}), **(labels or {})},
                "annotations": dict(tmeta.get("annotations") or {}),
                "ownerReferences": [owner_ref(owner)],
            },
            "spec": clone(template.get("spec") or {}),
        }
        if owner["kind"] == "ReplicaSet":
            pod["metadata"]["generateName"] = f"{owner['metadata']['name']}-"
        if not pod["metadata"]["annotations"]:
            del pod["metadata"]["annotations"]
        self.store.stamp_new(POD, pod)
        apply_defaults(POD, pod)
        self.runtime.schedule(pod, index + len(self.store.items(POD)))
        pod["status"] = self.runtime.initial_status(pod)
        return self.store.put(POD, pod)
