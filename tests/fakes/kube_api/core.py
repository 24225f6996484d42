"""The read side of the API over the store: get, list (selectors, pagination), pod logs,
and pods turning Ready as they are read. HTTP-free, so tests can call it too."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

from tests.fakes.kube_api.controllers import Controllers
from tests.fakes.kube_api.errors import KubeError, not_found
from tests.fakes.kube_api.logs import pod_log
from tests.fakes.kube_api.pods import PodRuntime, running_status
from tests.fakes.kube_api.resources import BY_PLURAL, Resource, lookup
from tests.fakes.kube_api.scale import scale_of
from tests.fakes.kube_api.selection import labels_match, parse_field_selector, parse_label_selector
from tests.fakes.kube_api.store import Store, clone

ResourceLike = Resource | str


def as_resource(resource: ResourceLike) -> Resource:
    return resource if isinstance(resource, Resource) else lookup(resource)


class KubeCore:
    def __init__(self, seed: int | None = 0) -> None:
        self._lock = threading.RLock()
        self._seed = seed
        self._fresh_state()

    def _fresh_state(self) -> None:
        self.store = Store(self._seed)
        self.runtime = PodRuntime()
        self.controllers = Controllers(self.store, self.runtime)

    # reads --------------------------------------------------------------------------
    def _existing(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any]:
        obj = self.store.get(r, namespace, name)
        if obj is None:
            raise not_found(r, name)
        return obj

    def get(
        self,
        resource: ResourceLike,
        namespace: str | None,
        name: str,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        with self._lock:
            self._advance()
            obj = self._existing(r, namespace, name)
            if r.plural == "pods":
                obj = self._read_pod(obj)
            if subresource == "scale":
                return scale_of(r, obj)
            return clone(obj)

    def list(
        self,
        resource: ResourceLike,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        r = as_resource(resource)
        reqs = parse_label_selector(label_selector)
        fmatch = parse_field_selector(field_selector, r.plural)
        with self._lock:
            self._advance()
            items = [
                o
                for o in self.store.items(r, namespace if r.namespaced else None)
                if labels_match(reqs, o["metadata"].get("labels")) and fmatch(o)
            ]
            offset = _decode_continue(continue_token) if continue_token else 0
            page = items[offset : offset + limit] if limit else items[offset:]
            if r.plural == "pods":
                page = [self._read_pod(p) for p in page]
            meta: dict[str, Any] = {"resourceVersion": str(self.store.rv)}
            if limit and offset + limit < len(items):
                meta["continue"] = base64.urlsafe_b64encode(
                    json.dumps({"offset": offset + limit}).encode()
                ).decode()
                meta["remainingItemCount"] = len(items) - offset - limit
            out = []
            for o in page:
                item = clone(o)
                item.pop("kind", None)
                item.pop("apiVersion", None)
                out.append(item)
            return {
                "kind": r.list_kind,
                "apiVersion": r.api_version,
                "metadata": meta,
                "items": out,
            }

    def _advance(self) -> None:
        """Pods whose Pending/CrashLoop phase has run out of seconds turn Ready."""
        for key in self.runtime.due_by_time():
            self._make_ready(*key)

    def _read_pod(self, pod: dict[str, Any]) -> dict[str, Any]:
        key = (pod["metadata"]["namespace"], pod["metadata"]["name"])
        if self.runtime.read(key):
            self._make_ready(*key)
            return self.store.get(BY_PLURAL["pods"], *key) or pod
        return pod

    def _make_ready(self, namespace: str, name: str) -> None:
        self.runtime.transitions.pop((namespace, name), None)
        pods = BY_PLURAL["pods"]
        pod = self.store.get(pods, namespace, name)
        if pod is None:
            return
        restarts = max(
            (
                c.get("restartCount", 0)
                for c in (pod.get("status") or {}).get("containerStatuses") or []
            ),
            default=0,
        )
        self.store.set_status(pods, pod, running_status(pod, restarts=restarts))
        self.controllers.pod_changed(pod)

    # logs ------------------------------------------------------------------------------
    def read_log(
        self,
        namespace: str,
        name: str,
        container: str | None = None,
        previous: bool = False,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
        timestamps: bool = False,
        limit_bytes: int | None = None,
    ) -> str:
        with self._lock:
            self._advance()
            pod = self._existing(BY_PLURAL["pods"], namespace, name)
            return pod_log(
                self.runtime.logs,
                pod,
                container,
                previous,
                tail_lines,
                since_seconds,
                timestamps,
                limit_bytes,
            )


def _decode_continue(token: str) -> int:
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KubeError(
            410,
            "Expired",
            "The provided continue parameter is too old to display a consistent list result.",
        ) from exc
