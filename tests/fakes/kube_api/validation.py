"""The subset of apiserver validation the bot can trip over, with the real messages."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from tests.fakes.kube_api.errors import KubeError, bad_request, invalid
from tests.fakes.kube_api.resources import Resource
from tests.fakes.kube_api.selection import labels_match, selector_from_match_labels

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_SUFFIXES = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def parse_quantity(value: Any) -> Decimal:
    """``"10Gi"`` → bytes, ``"500m"`` → 0.5. Raises ValueError like resource.ParseQuantity."""
    text = str(value).strip()
    m = _QUANTITY.match(text)
    if not m:
        raise ValueError(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    number, suffix = m.groups()
    try:
        if suffix in _SUFFIXES:
            return Decimal(number) * _SUFFIXES[suffix]
        if suffix[:1] in "eE":
            return Decimal(number) * (Decimal(10) ** int(suffix[1:]))
    except (InvalidOperation, ValueError):
        pass
    raise ValueError(f"unable to parse quantity's suffix: {suffix!r}")


def _containers(r: Resource, obj: dict[str, Any]) -> tuple[str, list[Any]]:
    if r.plural == "pods":
        return "spec", (obj.get("spec") or {}).get("containers") or []
    template = (obj.get("spec") or {}).get("template") or {}
    return "spec.template.spec", (template.get("spec") or {}).get("containers") or []


def decode_check(r: Resource, obj: dict[str, Any]) -> None:
    """What fails JSON decoding into the Go type (→ 400 BadRequest)."""
    where = f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}'
    if r.plural == "configmaps":
        for key, value in (obj.get("data") or {}).items():
            if not isinstance(value, str):
                raise bad_request(
                    f"{where}: json: cannot unmarshal {type(value).__name__} into Go struct field "
                    f"ConfigMap.data of type string (key {key!r})"
                )
    _, containers = _containers(r, obj)
    for c in containers if isinstance(containers, list) else []:
        for section in ("requests", "limits"):
            for q in ((c.get("resources") or {}).get(section) or {}).values():
                try:
                    parse_quantity(q)
                except ValueError as exc:
                    raise bad_request(f"{where}: {exc}") from exc
    if r.plural == "persistentvolumeclaims":
        for q in (((obj.get("spec") or {}).get("resources") or {}).get("requests") or {}).values():
            try:
                parse_quantity(q)
            except ValueError as exc:
                raise bad_request(f"{where}: {exc}") from exc
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if any(not isinstance(v, str) for v in labels.values()):
        raise bad_request(
            f"{where}: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"
        )


def validate(r: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
    """Raise 422 Invalid (or 400) the way the apiserver would for ``obj``."""
    decode_check(r, obj)
    meta = obj.get("metadata") or {}
    name = meta.get("name") or ""
    causes: list[tuple[str, str]] = []
    if not name:
        causes.append(("metadata.name", "Required value: name or generateName is required"))
    elif not _DNS1123.match(name) or len(name) > 253:
        causes.append(
            (
                "metadata.name",
                f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
            )
        )
    spec = obj.get("spec") or {}
    path, containers = _containers(r, obj)
    if r.plural in ("pods", "deployments", "statefulsets", "replicasets"):
        if not containers:
            causes.append((f"{path}.containers", "Required value"))
        for i, c in enumerate(containers):
            if not c.get("name"):
                causes.append((f"{path}.containers[{i}].name", "Required value"))
            if not c.get("image"):
                causes.append((f"{path}.containers[{i}].image", "Required value"))
            causes += _resource_causes(
                f"{path}.containers[{i}].resources", c.get("resources") or {}
            )
    if r.group == "apps":
        causes += _workload_causes(spec, old)
    if r.plural == "pods" and old is not None:
        causes += _pod_update_causes(spec, old.get("spec") or {})
    if r.plural == "persistentvolumeclaims":
        causes += _pvc_causes(spec, old)
    if causes:
        raise invalid(r.kind, r.group, name, causes)


def validate_scale(name: str, replicas: Any) -> None:
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise bad_request(
            f'Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal {json.dumps(replicas)} into Go struct field ScaleSpec.spec.replicas of type int32'
        )
    if replicas < 0:
        raise invalid(
            "Scale",
            "autoscaling",
            name,
            [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
        )


def _resource_causes(path: str, resources: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for res, req in requests.items():
        if res in limits and parse_quantity(req) > parse_quantity(limits[res]):
            out.append(
                (
                    f"{path}.requests",
                    f'Invalid value: "{req}": must be less than or equal to {res} limit of {limits[res]}',
                )
            )
    return out


def _workload_causes(spec: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    replicas = spec.get("replicas", 1)
    if not isinstance(replicas, int) or replicas < 0:
        out.append(
            ("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")
        )
    selector = spec.get("selector")
    if not selector or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        out.append(("spec.selector", "Required value"))
    else:
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not labels_match(selector_from_match_labels(selector), labels):
            out.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: map[string]string{_go_map(labels)}: `selector` does not match template `labels`",
                )
            )
        if old is not None and (old.get("spec") or {}).get("selector") != selector:
            out.append(
                ("spec.selector", f"Invalid value: {_go_selector(selector)}: field is immutable")
            )
    return out


def _go_map(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'"{k}":"{v}"' for k, v in sorted(labels.items())) + "}"


def _go_selector(selector: dict[str, Any]) -> str:
    return f"v1.LabelSelector{{MatchLabels:map[string]string{_go_map(selector.get('matchLabels') or {})}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}"


def _pod_update_causes(spec: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, str]]:
    def blank(s: dict[str, Any]) -> dict[str, Any]:
        s = json.loads(json.dumps(s))
        for c in s.get("containers") or []:
            c.pop("image", None)
        for c in s.get("initContainers") or []:
            c.pop("image", None)
        s.pop("activeDeadlineSeconds", None)
        s.pop("tolerations", None)
        return s

    if blank(spec) != blank(old):
        return [
            (
                "spec",
                "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
                "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
                "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
                "(allow it to be set to 1 if it was previously negative)",
            )
        ]
    return []


def _pvc_causes(spec: dict[str, Any], old: dict[str, Any] | None) -> list[tuple[str, str]]:
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is None:
        return [("spec.resources[storage]", "Required value")]
    if old is None:
        return []
    old_spec = old.get("spec") or {}

    def without_requests(s: dict[str, Any]) -> dict[str, Any]:
        s = json.loads(json.dumps(s))
        (s.get("resources") or {}).pop("requests", None)
        s.pop("volumeAttributesClassName", None)
        return s

    if without_requests(spec) != without_requests(old_spec):
        return [
            (
                "spec",
                "Forbidden: spec is immutable after creation except resources.requests and "
                "volumeAttributesClassName for bound claims",
            )
        ]
    before = ((old_spec.get("resources") or {}).get("requests") or {}).get("storage")
    if before is not None and parse_quantity(storage) < parse_quantity(before):
        return [
            (
                "spec.resources.requests.storage",
                "Forbidden: field can not be less than previous value",
            )
        ]
    return []


def check_name_matches(r: Resource, body: dict[str, Any], name: str, namespace: str | None) -> None:
    meta = body.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise bad_request(
            f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
        )
    if r.namespaced and meta.get("namespace") and namespace and meta["namespace"] != namespace:
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def ensure_kind(r: Resource, body: Any) -> None:
    if not isinstance(body, dict):
        raise bad_request(
            f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: json: cannot unmarshal into Go value of type {r.group or "core"}.{r.kind}'
        )
    kind = body.get("kind")
    if kind and kind != r.kind:
        raise bad_request(
            f'{r.kind} in version "{r.version}" cannot be handled as a {r.kind}: no kind "{kind}" is registered for version "{body.get("apiVersion", "")}"'
        )


__all__ = [
    "KubeError",
    "check_name_matches",
    "ensure_kind",
    "parse_quantity",
    "validate",
    "validate_scale",
]
