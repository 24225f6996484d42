"""Label selectors (equality and set-based) and field selectors, as the API parses them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.kube_api.errors import bad_request

_KEY = re.compile(
    r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_SET = re.compile(r"^(?P<key>\S+)\s+(?P<op>in|notin)\s*\((?P<values>[^()]*)\)$")
_BINARY = re.compile(r"^(?P<key>[^=!<>\s]+)\s*(?P<op>==|=|!=|<|>)\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # in, notin, exists, !, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op == "in":
            return has and value in self.values
        if self.op == "notin":
            return not has or value not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if not has or value is None:
            return False
        try:
            left, right = int(value), int(self.values[0])
        except ValueError:
            return False
        return left > right if self.op == "gt" else left < right


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _check(key: str, values: tuple[str, ...], raw: str) -> None:
    if not _KEY.match(key):
        raise bad_request(
            f"unable to parse requirement: invalid label key {key!r}: name part must consist of "
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )
    for v in values:
        if not _VALUE.match(v) or len(v) > 63:
            raise bad_request(f"unable to parse requirement: invalid label value: {v!r} in {raw!r}")


def parse_label_selector(text: str | None) -> list[Requirement]:
    if not text:
        return []
    out: list[Requirement] = []
    for raw in _split_top_level(text):
        if m := _SET.match(raw):
            values = tuple(v.strip() for v in m["values"].split(",") if v.strip())
            _check(m["key"], values, raw)
            out.append(Requirement(m["key"], m["op"], values))
        elif raw.startswith("!"):
            _check(raw[1:].strip(), (), raw)
            out.append(Requirement(raw[1:].strip(), "!"))
        elif m := _BINARY.match(raw):
            op = {"=": "in", "==": "in", "!=": "notin", ">": "gt", "<": "lt"}[m["op"]]
            value = m["value"].strip()
            if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
                raise bad_request(
                    f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer: {raw!r}"
                )
            _check(m["key"], () if op in ("gt", "lt") else (value,), raw)
            out.append(Requirement(m["key"], op, (value,)))
        elif re.fullmatch(r"\S+", raw):
            _check(raw, (), raw)
            out.append(Requirement(raw, "exists"))
        else:
            raise bad_request(
                f"unable to parse requirement: found {raw!r}, expected: '=', '!=', '==', 'in', notin'"
            )
    return out


def labels_match(requirements: list[Requirement], labels: dict[str, str] | None) -> bool:
    labels = labels or {}
    return all(req.matches(labels) for req in requirements)


def selector_from_match_labels(selector: dict[str, Any] | None) -> list[Requirement]:
    """A ``LabelSelector`` object (matchLabels + matchExpressions) as requirements."""
    if not selector:
        return []
    reqs = [Requirement(k, "in", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!"}
    for expr in selector.get("matchExpressions") or []:
        reqs.append(
            Requirement(expr["key"], ops[expr["operator"]], tuple(expr.get("values") or ()))
        )
    return reqs


def selector_string(selector: dict[str, Any] | None) -> str:
    """``app=x,tier in (a,b)`` — the form ``Scale.status.selector`` carries."""
    parts = [f"{k}={v}" for k, v in sorted((selector or {}).get("matchLabels", {}).items())]
    for expr in (selector or {}).get("matchExpressions") or []:
        op = expr["operator"]
        if op in ("In", "NotIn"):
            parts.append(f"{expr['key']} {op.lower()} ({','.join(expr.get('values') or [])})")
        else:
            parts.append(expr["key"] if op == "Exists" else f"!{expr['key']}")
    return ",".join(parts)


# --- field selectors ------------------------------------------------------

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
FIELDS: dict[str, tuple[str, ...]] = {
    "pods": (
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ),
    "events": (
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
    "namespaces": ("status.phase",),
    "replicasets": ("status.replicas",),
}


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source":  # events: source.component
        path = "source.component"
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text: str | None, plural: str) -> Callable[[dict[str, Any]], bool]:
    if not text:
        return lambda _obj: True
    allowed = _COMMON_FIELDS + FIELDS.get(plural, ())
    terms: list[tuple[str, bool, str]] = []
    for raw in re.split(r"(?<!\\),", text):
        raw = raw.strip()
        if not raw:
            continue
        m = re.match(r"^([^=!]+?)\s*(==|=|!=)\s*(.*)$", raw)
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        key, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3).strip())
        if key not in allowed:
            raise bad_request(f"field label not supported: {key}")
        terms.append((key, op != "!=", value))

    def match(obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, key) == value) == want for key, want, value in terms)

    return match
