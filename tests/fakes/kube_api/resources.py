"""The resource types the fake serves, with the names the real API uses for them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    group: str = ""
    version: str = "v1"
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    has_status: bool = False
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``pods``, ``deployments.apps`` — how messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Pod``, ``Deployment.apps`` — how validation messages name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def tracks_generation(self) -> bool:
        return self.group == "apps"


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "namespaces",
        "Namespace",
        namespaced=False,
        subresources=("status",),
        has_status=True,
        short_names=("ns",),
    ),
    Resource("pods", "Pod", subresources=("status", "log"), has_status=True, short_names=("po",)),
    Resource("events", "Event", short_names=("ev",)),
    Resource("configmaps", "ConfigMap", short_names=("cm",)),
    Resource(
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        subresources=("status",),
        has_status=True,
        short_names=("pvc",),
    ),
    Resource(
        "deployments",
        "Deployment",
        group="apps",
        subresources=("status", "scale"),
        has_status=True,
        short_names=("deploy",),
    ),
    Resource(
        "statefulsets",
        "StatefulSet",
        group="apps",
        subresources=("status", "scale"),
        has_status=True,
        short_names=("sts",),
    ),
    Resource(
        "replicasets",
        "ReplicaSet",
        group="apps",
        subresources=("status", "scale"),
        has_status=True,
        short_names=("rs",),
    ),
    Resource(
        "storageclasses",
        "StorageClass",
        group="storage.k8s.io",
        namespaced=False,
        short_names=("sc",),
    ),
)

BY_PLURAL: dict[str, Resource] = {r.plural: r for r in RESOURCES}
BY_KIND: dict[str, Resource] = {r.kind: r for r in RESOURCES}
GROUP_VERSIONS: dict[str, tuple[str, ...]] = {
    "": ("v1",),
    "apps": ("v1",),
    "storage.k8s.io": ("v1",),
}


def lookup(name: str) -> Resource:
    """A resource by plural, kind, singular or short name (``pods``, ``Pod``, ``pod``, ``po``)."""
    for r in RESOURCES:
        if name in (r.plural, r.kind, r.singular, *r.short_names):
            return r
    raise KeyError(f"unknown resource {name!r}; the fake serves {sorted(BY_PLURAL)}")


def resolve(group: str, version: str, plural: str) -> Resource | None:
    r = BY_PLURAL.get(plural)
    if r is None or r.group != group or r.version != version:
        return None
    return r


def api_resource_list(group: str, version: str) -> dict[str, object]:
    """The discovery document (``APIResourceList``) for one group/version."""
    out: list[dict[str, object]] = []
    verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update"]
    for r in RESOURCES:
        if r.group != group or r.version != version:
            continue
        out.append(
            {
                "name": r.plural,
                "singularName": r.singular,
                "namespaced": r.namespaced,
                "kind": r.kind,
                "verbs": verbs,
                "shortNames": list(r.short_names),
            }
        )
        for sub in r.subresources:
            kind = {"scale": "Scale", "log": "Pod"}.get(sub, r.kind)
            sub_verbs = ["get"] if sub == "log" else ["get", "patch", "update"]
            entry: dict[str, object] = {
                "name": f"{r.plural}/{sub}",
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": kind,
                "verbs": sub_verbs,
            }
            if sub == "scale":
                entry.update(group="autoscaling", version="v1")
            out.append(entry)
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}
