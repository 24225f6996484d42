"""The write side of the API: create, replace, patch (three flavours), delete and
deletecollection, with ``dryRun``, resourceVersion conflicts, validation, the
``status`` and ``scale`` subresources, and the controllers run after each write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.fakes.kube_api.controllers import bind_pvc
from tests.fakes.kube_api.core import KubeCore, ResourceLike, as_resource
from tests.fakes.kube_api.defaults import apply_defaults
from tests.fakes.kube_api.errors import (
    already_exists,
    bad_request,
    conflict,
    forbidden_by_admission,
    namespace_not_found,
    precondition_failed,
    success,
)
from tests.fakes.kube_api.managed import update_managed_fields
from tests.fakes.kube_api.patching import STRATEGIC, apply_patch
from tests.fakes.kube_api.resources import Resource
from tests.fakes.kube_api.scale import scale_of
from tests.fakes.kube_api.store import clone, iso, now
from tests.fakes.kube_api.validation import (
    check_name_matches,
    ensure_kind,
    parse_quantity,
    validate,
    validate_scale,
)

SYSTEM_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp", "name", "namespace")


class KubeApi(KubeCore):
    def _fresh_state(self) -> None:
        super()._fresh_state()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.create("namespaces", {"metadata": {"name": ns}})

    # writes --------------------------------------------------------------------------
    def create(
        self,
        resource: ResourceLike,
        body: Any,
        namespace: str | None = None,
        dry_run: bool = False,
        manager: str | None = None,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        ensure_kind(r, body)
        obj = clone(body)
        meta = obj.setdefault("metadata", {})
        with self._lock:
            if r.namespaced:
                namespace = namespace or meta.get("namespace") or "default"
                if meta.get("namespace") and meta["namespace"] != namespace:
                    raise bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request"
                    )
                meta["namespace"] = namespace
                if not self.store.namespace_exists(namespace):
                    raise namespace_not_found(namespace)
            self.store.stamp_new(r, obj)
            if meta.get("name") and self.store.get(r, namespace, meta["name"]) is not None:
                raise already_exists(r, meta["name"])
            if r.has_status:
                obj["status"] = {}
            apply_defaults(r, obj)
            validate(r, obj, None)
            obj["metadata"].pop("managedFields", None)
            update_managed_fields(None, obj, manager or "kubectl-create", r.api_version)
            if r.plural == "pods":
                self.runtime.schedule(obj, len(self.store.items(r)))
                obj["status"] = self.runtime.status_for(obj, "ready")
            elif r.plural == "persistentvolumeclaims":
                bind_pvc(obj)
            if dry_run:
                return obj
            if r.plural == "pods":
                obj["status"] = self.runtime.initial_status(obj)
            stored = self.store.put(r, obj)
            result = clone(stored)
            self.controllers.after_write(r.plural, stored)
            return result

    def replace(
        self,
        resource: ResourceLike,
        namespace: str | None,
        name: str,
        body: Any,
        dry_run: bool = False,
        subresource: str | None = None,
        manager: str | None = None,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        with self._lock:
            old = self._existing(r, namespace, name)
            if subresource == "scale":
                return self._write_scale(r, old, body, dry_run, manager)
            ensure_kind(r, body)
            check_name_matches(r, body, name, namespace)
            return self._write(r, old, clone(body), dry_run, subresource, manager)

    def patch(
        self,
        resource: ResourceLike,
        namespace: str | None,
        name: str,
        body: Any,
        content_type: str = STRATEGIC,
        dry_run: bool = False,
        subresource: str | None = None,
        manager: str | None = None,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        with self._lock:
            old = self._existing(r, namespace, name)
            if subresource == "scale":
                patched = apply_patch(content_type, scale_of(r, old), body)
                return self._write_scale(r, old, patched, dry_run, manager)
            patched = apply_patch(content_type, clone(old), body)
            check_name_matches(r, patched, name, namespace)
            return self._write(r, old, patched, dry_run, subresource, manager)

    def _write(
        self,
        r: Resource,
        old: dict[str, Any],
        new: dict[str, Any],
        dry_run: bool,
        subresource: str | None,
        manager: str | None = None,
        managed_as: str | None = None,
    ) -> dict[str, Any]:
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        old_rv = old["metadata"]["resourceVersion"]
        if meta.get("resourceVersion") and str(meta["resourceVersion"]) != old_rv:
            raise conflict(r, old["metadata"]["name"])
        if subresource == "status":
            new = {**clone(old), "status": new.get("status") or {}}
            meta = new["metadata"]
        elif subresource is not None:
            raise bad_request(f"subresource {subresource!r} does not accept writes")
        for key in SYSTEM_META:
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        meta["resourceVersion"] = old_rv
        new["apiVersion"], new["kind"] = r.api_version, r.kind
        if r.has_status and subresource != "status":
            if "status" in old:
                new["status"] = clone(old["status"])
            else:
                new.pop("status", None)
        apply_defaults(r, new)
        validate(r, new, old)
        if r.plural == "persistentvolumeclaims":
            self._admit_pvc_resize(old, new)
        if r.tracks_generation and new.get("spec") != old.get("spec"):
            meta["generation"] = old["metadata"].get("generation", 1) + 1
        # the server keeps managedFields itself; what a body carries is not trusted
        meta.pop("managedFields", None)
        update_managed_fields(
            old, new, manager or "kubectl-edit", r.api_version, managed_as or subresource
        )
        if new == old or dry_run:  # a no-op update writes nothing, as on a real server
            return clone(new)
        stored = self.store.put(r, new)
        result = clone(stored)
        self.controllers.after_write(r.plural, stored)
        return result

    def _admit_pvc_resize(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        """The PersistentVolumeClaimResize admission plugin: a claim grows only when
        its StorageClass exists and sets allowVolumeExpansion."""

        def storage(obj: dict[str, Any]) -> Any:
            return ((obj["spec"].get("resources") or {}).get("requests") or {}).get("storage")

        if storage(old) is None or parse_quantity(storage(new)) <= parse_quantity(storage(old)):
            return
        class_name = new["spec"].get("storageClassName")
        sc = self.store.get(as_resource("storageclasses"), None, class_name) if class_name else None
        if not (sc or {}).get("allowVolumeExpansion"):
            raise forbidden_by_admission(
                as_resource("persistentvolumeclaims"),
                old["metadata"]["name"],
                "only dynamically provisioned pvc can be resized and the storageclass that "
                "provisions the pvc must support resize",
            )

    def _write_scale(
        self,
        r: Resource,
        old: dict[str, Any],
        scale: Any,
        dry_run: bool,
        manager: str | None = None,
    ) -> dict[str, Any]:
        if not isinstance(scale, dict):
            raise bad_request('Scale in version "v1" cannot be handled as a Scale')
        name = old["metadata"]["name"]
        check_name_matches(r, scale, name, old["metadata"].get("namespace"))
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and str(rv) != old["metadata"]["resourceVersion"]:
            raise conflict(r, name)
        replicas = (scale.get("spec") or {}).get("replicas", 0)
        validate_scale(name, replicas)
        new = clone(old)
        new["spec"]["replicas"] = replicas
        return scale_of(r, self._write(r, old, new, dry_run, None, manager, "scale"))

    def delete(
        self,
        resource: ResourceLike,
        namespace: str | None,
        name: str,
        dry_run: bool = False,
        propagation: str | None = None,
        preconditions: dict[str, Any] | None = None,
        grace_seconds: int | None = None,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        with self._lock:
            obj = self._existing(r, namespace, name)
            meta = obj["metadata"]
            for field, key in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
                want = (preconditions or {}).get(field)
                if want and want != meta.get(field):
                    raise precondition_failed(r, name, key, want, meta.get(field, ""))
            gone = clone(obj)
            if not dry_run:
                self.store.remove(r, namespace, name)
                self.controllers.after_delete(r.plural, obj, orphan=propagation == "Orphan")
            if r.plural == "pods":
                grace = (
                    grace_seconds
                    if grace_seconds is not None
                    else (obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
                )
                gone["metadata"]["deletionTimestamp"] = iso(now() + timedelta(seconds=grace))
                gone["metadata"]["deletionGracePeriodSeconds"] = grace
                return gone
            if r.plural == "namespaces":
                gone.setdefault("status", {})["phase"] = "Terminating"
                return gone
            return success(r, name, meta["uid"])

    def delete_collection(
        self,
        resource: ResourceLike,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        with self._lock:
            listed = self.list(r, namespace, label_selector, field_selector)
            for item in listed["items"]:
                self.delete(r, item["metadata"].get("namespace"), item["metadata"]["name"], dry_run)
            return listed
