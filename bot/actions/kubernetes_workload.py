"""Scale a workload and change a container's resources, inside the blast-radius caps
(Runbook 3: more memory for Redis; ``kubectl scale``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from bot.actions import kube_common as kc
from bot.actions.base import (
    Action,
    ActionContext,
    ActionParams,
    Change,
    Outcome,
    Plan,
    Refused,
    UndoSpec,
)
from bot.actions.kubernetes_logic import (
    PlanError,
    check_quantity_or_factor,
    parse_quantity,
    render_replicas,
    resolve_quantity,
    scale_refusal,
)
from bot.registry import actions


class ScaleParams(ActionParams):
    name: str = Field(min_length=1)
    kind: kc.WorkloadKind = "deployment"
    replicas: str = Field(
        min_length=1,
        description='a number or a template over `current`, e.g. "0" or "{{ current + 1 }}"',
    )
    namespace: str = kc.NAMESPACE

    @field_validator("replicas", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


@actions.register("kubernetes.scale")
class Scale(Action[ScaleParams]):
    """Scale a deployment or statefulset (capped by max_replica_change and max_replicas)."""

    destructive = True
    late_templates = frozenset({"replicas"})

    def describe(self, params: ScaleParams) -> str:
        return f"scale {params.kind} {params.namespace}/{params.name} to {params.replicas} replicas"

    async def plan(self, params: ScaleParams, ctx: ActionContext) -> Plan:
        ns, name, kind = params.namespace, params.name, params.kind
        scale = await kc.read_scale(ctx, kind, ns, name)
        before = int((scale.get("spec") or {}).get("replicas", 0))
        try:
            after = render_replicas(params.replicas, before)
        except PlanError as exc:
            raise Refused("input", str(exc)) from exc
        limits = ctx.limits
        why = scale_refusal(before, after, limits.max_replica_change, limits.max_replicas)
        if why:
            raise Refused("blast_radius", f"scale {kind} {ns}/{name}: {why}")
        where = kc.target(kind, ns, name)
        changes = []
        if after != before:
            await kc.patch_scale(ctx, kind, ns, name, after, dry_run=True)
            changes.append(Change(where, "spec.replicas", before, after))
        return Plan(
            summary=f"scale {kind} {ns}/{name} from {before} to {after} replicas"
            if changes
            else f"{kind} {ns}/{name} already has {after} replicas: nothing to change",
            target=where,
            changes=changes,
            dry_run_checked=bool(changes),
            state={"before": before, "after": after},
        )

    async def execute(self, params: ScaleParams, ctx: ActionContext, plan: Plan) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        ns, name, kind = params.namespace, params.name, params.kind
        before, after = int(plan.state["before"]), int(plan.state["after"])
        scale = await kc.read_scale(ctx, kind, ns, name)
        now = int((scale.get("spec") or {}).get("replicas", 0))
        if now != before:
            raise Refused(
                "conflict",
                f"{kind} {ns}/{name} changed since the preview ({before} → {now} replicas); re-run",
            )
        if not plan.changes:
            return Outcome(True, plan.summary)
        await kc.patch_scale(ctx, kind, ns, name, after, dry_run=False)
        return Outcome(
            ok=True,
            message=f"scaled {kind} {ns}/{name} from {before} to {after} replicas; "
            "not waiting for the pods, verification follows",
            changes=list(plan.changes),
            undo=UndoSpec(
                "kubernetes.scale",
                {"name": name, "kind": kind, "namespace": ns, "replicas": str(before)},
                f"scale {kind} {ns}/{name} back to {before} replicas",
            ),
        )


# --- resources -------------------------------------------------------------------

# param → (section, resource)
_FIELDS = {
    "memory_limit": ("limits", "memory"),
    "memory_request": ("requests", "memory"),
    "cpu_limit": ("limits", "cpu"),
    "cpu_request": ("requests", "cpu"),
}
_QUANTITY_HELP = 'absolute ("2Gi", "500m") or a factor of the current value ("x2", capped at x4)'


class SetResourcesParams(ActionParams):
    name: str = Field(min_length=1)
    kind: kc.WorkloadKind = "deployment"
    container: str | None = Field(
        default=None, description="container name; may be left out when there is only one"
    )
    memory_limit: str | None = Field(default=None, description=_QUANTITY_HELP)
    memory_request: str | None = Field(default=None, description=_QUANTITY_HELP)
    cpu_limit: str | None = Field(default=None, description=_QUANTITY_HELP)
    cpu_request: str | None = Field(default=None, description=_QUANTITY_HELP)
    namespace: str = kc.NAMESPACE

    @field_validator("memory_limit", "memory_request", "cpu_limit", "cpu_request")
    @classmethod
    def _quantity(cls, value: str | None) -> str | None:
        if value is None or "{{" in value:  # a template is checked once rendered
            return value
        try:
            return check_quantity_or_factor(value)
        except PlanError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _something(self) -> SetResourcesParams:
        if all(getattr(self, f) is None for f in _FIELDS):
            raise ValueError("give at least one of " + ", ".join(_FIELDS))
        return self


def _pick_container(workload: dict[str, Any], wanted: str | None, where: str) -> dict[str, Any]:
    containers = (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
        "containers"
    ) or []
    names = ", ".join(str(c.get("name")) for c in containers)
    if wanted is None:
        if len(containers) != 1:
            raise Refused("input", f"{where} has containers {names}: name one (container)")
        return dict(containers[0])
    for c in containers:
        if c.get("name") == wanted:
            return dict(c)
    raise Refused("input", f"{where} has no container {wanted!r}; containers: {names}")


def plan_resources(
    params: SetResourcesParams, container: dict[str, Any]
) -> tuple[dict[str, dict[str, str]], list[tuple[str, str | None, str]], list[str]]:
    """(new limits/requests, [(field path, before, after)], warnings) — pure."""
    current = container.get("resources") or {}
    new: dict[str, dict[str, str]] = {
        "limits": dict(current.get("limits") or {}),
        "requests": dict(current.get("requests") or {}),
    }
    changes: list[tuple[str, str | None, str]] = []
    warnings: list[str] = []
    for param, (section, resource) in _FIELDS.items():
        spec = getattr(params, param)
        if spec is None:
            continue
        before = (current.get(section) or {}).get(resource)
        try:
            after, warning = resolve_quantity(spec, before, resource)
        except PlanError as exc:
            raise Refused("input", f"{param}: {exc}") from exc
        if warning:
            warnings.append(f"{param}: {warning}")
        new[section][resource] = after
        if before is None or parse_quantity(before) != parse_quantity(after):
            changes.append((f"resources.{section}.{resource}", before, after))
    for resource in ("memory", "cpu"):
        request, limit = new["requests"].get(resource), new["limits"].get(resource)
        if request and limit and parse_quantity(request) > parse_quantity(limit):
            raise Refused(
                "input",
                f"the {resource} request {request} would be above the {resource} limit {limit}; "
                f"raise the limit too",
            )
    return new, changes, warnings


@actions.register("kubernetes.set_resources")
class SetResources(Action[SetResourcesParams]):
    """Set a container's memory/CPU limits and requests (absolute, or a factor like x2, at most x4)."""

    destructive = True

    def describe(self, params: SetResourcesParams) -> str:
        parts = [
            f"{f.replace('_', ' ')} {getattr(params, f)}" for f in _FIELDS if getattr(params, f)
        ]
        container = f" container {params.container}" if params.container else ""
        return (
            f"set {', '.join(parts)} on {params.kind} {params.namespace}/{params.name}{container}"
        )

    async def plan(self, params: SetResourcesParams, ctx: ActionContext) -> Plan:
        ns, name, kind = params.namespace, params.name, params.kind
        where = kc.target(kind, ns, name)
        workload = await kc.read_workload(ctx, kind, ns, name)
        container = _pick_container(workload, params.container, f"{kind} {ns}/{name}")
        new, diffs, warnings = plan_resources(params, container)
        cname = str(container["name"])
        changes = [Change(where, f"containers[{cname}].{f}", b, a) for f, b, a in diffs]
        if kc.is_paused(workload):
            warnings.append(f"{kind} {ns}/{name} is paused: the change rolls out on resume")
        patch = {
            "spec": {"template": {"spec": {"containers": [{"name": cname, "resources": new}]}}}
        }
        if changes:
            await kc.patch_workload(ctx, kind, ns, name, patch, dry_run=True)
        return Plan(
            summary=self.describe(params) if changes else f"{where}: resources already as asked",
            target=where,
            changes=changes,
            warnings=warnings,
            dry_run_checked=bool(changes),
            state={
                "patch": patch,
                "container": cname,
                "generation": int(workload["metadata"].get("generation", 0)),
            },
        )

    async def execute(self, params: SetResourcesParams, ctx: ActionContext, plan: Plan) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        ns, name, kind = params.namespace, params.name, params.kind
        workload = await kc.read_workload(ctx, kind, ns, name)
        generation = int(workload["metadata"].get("generation", 0))
        if generation != plan.state["generation"]:
            raise Refused(
                "conflict",
                f"{kind} {ns}/{name} changed since the preview "
                f"(generation {plan.state['generation']} → {generation}); re-run",
            )
        if not plan.changes:
            return Outcome(True, plan.summary)
        await kc.patch_workload(ctx, kind, ns, name, plan.state["patch"], dry_run=False)
        return Outcome(
            ok=True,
            message=f"{plan.summary}; the pods roll to pick it up, verification follows",
            changes=list(plan.changes),
            undo=self._undo(params, plan),
        )

    @staticmethod
    def _undo(params: SetResourcesParams, plan: Plan) -> UndoSpec | None:
        """Setting the old values back; none when a field had no value before."""
        undo: dict[str, Any] = {
            "name": params.name,
            "kind": params.kind,
            "namespace": params.namespace,
            "container": plan.state["container"],
        }
        by_path = {f"resources.{s}.{r}": p for p, (s, r) in _FIELDS.items()}
        for change in plan.changes:
            path = change.field.split("].", 1)[1]
            if change.before is None:
                return None
            undo[by_path[path]] = change.before
        text = ", ".join(f"{c.field} back to {c.before}" for c in plan.changes)
        return UndoSpec("kubernetes.set_resources", undo, f"set {text}")
