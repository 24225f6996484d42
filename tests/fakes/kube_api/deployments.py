"""The Deployment controller: a ReplicaSet per pod template with the next revision
number (reusing an old one whose template matches, as ``rollout undo`` relies on),
old ReplicaSets scaled to 0, history trimmed, status and conditions kept current."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from tests.fakes.kube_api.defaults import apply_defaults
from tests.fakes.kube_api.replicasets import ReplicaSetController, omit_zero
from tests.fakes.kube_api.resources import BY_PLURAL
from tests.fakes.kube_api.store import SUFFIX_ALPHABET, Store, clone, iso, now, owner_ref

DEPLOY, RS = BY_PLURAL["deployments"], BY_PLURAL["replicasets"]
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH_LABEL = "pod-template-hash"
# kubectl/deployment util: annotations never copied from a deployment to its ReplicaSets
SKIP_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
}


def template_hash(template: dict[str, Any]) -> str:
    t = clone(template)
    (t.get("metadata") or {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = int(hashlib.sha256(json.dumps(t, sort_keys=True).encode()).hexdigest(), 16)
    out = []
    for _ in range(10):
        digest, i = divmod(digest, len(SUFFIX_ALPHABET))
        out.append(SUFFIX_ALPHABET[i])
    return "".join(out)


def same_template(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def norm(t: dict[str, Any]) -> dict[str, Any]:
        t = clone(t)
        labels = (t.get("metadata") or {}).get("labels")
        if labels is not None:
            labels.pop(HASH_LABEL, None)
        return t

    return norm(a) == norm(b)


def revision(obj: dict[str, Any]) -> int:
    try:
        return int((obj["metadata"].get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _surge(spec: dict[str, Any], replicas: int, key: str) -> int:
    value = ((spec.get("strategy") or {}).get("rollingUpdate") or {}).get(key, "25%")
    if isinstance(value, str) and value.endswith("%"):
        share = replicas * int(value[:-1]) / 100
        return math.ceil(share) if key == "maxSurge" else math.floor(share)
    return int(value)


class DeploymentController:
    def __init__(self, store: Store, replicasets: ReplicaSetController) -> None:
        self.store = store
        self.replicasets = replicasets

    def sync(self, d: dict[str, Any]) -> None:
        meta, spec = d["metadata"], d["spec"]
        ns = meta["namespace"]
        rss = self.store.owned(RS, ns, meta["uid"])
        new_rs = next(
            (rs for rs in rss if same_template(rs["spec"]["template"], spec["template"])), None
        )
        max_rev = max((revision(rs) for rs in rss), default=0)
        replicas = spec.get("replicas", 1)
        if spec.get("paused"):
            active = [rs for rs in rss if rs["spec"].get("replicas")] or sorted(rss, key=revision)[
                -1:
            ]
            if len(active) == 1:
                self._scale_rs(d, active[0], replicas)
        else:
            if new_rs is None:
                new_rs = self._create_rs(d, max_rev + 1)
                rss.append(new_rs)
            elif revision(new_rs) < max_rev:
                annotations = new_rs["metadata"].setdefault("annotations", {})
                history = [h for h in annotations.get(REVISION_HISTORY, "").split(",") if h]
                annotations[REVISION_HISTORY] = ",".join([*history, str(revision(new_rs))])
                annotations[REVISION] = str(max_rev + 1)
                self.store.put(RS, new_rs)
            self._copy_annotations(d, new_rs)
            self._scale_rs(d, new_rs, replicas)  # up first, then the old ones down
            for rs in rss:
                if rs is not new_rs:
                    self._scale_rs(d, rs, 0)
            annotations = meta.setdefault("annotations", {})
            if annotations.get(REVISION) != str(revision(new_rs)):
                annotations[REVISION] = str(revision(new_rs))
                self.store.put(DEPLOY, d)
            self._cleanup(d, rss, new_rs)
        for rs in self.store.owned(RS, ns, meta["uid"]):
            self.replicasets.sync(rs)
        self.status(d)

    def _copy_annotations(self, d: dict[str, Any], rs: dict[str, Any]) -> None:
        annotations = rs["metadata"].setdefault("annotations", {})
        before = dict(annotations)
        for k, v in (d["metadata"].get("annotations") or {}).items():
            if k not in SKIP_ANNOTATIONS:
                annotations[k] = v
        replicas = d["spec"].get("replicas", 1)
        annotations[DESIRED] = str(replicas)
        annotations[MAX_REPLICAS] = str(replicas + _surge(d["spec"], replicas, "maxSurge"))
        if annotations != before:
            self.store.put(RS, rs)

    def _create_rs(self, d: dict[str, Any], rev: int) -> dict[str, Any]:
        meta, spec = d["metadata"], d["spec"]
        h = template_hash(spec["template"])
        template = clone(spec["template"])
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = clone(spec["selector"])
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        name = f"{meta['name']}-{h}"
        while self.store.get(RS, meta["namespace"], name) is not None:
            name = f"{meta['name']}-{h}-{self.store.suffix(3)}"
        annotations = {REVISION: str(rev)}
        rs = {
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": dict(template["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [owner_ref(d)],
            },
            "spec": {
                "replicas": 0,
                "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": template,
            },
        }
        self.store.stamp_new(RS, rs)
        apply_defaults(RS, rs)
        rs["status"] = {"replicas": 0}
        return self.store.put(RS, rs)

    def _scale_rs(self, d: dict[str, Any], rs: dict[str, Any], replicas: int) -> None:
        old = rs["spec"].get("replicas", 0)
        if self.replicasets.set_spec_replicas(RS, rs, replicas):
            direction = "up" if replicas > old else "down"
            self.store.record_event(
                d,
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {rs['metadata']['name']} from {old} to {replicas}",
                component="deployment-controller",
            )

    def _cleanup(
        self, d: dict[str, Any], rss: list[dict[str, Any]], new_rs: dict[str, Any]
    ) -> None:
        limit = d["spec"].get("revisionHistoryLimit", 10)
        old = sorted(
            (rs for rs in rss if rs is not new_rs and not rs["spec"].get("replicas")), key=revision
        )
        for rs in old[: max(len(old) - limit, 0)]:
            self.replicasets.remove_with_pods(rs)

    def status(self, d: dict[str, Any]) -> None:
        meta, spec = d["metadata"], d["spec"]
        rss = self.store.owned(RS, meta["namespace"], meta["uid"])
        new_rs = next(
            (rs for rs in rss if same_template(rs["spec"]["template"], spec["template"])), None
        )
        want = spec.get("replicas", 1)
        st = [rs.get("status") or {} for rs in rss]
        replicas = sum(s.get("replicas", 0) for s in st)
        available = sum(s.get("availableReplicas", 0) for s in st)
        updated = (new_rs.get("status") or {}).get("replicas", 0) if new_rs else 0
        min_available = want - _surge(spec, want, "maxUnavailable")
        old = {c["type"]: c for c in (d.get("status") or {}).get("conditions") or []}
        conditions = [
            self._condition(
                old,
                "Available",
                "True" if available >= min_available else "False",
                "MinimumReplicasAvailable"
                if available >= min_available
                else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available >= min_available
                else "Deployment does not have minimum availability.",
            )
        ]
        rs_name = new_rs["metadata"]["name"] if new_rs else meta["name"]
        if spec.get("paused"):
            conditions.append(
                self._condition(
                    old, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"
                )
            )
        elif updated == want and replicas == want and available == want:
            conditions.append(
                self._condition(
                    old,
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{rs_name}" has successfully progressed.',
                )
            )
        else:
            conditions.append(
                self._condition(
                    old,
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{rs_name}" is progressing.',
                )
            )
        status = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": sum(s.get("readyReplicas", 0) for s in st),
            "availableReplicas": available,
            "unavailableReplicas": max(want - available, 0),
            "conditions": conditions,
        }
        keys = (
            "replicas",
            "updatedReplicas",
            "readyReplicas",
            "availableReplicas",
            "unavailableReplicas",
        )
        self.store.set_status(DEPLOY, d, omit_zero(status, *keys))

    @staticmethod
    def _condition(
        old: dict[str, Any], type_: str, status: str, reason: str, message: str
    ) -> dict[str, Any]:
        prev = old.get(type_)
        if (
            prev
            and prev.get("status") == status
            and prev.get("reason") == reason
            and prev.get("message") == message
        ):
            return prev
        stamp = iso(now())
        transition = prev["lastTransitionTime"] if prev and prev.get("status") == status else stamp
        return {
            "type": type_,
            "status": status,
            "lastUpdateTime": stamp,
            "lastTransitionTime": transition,
            "reason": reason,
            "message": message,
        }
