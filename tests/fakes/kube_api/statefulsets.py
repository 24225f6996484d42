"""The StatefulSet controller: pods ``<name>-0..N-1`` (recreated under the same name),
a PVC per volumeClaimTemplate and ordinal, rolling template changes; PVC expansion."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api.defaults import apply_defaults
from tests.fakes.kube_api.deployments import template_hash
from tests.fakes.kube_api.replicasets import ReplicaSetController, omit_zero, pod_ready
from tests.fakes.kube_api.resources import BY_PLURAL
from tests.fakes.kube_api.store import Store, clone, iso, now

STS, POD, PVC = BY_PLURAL["statefulsets"], BY_PLURAL["pods"], BY_PLURAL["persistentvolumeclaims"]
STS_HASH_LABEL = "controller-revision-hash"


class StatefulSetController:
    def __init__(self, store: Store, replicasets: ReplicaSetController) -> None:
        self.store = store
        self.replicasets = replicasets
        self.pvc_resize = "immediate"  # or "pending": capacity waits for finish_pvc_resize

    def sync(self, sts: dict[str, Any]) -> None:
        meta, spec = sts["metadata"], sts["spec"]
        ns, name = meta["namespace"], meta["name"]
        update_rev = f"{name}-{template_hash(spec['template'])}"
        want = spec.get("replicas", 1)
        strategy = spec.get("updateStrategy") or {}
        rolling = strategy.get("type", "RollingUpdate") == "RollingUpdate"
        partition = (
            ((strategy.get("rollingUpdate") or {}).get("partition") or 0) if rolling else None
        )
        pods: dict[int, dict[str, Any]] = {}
        for pod in self.store.owned(POD, ns, meta["uid"]):
            ordinal = pod["metadata"]["name"].rsplit("-", 1)[-1]
            index = int(ordinal) if ordinal.isdigit() else -1
            stale = (
                rolling
                and partition is not None
                and index >= partition
                and pod["metadata"].get("labels", {}).get(STS_HASH_LABEL) != update_rev
            )
            if (
                index < 0
                or index >= want
                or (pod.get("status") or {}).get("phase") == "Failed"
                or stale
            ):
                self.replicasets.remove_pod(ns, pod["metadata"]["name"])
            else:
                pods[index] = pod
        for i in range(want):
            if i not in pods:
                pods[i] = self._create_sts_pod(sts, i, update_rev)
        revs = [p["metadata"].get("labels", {}).get(STS_HASH_LABEL) for p in pods.values()]
        ready = sum(1 for p in pods.values() if pod_ready(p))
        updated = sum(1 for r in revs if r == update_rev)
        current_rev = (sts.get("status") or {}).get("currentRevision") or update_rev
        if updated == len(revs):
            current_rev = update_rev
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": sum(1 for r in revs if r == current_rev),
            "updatedReplicas": updated,
            "availableReplicas": ready,
            "currentRevision": current_rev,
            "updateRevision": update_rev,
            "collisionCount": 0,
        }
        self.store.set_status(
            STS,
            sts,
            omit_zero(
                status, "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"
            ),
        )

    def _create_sts_pod(self, sts: dict[str, Any], i: int, rev: str) -> dict[str, Any]:
        sts_name = sts["metadata"]["name"]
        name = f"{sts_name}-{i}"
        claims = sts["spec"].get("volumeClaimTemplates") or []
        for claim in claims:
            self._ensure_pvc(sts, claim, i)
        owner = clone(sts)  # same identity, a pod template of its own to fill in
        pod_spec = owner["spec"]["template"].setdefault("spec", {})
        claimed = {c["metadata"]["name"] for c in claims}
        pod_spec["volumes"] = [
            {"name": c, "persistentVolumeClaim": {"claimName": f"{c}-{sts_name}-{i}"}}
            for c in sorted(claimed)
        ] + [v for v in pod_spec.get("volumes") or [] if v.get("name") not in claimed]
        if not pod_spec["volumes"]:
            del pod_spec["volumes"]
        pod_spec["hostname"] = name
        if sts["spec"].get("serviceName"):
            pod_spec["subdomain"] = sts["spec"]["serviceName"]
        labels = {
            STS_HASH_LABEL: rev,
            "statefulset.kubernetes.io/pod-name": name,
            "apps.kubernetes.io/pod-index": str(i),
        }
        return self.replicasets.create_pod(owner, name, i, labels)

    def _ensure_pvc(self, sts: dict[str, Any], claim: dict[str, Any], i: int) -> None:
        ns = sts["metadata"]["namespace"]
        name = f"{claim['metadata']['name']}-{sts['metadata']['name']}-{i}"
        if self.store.get(PVC, ns, name) is not None:
            return
        spec = clone(claim.get("spec") or {})
        spec.setdefault("storageClassName", "standard")
        pvc = {
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": dict((sts["spec"].get("selector") or {}).get("matchLabels") or {}),
                "annotations": {"pv.kubernetes.io/bind-completed": "yes"},
            },
            "spec": spec,
        }
        self.store.stamp_new(PVC, pvc)
        apply_defaults(PVC, pvc)
        bind_pvc(pvc)
        self.store.put(PVC, pvc)

    def resize_pvc(self, pvc: dict[str, Any]) -> None:
        """Expansion: at once (``pvc_resize="immediate"``) or left waiting on the node."""
        status = pvc.get("status") or {}
        want = ((pvc["spec"].get("resources") or {}).get("requests") or {}).get("storage")
        have = (status.get("capacity") or {}).get("storage")
        if status.get("phase") != "Bound" or want is None or want == have:
            return
        if self.pvc_resize == "immediate":
            new = {k: v for k, v in status.items() if k not in ("conditions", "allocatedResources")}
            new["capacity"] = {**(status.get("capacity") or {}), "storage": want}
        else:
            new = {
                **status,
                "allocatedResources": {"storage": want},
                "conditions": [
                    {
                        "type": "FileSystemResizePending",
                        "status": "True",
                        "lastProbeTime": None,
                        "lastTransitionTime": iso(now()),
                        "message": "Waiting for user to (re-)start a pod to finish file system resize of volume on node.",
                    }
                ],
            }
        self.store.set_status(PVC, pvc, new)


def bind_pvc(pvc: dict[str, Any]) -> None:
    """A bound claim whose capacity is what it asked for (an expansion completes at once)."""
    spec = pvc["spec"]
    spec.setdefault("volumeName", f"pvc-{pvc['metadata']['uid']}")
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    pvc["status"] = {
        "phase": "Bound",
        "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
        "capacity": {"storage": storage},
    }
