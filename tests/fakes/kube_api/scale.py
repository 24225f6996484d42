"""The ``scale`` subresource: an ``autoscaling/v1 Scale`` view of a workload."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api.errors import not_found
from tests.fakes.kube_api.resources import Resource
from tests.fakes.kube_api.selection import selector_string

SCALABLE = ("deployments", "statefulsets", "replicasets")


def scale_of(r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    if r.plural not in SCALABLE:
        raise not_found(r, obj["metadata"]["name"])
    meta = obj["metadata"]
    keep = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in keep if k in meta},
        "spec": {"replicas": obj["spec"].get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": selector_string(obj["spec"].get("selector")),
        },
    }
