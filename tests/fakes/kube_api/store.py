"""In-memory object storage: one global resourceVersion counter, uids, timestamps.

Objects are plain dicts in their JSON form. The store hands out its own dicts; the
API layer copies them on the way in and out."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.kube_api.resources import BY_KIND, BY_PLURAL, Resource

Key = tuple[str, str]  # (namespace or "", name)
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery rand.String


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def ago(seconds: float) -> str:
    return iso(now() - timedelta(seconds=seconds))


class Store:
    def __init__(self, seed: int | None = None) -> None:
        self.rng = random.Random(seed)
        self.objects: dict[str, dict[Key, dict[str, Any]]] = {r: {} for r in BY_PLURAL}
        self.rv = 0

    # identity -----------------------------------------------------------------
    def next_rv(self) -> str:
        self.rv += 1
        return str(self.rv)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(SUFFIX_ALPHABET) for _ in range(n))

    # access ---------------------------------------------------------------------
    def get(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.objects[r.plural].get((namespace or "" if r.namespaced else "", name))

    def items(self, r: Resource, namespace: str | None = None) -> list[dict[str, Any]]:
        bucket = self.objects[r.plural]
        keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
        return [bucket[k] for k in keys]

    def owned(self, r: Resource, namespace: str, owner_uid: str) -> list[dict[str, Any]]:
        """Objects whose controller ownerReference points at ``owner_uid``."""
        return [o for o in self.items(r, namespace) if controller_uid(o) == owner_uid]

    def namespace_exists(self, namespace: str) -> bool:
        return ("", namespace) in self.objects["namespaces"]

    def by_uid(self, uid: str) -> tuple[Resource, dict[str, Any]] | None:
        for plural, bucket in self.objects.items():
            for obj in bucket.values():
                if obj["metadata"].get("uid") == uid:
                    return BY_PLURAL[plural], obj
        return None

    # writes ---------------------------------------------------------------------
    def stamp_new(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Fill what the server sets on create (uid, creationTimestamp, generation)."""
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self.suffix()
        meta["uid"] = self.uid()
        meta["creationTimestamp"] = iso(now())
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        if r.tracks_generation:
            meta["generation"] = 1
        if not r.namespaced:
            meta.pop("namespace", None)
        return obj

    def put(self, r: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        """Store ``obj`` (taking ownership of it) under a fresh resourceVersion."""
        meta = obj["metadata"]
        obj["apiVersion"], obj["kind"] = r.api_version, r.kind
        meta["resourceVersion"] = self.next_rv()
        key = (meta.get("namespace", "") if r.namespaced else "", meta["name"])
        self.objects[r.plural][key] = obj
        return obj

    def remove(self, r: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = (namespace or "" if r.namespaced else "", name)
        obj = self.objects[r.plural].pop(key, None)
        if obj is not None:
            self.rv += 1  # a delete is a write: the list resourceVersion moves on
        return obj

    def set_status(self, r: Resource, obj: dict[str, Any], status: dict[str, Any]) -> bool:
        """Write ``status`` if it differs; a status write bumps resourceVersion like any write."""
        if obj.get("status") == status:
            return False
        obj["status"] = status
        self.put(r, obj)
        return True

    # events -----------------------------------------------------------------------
    def record_event(
        self,
        involved: dict[str, Any],
        reason: str,
        message: str,
        type_: str = "Normal",
        component: str = "fake-kube",
        count: int = 1,
        age_seconds: float = 0,
    ) -> dict[str, Any]:
        meta = involved["metadata"]
        r = BY_KIND.get(involved.get("kind", ""))
        namespace = meta.get("namespace") or "default"
        when = iso(now() - timedelta(seconds=age_seconds))
        first = iso(now() - timedelta(seconds=age_seconds + 60 * max(count - 1, 0)))
        event: dict[str, Any] = {
            "metadata": {
                "name": f"{meta['name']}.{self.rng.getrandbits(64):016x}",
                "namespace": namespace,
            },
            "involvedObject": {
                "kind": involved.get("kind"),
                "namespace": meta.get("namespace"),
                "name": meta["name"],
                "uid": meta.get("uid"),
                "apiVersion": r.api_version if r else involved.get("apiVersion"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "firstTimestamp": first,
            "lastTimestamp": when,
            "count": count,
            "type": type_,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": "",
        }
        events = BY_PLURAL["events"]
        self.stamp_new(events, event)
        event["metadata"]["creationTimestamp"] = first
        return self.put(events, event)


def controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def owner_ref(owner: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def clone(obj: Any) -> Any:
    return copy.deepcopy(obj)
