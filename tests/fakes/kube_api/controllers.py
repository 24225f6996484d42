"""The controller manager: after every write or delete, runs the controllers and the
garbage collector synchronously (no background timers)."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api.deployments import DeploymentController
from tests.fakes.kube_api.pods import PodRuntime
from tests.fakes.kube_api.replicasets import ReplicaSetController
from tests.fakes.kube_api.resources import BY_PLURAL
from tests.fakes.kube_api.statefulsets import StatefulSetController, bind_pvc
from tests.fakes.kube_api.store import Store, controller_uid

RS, POD = BY_PLURAL["replicasets"], BY_PLURAL["pods"]
DEPENDENTS = {"deployments": RS, "replicasets": POD, "statefulsets": POD}

__all__ = ["Controllers", "bind_pvc"]


class Controllers:
    def __init__(self, store: Store, runtime: PodRuntime) -> None:
        self.store = store
        self.runtime = runtime
        self.replicasets = ReplicaSetController(store, runtime)
        self.deployments = DeploymentController(store, self.replicasets)
        self.statefulsets = StatefulSetController(store, self.replicasets)

    @property
    def pvc_resize(self) -> str:
        return self.statefulsets.pvc_resize

    @pvc_resize.setter
    def pvc_resize(self, mode: str) -> None:
        self.statefulsets.pvc_resize = mode

    def resize_pvc(self, pvc: dict[str, Any]) -> None:
        self.statefulsets.resize_pvc(pvc)

    def after_write(self, plural: str, obj: dict[str, Any]) -> None:
        if plural == "deployments":
            self.deployments.sync(obj)
        elif plural == "replicasets":
            self.replicasets.sync(obj)
            self._deployment_of(obj, resync=False)
        elif plural == "statefulsets":
            self.statefulsets.sync(obj)
        elif plural == "pods":
            self.pod_changed(obj)
        elif plural == "persistentvolumeclaims":
            self.statefulsets.resize_pvc(obj)

    def after_delete(
        self, plural: str, obj: dict[str, Any], orphan: bool = False, resync_owner: bool = True
    ) -> None:
        """Garbage-collect dependents (background propagation, or orphan them) and let
        the owner of what went make up for it."""
        meta = obj["metadata"]
        ns, uid = meta.get("namespace", ""), meta["uid"]
        if plural == "namespaces":
            for r in BY_PLURAL.values():
                for child in self.store.items(r, meta["name"]) if r.namespaced else []:
                    self.store.remove(r, meta["name"], child["metadata"]["name"])
                    if r is POD:
                        self.runtime.forget(meta["name"], child["metadata"]["name"])
            return
        dependent = DEPENDENTS.get(plural)
        children = self.store.owned(dependent, ns, uid) if dependent is not None else []
        for child in children:
            assert dependent is not None
            if orphan:
                refs = child["metadata"].get("ownerReferences") or []
                child["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != uid]
                self.store.put(dependent, child)
            else:
                self.store.remove(dependent, ns, child["metadata"]["name"])
                self.after_delete(dependent.plural, child, resync_owner=False)
        if plural == "pods":
            self.runtime.forget(ns, meta["name"])
            if resync_owner:
                self.pod_changed(obj)
        elif plural == "replicasets" and resync_owner:
            self._deployment_of(obj, resync=True)

    def pod_changed(self, pod: dict[str, Any]) -> None:
        """A pod was written or deleted: its ReplicaSet/StatefulSet reconciles."""
        owner = self._owner(pod)
        if owner is None:
            return
        plural, obj = owner
        if plural == "replicasets":
            self.replicasets.sync(obj)
            self._deployment_of(obj, resync=False)
        elif plural == "statefulsets":
            self.statefulsets.sync(obj)

    def _owner(self, obj: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        uid = controller_uid(obj)
        found = self.store.by_uid(uid) if uid else None
        return (found[0].plural, found[1]) if found else None

    def _deployment_of(self, rs: dict[str, Any], resync: bool) -> None:
        owner = self._owner(rs)
        if owner and owner[0] == "deployments":
            if resync:
                self.deployments.sync(owner[1])
            else:
                self.deployments.status(owner[1])
