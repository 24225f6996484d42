"""The pure parts of the Kubernetes actions: kubectl's rollback algorithm, replica
counts and their caps, resource quantities and factors, pod readiness. No I/O."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from bot import quantity
from bot.rules.templates import render

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# kubectl rollback.go: annotations a rollback keeps from the deployment itself
ROLLBACK_SKIP = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)
MAX_FACTOR = Decimal(4)  # a factor (x2) never multiplies a resource by more than this


class PlanError(ValueError):
    """The request cannot be planned; the message says why, for humans."""


# --- rollout undo ----------------------------------------------------------------


@dataclass(frozen=True)
class Rollback:
    current_revision: int
    target_revision: int
    template: dict[str, Any]
    annotations: dict[str, str]
    images_before: dict[str, str]
    images_after: dict[str, str]

    def json_patch(self) -> list[dict[str, Any]]:
        return [
            {"op": "replace", "path": "/spec/template", "value": self.template},
            {"op": "replace", "path": "/metadata/annotations", "value": self.annotations},
        ]


def revision_of(obj: dict[str, Any]) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def controller_uid(obj: dict[str, Any]) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def without_hash(template: dict[str, Any]) -> dict[str, Any]:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        labels.pop(HASH_LABEL, None)
    return t


def images(template: dict[str, Any]) -> dict[str, str]:
    containers = ((template.get("spec") or {}).get("containers")) or []
    return {str(c.get("name")): str(c.get("image", "")) for c in containers}


def plan_rollback(
    deployment: dict[str, Any], replicasets: list[dict[str, Any]], to_revision: int | None
) -> Rollback:
    """kubectl rollout undo: the owned ReplicaSet of the previous (or the given)
    revision, its template without pod-template-hash, and the annotations a
    rollback writes (the deployment's own values of ROLLBACK_SKIP, the rest from
    the ReplicaSet)."""
    meta = deployment.get("metadata") or {}
    name = meta.get("name", "")
    owned = [rs for rs in replicasets if controller_uid(rs) == meta.get("uid")]
    by_revision = {revision_of(rs): rs for rs in owned if revision_of(rs) > 0}
    current = revision_of(deployment) or max(by_revision, default=0)
    kept = ", ".join(str(r) for r in sorted(by_revision)) or "none"
    if to_revision is None:
        older = sorted(r for r in by_revision if r != max(by_revision, default=0))
        if not older:
            raise PlanError(
                f"no rollout history found for deployment {name}: "
                f"only revision {current} exists, nothing to roll back to"
            )
        target = older[-1]
    elif to_revision not in by_revision:
        raise PlanError(
            f"unable to find revision {to_revision} of deployment {name}; revisions kept: {kept}"
        )
    else:
        target = to_revision
    rs = by_revision[target]
    current_template = (deployment.get("spec") or {}).get("template") or {}
    template = without_hash((rs.get("spec") or {}).get("template") or {})
    if template == without_hash(current_template):
        raise PlanError(
            f"skipped rollback: the current template of deployment {name} already "
            f"matches revision {target}"
        )
    own = meta.get("annotations") or {}
    annotations = {k: v for k, v in own.items() if k in ROLLBACK_SKIP}
    annotations |= {
        k: v
        for k, v in ((rs.get("metadata") or {}).get("annotations") or {}).items()
        if k not in ROLLBACK_SKIP
    }
    return Rollback(
        current, target, template, annotations, images(current_template), images(template)
    )


# --- scale -----------------------------------------------------------------------


def render_replicas(source: str, current: int) -> int:
    """``"3"`` or a template over ``current`` (``"{{ current + 1 }}"``) → a count."""
    text = render(source, {"current": current}).strip()
    if "(template error:" in text:
        raise PlanError(f"replicas: {text}")
    try:
        value = float(text)
    except ValueError:
        raise PlanError(
            f"replicas: {source!r} gave {text!r}, not a whole number of replicas"
        ) from None
    if not value.is_integer() or value < 0:
        raise PlanError(f"replicas: {source!r} gave {text!r}, not a whole number ≥ 0")
    return int(value)


def scale_refusal(before: int, after: int, max_change: int, max_replicas: int) -> str | None:
    """Why the blast-radius caps refuse this change, or None."""
    if after > max_replicas:
        return f"{after} replicas is above the cap of {max_replicas} (max_replicas)"
    if abs(after - before) > max_change:
        return (
            f"{before} → {after} changes {abs(after - before)} replicas; "
            f"the cap is {max_change} per action (max_replica_change)"
        )
    return None


# --- quantities ------------------------------------------------------------------

_FACTOR = re.compile(r"^[x*]\s*([0-9]+(?:\.[0-9]+)?)$")


def parse_quantity(text: str) -> Decimal:
    """``"2Gi"`` → bytes, ``"500m"`` → 0.5 (the forms Kubernetes writes); PlanError
    when it is not one."""
    try:
        return quantity.parse_quantity(text)
    except quantity.QuantityError as exc:
        raise PlanError(str(exc)) from exc


def parse_factor(text: str) -> Decimal | None:
    """``"x2"`` / ``"x1.5"`` → the factor; None for anything that is not a factor."""
    m = _FACTOR.match(str(text).strip())
    if not m:
        return None
    factor = Decimal(m.group(1))
    if factor <= 0:
        raise PlanError(f"{text!r}: a factor must be above 0")
    return factor


def check_quantity_or_factor(text: str) -> str:
    """For params validation: a quantity or a factor, else a clear ValueError."""
    if parse_factor(text) is None:
        parse_quantity(text)
    return text


def format_quantity(value: Decimal, resource: str) -> str:
    """Bytes in the largest binary unit that is exact (``3Gi``, ``1536Mi``); CPU in
    cores when whole, else millicores rounded up."""
    if resource == "cpu":
        if value == value.to_integral_value():
            return str(int(value))
        milli = (value * 1000).to_integral_value(rounding=ROUND_CEILING)
        return f"{int(milli)}m"
    whole = int(value.to_integral_value(rounding=ROUND_CEILING))
    for suffix in quantity.BINARY_SUFFIXES:
        unit = int(quantity.SUFFIX_FACTORS[suffix])
        if whole >= unit and whole % unit == 0:
            return f"{whole // unit}{suffix}"
    return str(whole)


def resolve_quantity(
    spec: str, current: str | None, resource: str, cap: Decimal | None = MAX_FACTOR
) -> tuple[str, str | None]:
    """(new quantity, warning) for an absolute quantity or a factor of ``current``."""
    factor = parse_factor(spec)
    if factor is None:
        parse_quantity(spec)
        return spec, None
    if current is None:
        raise PlanError(f"{spec} multiplies the current value, and none is set")
    warning = None
    if cap is not None and factor > cap:
        warning = f"factor {spec} capped at x{cap}"
        factor = cap
    return format_quantity(parse_quantity(current) * factor, resource), warning


# --- pods ------------------------------------------------------------------------


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pod_condition_text(pod: dict[str, Any]) -> str:
    """``Running, Ready`` / ``Pending (ContainerCreating)`` / ``Running (CrashLoopBackOff)``."""
    status = pod.get("status") or {}
    phase = status.get("phase", "Unknown")
    if pod_ready(pod):
        return f"{phase}, Ready"
    reasons = [status["reason"]] if status.get("reason") else []
    for c in status.get("containerStatuses") or []:
        for where in ("waiting", "terminated"):
            reason = ((c.get("state") or {}).get(where) or {}).get("reason")
            if reason and reason not in reasons:
                reasons.append(reason)
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
            reasons.append("Unschedulable")
    return f"{phase} ({', '.join(reasons)})" if reasons else f"{phase}, not Ready"


def seconds_text(seconds: float) -> str:
    return f"{seconds:g}s" if seconds < 120 else f"{seconds / 60:g}m"
