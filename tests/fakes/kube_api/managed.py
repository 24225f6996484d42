"""``metadata.managedFields`` as the apiserver keeps them for Update operations: one
entry per (manager, operation, subresource) with the time of its last change and the
fields it owns (FieldsV1). A manager that changes a field takes it over from the
others; a manager left owning nothing is dropped. A write that changes nothing
leaves the entries (and their times) alone."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.kube_api.store import clone, iso, now

# metadata the server owns: never someone's managed field
SERVER_META = {
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
    "name",
    "namespace",
}
FieldSet = dict[str, Any]


def manager_from_user_agent(user_agent: str | None) -> str:
    """What the apiserver uses when a request names no fieldManager: the
    User-Agent up to its first ``/`` (``OpenAPI-Generator/36.1.0/python``)."""
    return (user_agent or "unknown").split("/", 1)[0] or "unknown"


def _tracked(obj: dict[str, Any], subresource: str | None) -> dict[str, Any]:
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    meta = {k: v for k, v in (body.get("metadata") or {}).items() if k not in SERVER_META}
    body["metadata"] = meta
    if subresource == "status":
        return {"status": body.get("status") or {}}
    body.pop("status", None)
    return body


def _key(item: Any) -> str | None:
    if isinstance(item, dict) and "name" in item:
        return "k:" + json.dumps({"name": item["name"]}, separators=(",", ":"))
    return None


def _fields(value: Any) -> FieldSet:
    """The FieldsV1 set of every field under ``value``."""
    if isinstance(value, dict):
        out: FieldSet = {".": {}} if value else {}
        for k, v in value.items():
            out[f"f:{k}"] = _fields(v)
        return out
    if isinstance(value, list) and value and all(_key(i) for i in value):
        out = {}
        for item in value:
            out[str(_key(item))] = {".": {}, **_fields(item)}
        return out
    return {}


def _changed(old: Any, new: Any) -> FieldSet | None:
    """Fields that differ between ``old`` and ``new`` (None: nothing differs)."""
    if old == new:
        return None
    if isinstance(old, dict) and isinstance(new, dict):
        out: FieldSet = {}
        for k in [*new, *(k for k in old if k not in new)]:
            sub = _changed(old.get(k), new.get(k))
            if sub is not None:
                out[f"f:{k}"] = sub
        return out
    if isinstance(old, list) and isinstance(new, list) and all(_key(i) for i in [*old, *new]):
        before = {_key(i): i for i in old}
        out = {}
        for item in new:
            sub = _changed(before.get(_key(item)), item)
            if sub is not None:
                out[str(_key(item))] = {".": {}, **sub}
        for key in before.keys() - {_key(i) for i in new}:
            out[str(key)] = {}
        return out
    return _fields(new) if new is not None else {}


def _union(a: FieldSet, b: FieldSet) -> FieldSet:
    out = clone(a)
    for k, v in b.items():
        out[k] = _union(out.get(k) or {}, v)
    return out


def _minus(a: FieldSet, b: FieldSet) -> FieldSet:
    """``a`` without the leaves in ``b`` (a parent stays while children remain)."""
    out: FieldSet = {}
    for k, v in a.items():
        if k not in b:
            out[k] = v
        elif b[k] and v:
            rest = _minus(v, b[k])
            if rest and set(rest) != {"."}:
                out[k] = rest
    return out


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    manager: str,
    api_version: str,
    subresource: str | None = None,
) -> bool:
    """Record in ``new['metadata']['managedFields']`` that ``manager`` wrote ``new``
    over ``old`` (None: created it). False when nothing changed."""
    entries = clone((old or {}).get("metadata", {}).get("managedFields") or [])
    changed: FieldSet | None
    if old is None:
        changed = _fields(_tracked(new, subresource))
        changed.pop(".", None)  # the object itself is no one's field
    else:
        changed = _changed(_tracked(old, subresource), _tracked(new, subresource))
    if changed is None:
        new["metadata"]["managedFields"] = entries
        return False
    mine = None
    kept = []
    for entry in entries:
        same = (
            entry.get("manager") == manager
            and entry.get("operation") == "Update"
            and entry.get("subresource") == subresource
        )
        if same:
            mine = entry
            continue
        rest = _minus(entry.get("fieldsV1") or {}, changed)
        if rest:
            kept.append({**entry, "fieldsV1": rest})
    owned = _union((mine or {}).get("fieldsV1") or {}, changed)
    entry = {
        "manager": manager,
        "operation": "Update",
        "apiVersion": api_version,
        "time": iso(now()),
        "fieldsType": "FieldsV1",
        "fieldsV1": owned,
    }
    if subresource:
        entry["subresource"] = subresource
    new["metadata"]["managedFields"] = [*kept, entry]
    return True
