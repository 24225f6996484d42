"""The three PATCH flavours the API accepts: strategic merge, JSON merge (RFC 7386),
JSON patch (RFC 6902). Inputs are never mutated."""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.kube_api.errors import (
    KubeError,
    bad_request,
    unprocessable,
    unsupported_media_type,
)

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"

# Lists merged element by element, by this key (the patchMergeKey of the Go types the
# fake serves). Any other list is replaced whole, as the real API does.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "ownerReferences": "uid",
    "conditions": "type",
    "resourceClaims": "name",
    "topologySpreadConstraints": "topologyKey",
}
# Lists of scalars with patchStrategy "merge" (union).
PRIMITIVE_MERGE = {"finalizers"}


def apply_patch(content_type: str, original: dict[str, Any], patch: Any) -> dict[str, Any]:
    kind = content_type.split(";")[0].strip().lower()
    if kind == STRATEGIC:
        if not isinstance(patch, dict):
            raise bad_request(
                "json: cannot unmarshal array into Go value of type map[string]interface {}"
            )
        result = strategic_merge(original, patch)
    elif kind == MERGE:
        result = merge_patch(original, patch)
    elif kind == JSON_PATCH:
        if not isinstance(patch, list):
            raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        result = json_patch(original, patch)
    else:
        raise unsupported_media_type(content_type)
    if not isinstance(result, dict):
        raise bad_request("the patched object is not a JSON object")
    return result


# --- RFC 7386 -------------------------------------------------------------


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- strategic merge --------------------------------------------------------


def _strip(value: Any) -> Any:
    """A patch value with its ``$`` directives removed (used where nothing is merged)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch"))]
    return value


def strategic_merge(original: Any, patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return None
    if directive not in (None, "merge"):
        raise bad_request(f"Unrecognized $patch directive: {directive!r}")
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [x for x in result.get(field) or [] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            merged = strategic_merge(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list) and key in MERGE_KEYS:
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, list) and key in PRIMITIVE_MERGE:
            current = list(result.get(key) or [])
            result[key] = current + [v for v in value if v not in current]
        else:
            result[key] = _strip(value)
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, MERGE_KEYS.get(field))
    if "$retainKeys" in patch:
        keep = set(patch["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _merge_list(original: list[Any], patch: list[Any], key: str) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) for p in patch if not (isinstance(p, dict) and "$patch" in p)]
    result = copy.deepcopy(original)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise bad_request(f"map: {item!r} does not contain declared merge key: {key}")
        index = next(
            (
                i
                for i, cur in enumerate(result)
                if isinstance(cur, dict) and cur.get(key) == item[key]
            ),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
        elif index is None:
            result.append(_strip(item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(x: Any) -> Any:
        return x.get(key) if key and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]
    ranked = sorted(
        enumerate(items),
        key=lambda p: (wanted.index(ident(p[1])) if ident(p[1]) in wanted else len(wanted), p[0]),
    )
    return [item for _, item in ranked]


# --- RFC 6902 -------------------------------------------------------------


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise unprocessable(
            f"the server rejected our request due to an error in our request: invalid JSON pointer {path!r}"
        )
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, op: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise unprocessable(
            f"{op} operation does not apply: invalid array index {token!r} in {path}"
        )
    i = int(token)
    if i > len(container) or (i == len(container) and not allow_end):
        raise unprocessable(f"{op} operation does not apply: index {i} out of bounds in {path}")
    return i


def _parent(doc: Any, tokens: list[str], op: str, path: str) -> Any:
    cur = doc
    for token in tokens[:-1]:
        if isinstance(cur, dict) and token in cur:
            cur = cur[token]
        elif isinstance(cur, list):
            cur = cur[_index(cur, token, op, path, allow_end=False)]
        else:
            raise unprocessable(f"{op} operation does not apply: doc is missing path: {path!r}")
    return cur


def _get(doc: Any, path: str, op: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, op, path, allow_end=False)]
    raise unprocessable(f"{op} operation does not apply: doc is missing key: {path}")


def _add(doc: Any, path: str, value: Any, op: str = "add") -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, op, path, allow_end=True), value)
    else:
        raise unprocessable(f"{op} operation does not apply: doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str, op: str = "remove") -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise unprocessable(f"{op} operation does not apply: cannot remove the whole document")
    parent = _parent(doc, tokens, op, path)
    last = tokens[-1]
    if isinstance(parent, dict) and last in parent:
        del parent[last]
    elif isinstance(parent, list):
        parent.pop(_index(parent, last, op, path, allow_end=False))
    else:
        raise unprocessable(f"{op} operation does not apply: doc is missing key: {path}")
    return doc


def json_patch(original: Any, operations: list[Any]) -> Any:
    doc = copy.deepcopy(original)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise bad_request(f"invalid JSON patch operation: {operation!r}")
        op, path = operation["op"], operation["path"]
        try:
            if op in ("add", "replace", "test") and "value" not in operation:
                raise bad_request(f"{op} operation is missing 'value': {operation!r}")
            if op == "add":
                doc = _add(doc, path, copy.deepcopy(operation["value"]))
            elif op == "remove":
                doc = _remove(doc, path)
            elif op == "replace":
                _get(doc, path, "replace")
                tokens = _pointer(path)
                doc = (
                    copy.deepcopy(operation["value"])
                    if not tokens
                    else _remove(doc, path, "replace")
                )
                if tokens:
                    doc = _add(doc, path, copy.deepcopy(operation["value"]), "replace")
            elif op == "test":
                actual = _get(doc, path, "test")
                if actual != operation["value"]:
                    raise unprocessable(
                        f"testing value {path} failed: test operation does not apply: "
                        f"is: {actual!r}, expected: {operation['value']!r}"
                    )
            elif op in ("copy", "move"):
                source = operation.get("from")
                if source is None:
                    raise bad_request(f"{op} operation is missing 'from': {operation!r}")
                value = copy.deepcopy(_get(doc, source, op))
                if op == "move":
                    if path.startswith(source + "/"):
                        raise unprocessable(
                            f"move operation does not apply: {source} is a prefix of {path}"
                        )
                    doc = _remove(doc, source, op)
                doc = _add(doc, path, value, op)
            else:
                raise bad_request(f"Unexpected kind: {op}")
        except KubeError:
            raise
        except (TypeError, AttributeError) as exc:  # e.g. pointer through a scalar
            raise unprocessable(f"{op} operation does not apply: {path}: {exc}") from exc
    return doc
