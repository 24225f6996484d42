"""Pure shaping of Kubernetes API JSON into the findings rules read.
No I/O here: bot/probes/kubernetes.py fetches, these functions summarise."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.quantity import quantity_bytes

REVISION = "deployment.kubernetes.io/revision"
# reasons a human acts on, in the order the runbooks name them
PROBLEM_REASONS = (
    "CrashLoopBackOff",
    "OOMKilled",
    "ImagePullBackOff",
    "ErrImagePull",
    "Evicted",
    "Pending",
)


def _ts(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None


def age_seconds(raw: str | None, now: datetime) -> float | None:
    t = _ts(raw)
    return None if t is None else round((now - t).total_seconds(), 1)


def pod_state(pod: dict[str, Any]) -> dict[str, Any]:
    status = pod.get("status") or {}
    containers = status.get("containerStatuses") or []
    reasons: list[str] = []
    if status.get("reason"):  # Evicted lives on the pod
        reasons.append(status["reason"])
    for c in containers:
        state, last = c.get("state") or {}, c.get("lastState") or {}
        for where in (state.get("waiting"), state.get("terminated"), last.get("terminated")):
            if where and where.get("reason") and where["reason"] not in reasons:
                reasons.append(where["reason"])
    phase = status.get("phase", "Unknown")
    if phase == "Pending" and "Pending" not in reasons:
        reasons.append("Pending")
    ready = bool(containers) and all(c.get("ready") for c in containers)
    return {
        "name": pod.get("metadata", {}).get("name", ""),
        "phase": phase,
        "ready": ready,
        "restarts": sum(int(c.get("restartCount") or 0) for c in containers),
        "reasons": reasons,
        "images": [c.get("image", "") for c in containers],
        "node": (pod.get("spec") or {}).get("nodeName", ""),
    }


def summarise_pods(pods: list[dict[str, Any]]) -> dict[str, Any]:
    states = [pod_state(p) for p in pods]
    reasons = Counter(r for s in states for r in s["reasons"])
    return {
        "count": len(states),
        "ready": sum(1 for s in states if s["ready"]),
        "not_ready": sum(1 for s in states if not s["ready"]),
        "restarts": sum(s["restarts"] for s in states),
        "phases": dict(Counter(s["phase"] for s in states)),
        "reasons": dict(reasons),
        "crashloop": reasons.get("CrashLoopBackOff", 0),
        "oomkilled": reasons.get("OOMKilled", 0),
        "image_pull": reasons.get("ImagePullBackOff", 0) + reasons.get("ErrImagePull", 0),
        "evicted": reasons.get("Evicted", 0),
        "pending": sum(1 for s in states if s["phase"] == "Pending"),
        "pods": states,
    }


def summarise_events(events: list[dict[str, Any]], limit: int, now: datetime) -> dict[str, Any]:
    def last_seen(e: dict[str, Any]) -> str:
        return str(
            e.get("lastTimestamp")
            or e.get("eventTime")
            or e.get("metadata", {}).get("creationTimestamp")
            or ""
        )

    events = sorted(events, key=last_seen, reverse=True)
    return {
        "count": len(events),
        "reasons": dict(Counter(e.get("reason", "") for e in events)),
        "events": [
            {
                "reason": e.get("reason", ""),
                "message": e.get("message", ""),
                "count": e.get("count", 1),
                "object": (e.get("involvedObject") or {}).get("name", ""),
                "age_seconds": age_seconds(last_seen(e), now),
            }
            for e in events[:limit]
        ],
    }


def summarise_logs(text: str, tail: int, patterns: dict[str, str]) -> dict[str, Any]:
    lines = text.splitlines()
    matches = {
        name: sum(1 for line in lines if re.search(rx, line)) for name, rx in patterns.items()
    }
    return {
        "lines": len(lines),
        "tail": lines[-tail:],
        "last_line": lines[-1] if lines else "",
        "matches": matches,
    }


def _template_key(template: dict[str, Any]) -> Any:
    """A pod template without pod-template-hash, for comparing revisions."""
    meta = dict(template.get("metadata") or {})
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != "pod-template-hash"}
    meta["labels"] = labels
    return {**template, "metadata": meta}


def rollout_history(
    deployment: dict[str, Any], replicasets: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    uid = deployment.get("metadata", {}).get("uid")
    owned = [
        rs
        for rs in replicasets
        if any(
            o.get("uid") == uid and o.get("controller")
            for o in rs.get("metadata", {}).get("ownerReferences") or []
        )
    ]
    revisions = []
    for rs in owned:
        meta = rs.get("metadata", {})
        containers = (rs.get("spec", {}).get("template", {}).get("spec") or {}).get(
            "containers"
        ) or []
        revisions.append(
            {
                "revision": int((meta.get("annotations") or {}).get(REVISION, "0") or 0),
                "replicaset": meta.get("name", ""),
                "images": [c.get("image", "") for c in containers],
                "replicas": (rs.get("status") or {}).get("replicas", 0),
                "created": meta.get("creationTimestamp"),
                "age_seconds": age_seconds(meta.get("creationTimestamp"), now),
            }
        )
    revisions.sort(key=lambda r: r["revision"], reverse=True)
    current = int((deployment.get("metadata", {}).get("annotations") or {}).get(REVISION, "0") or 0)
    latest = revisions[0] if revisions else None
    previous = revisions[1] if len(revisions) > 1 else None
    return {
        "revision": current,
        "count": len(revisions),
        "revisions": revisions,
        "latest_age_seconds": latest["age_seconds"] if latest else None,
        "images": latest["images"] if latest else [],
        "previous_images": previous["images"] if previous else [],
        "image_changed": bool(previous and latest and previous["images"] != latest["images"]),
        "paused": bool(deployment.get("spec", {}).get("paused")),
    }


def workload_status(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return {
        "kind": obj.get("kind", ""),
        "name": obj.get("metadata", {}).get("name", ""),
        "replicas": spec.get("replicas", 0),
        "ready_replicas": status.get("readyReplicas", 0),
        "updated_replicas": status.get("updatedReplicas", 0),
        "available_replicas": status.get("availableReplicas", 0),
        "paused": bool(spec.get("paused")),
        "healthy": status.get("readyReplicas", 0) >= spec.get("replicas", 0),
        "conditions": {
            c.get("type", ""): c.get("status", "") for c in status.get("conditions") or []
        },
        "containers": [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "requests": (c.get("resources") or {}).get("requests", {}),
                "limits": (c.get("resources") or {}).get("limits", {}),
                "liveness": c.get("livenessProbe"),
                "readiness": c.get("readinessProbe"),
            }
            for c in containers
        ],
    }


def parse_entry(text: str) -> Any:
    """A ConfigMap data entry holding YAML or JSON (JSON is YAML)."""
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise ValueError(f"entry is neither YAML nor JSON: {exc}") from exc


def read_path(document: Any, path: str) -> tuple[bool, Any]:
    node = document
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


def pvc_status(pvc: dict[str, Any]) -> dict[str, Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    capacity = (status.get("capacity") or {}).get("storage")
    return {
        "name": pvc.get("metadata", {}).get("name", ""),
        "phase": status.get("phase", "Unknown"),
        "requested": requested,
        "capacity": capacity,
        "capacity_bytes": quantity_bytes(capacity),
        "storage_class": spec.get("storageClassName", ""),
        "resizing": any(c.get("type") == "Resizing" for c in status.get("conditions") or []),
    }


def now() -> datetime:
    return datetime.now(UTC)
