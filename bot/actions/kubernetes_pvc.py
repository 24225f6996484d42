"""Expand a PersistentVolumeClaim (Runbook 3 scenario C: the Redis volume is full)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from bot.actions import kube_common as kc
from bot.actions.base import Action, ActionContext, ActionParams, Change, Outcome, Plan, Refused
from bot.actions.kubernetes_logic import (
    PlanError,
    check_quantity_or_factor,
    parse_quantity,
    resolve_quantity,
)
from bot.registry import actions


class ExpandPvcParams(ActionParams):
    name: str = Field(min_length=1, description="the claim, e.g. redis-data-redis-0")
    size: str = Field(description='new size ("20Gi") or a factor of the current one ("x1.5")')
    namespace: str = kc.NAMESPACE

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        if "{{" in value:
            return value
        try:
            return check_quantity_or_factor(value)
        except PlanError as exc:
            raise ValueError(str(exc)) from None


def _storage(pvc: dict[str, Any]) -> str | None:
    return (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


def _capacity(pvc: dict[str, Any]) -> str | None:
    return ((pvc.get("status") or {}).get("capacity") or {}).get("storage")


@actions.register("kubernetes.expand_pvc")
class ExpandPvc(Action[ExpandPvcParams]):
    """Grow a PersistentVolumeClaim (never shrinks; needs a StorageClass that allows expansion). No undo."""

    destructive = True

    def describe(self, params: ExpandPvcParams) -> str:
        return f"expand persistentvolumeclaim {params.namespace}/{params.name} to {params.size}"

    async def plan(self, params: ExpandPvcParams, ctx: ActionContext) -> Plan:
        ns, name = params.namespace, params.name
        where = kc.target("persistentvolumeclaim", ns, name)
        pvc = await self._read(ctx, ns, name)
        before = _storage(pvc)
        if before is None:
            raise Refused("input", f"{where} requests no storage size")
        try:
            after, warning = resolve_quantity(params.size, before, "memory", cap=None)
        except PlanError as exc:
            raise Refused("input", f"size: {exc}") from exc
        if parse_quantity(after) < parse_quantity(before):
            raise Refused(
                "input",
                f"{where} is {before}; {after} would shrink it and a claim can only grow",
            )
        if parse_quantity(after) == parse_quantity(before):
            raise Refused("input", f"{where} already requests {before}")
        phase = (pvc.get("status") or {}).get("phase")
        if phase != "Bound":
            raise Refused(
                "input", f"{where} is {phase or 'not bound'}: only a Bound claim can grow"
            )
        warnings = [warning] if warning else []
        class_name = self._class_of(pvc, where)
        # Whether the class allows expansion is the API server's to say: its resize
        # admission plugin refuses the dry-run patch otherwise. Reading the
        # StorageClass ourselves would need a cluster-scoped permission.
        body = {"spec": {"resources": {"requests": {"storage": after}}}}
        await self._patch(ctx, ns, name, body, dry_run=True, class_name=class_name)
        return Plan(
            summary=f"expand {where} from {before} to {after} (cannot be undone: claims never shrink)",
            target=where,
            changes=[Change(where, "spec.resources.requests.storage", before, after)],
            warnings=warnings,
            dry_run_checked=True,
            state={
                "before": before,
                "after": after,
                "resource_version": pvc["metadata"]["resourceVersion"],
            },
        )

    async def _read(self, ctx: ActionContext, ns: str, name: str) -> dict[str, Any]:
        core = await ctx.adapters.kubernetes.core()
        request = core.read_namespaced_persistent_volume_claim(name, ns, _preload_content=False)
        return dict(await kc.call(ctx, request, f"persistentvolumeclaim {name}", ns))

    async def _patch(
        self,
        ctx: ActionContext,
        ns: str,
        name: str,
        body: dict[str, Any],
        dry_run: bool,
        class_name: str = "",
    ) -> dict[str, Any]:
        core = await ctx.adapters.kubernetes.core()
        request = core.patch_namespaced_persistent_volume_claim(
            name, ns, body, **kc.write_kwargs(dry_run)
        )
        try:
            return dict(await kc.call(ctx, request, f"persistentvolumeclaim {name}", ns, "patch"))
        except Refused as exc:
            # the resize admission plugin answers 403 too; it is not an RBAC matter
            if exc.gate == "forbidden" and "storageclass" in exc.message:
                which = f"storageclass {class_name}" if class_name else "its storageclass"
                raise Refused(
                    "input",
                    f"{which} does not allow volume expansion, says the API server: {exc.message}",
                ) from exc
            raise

    @staticmethod
    def _class_of(pvc: dict[str, Any], where: str) -> str:
        class_name = (pvc.get("spec") or {}).get("storageClassName")
        if not class_name:
            raise Refused(
                "input",
                f"{where} has no storageClassName: only a dynamically provisioned claim can grow",
            )
        return str(class_name)

    async def execute(self, params: ExpandPvcParams, ctx: ActionContext, plan: Plan) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        ns, name = params.namespace, params.name
        where = plan.target
        before, after = plan.state["before"], plan.state["after"]
        pvc = await self._read(ctx, ns, name)
        if _storage(pvc) != before:
            raise Refused(
                "conflict",
                f"{where} changed since the preview ({before} → {_storage(pvc)}); re-run",
            )
        await self._patch(
            ctx, ns, name, {"spec": {"resources": {"requests": {"storage": after}}}}, False
        )
        now = await self._read(ctx, ns, name)
        capacity = _capacity(now)
        pending = [
            c.get("type")
            for c in (now.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"
        ]
        if capacity is not None and parse_quantity(capacity) >= parse_quantity(after):
            state = f"capacity is now {capacity}"
        else:
            waiting = f" ({', '.join(pending)})" if pending else ""
            state = (
                f"capacity is still {capacity}{waiting}: the file system grows when the "
                "volume is next mounted (restart the pod if it stays so)"
            )
        return Outcome(
            ok=True,
            message=f"{where} now requests {after} (was {before}); {state}. "
            "No undo: a claim cannot shrink",
            changes=list(plan.changes),
            details={"capacity": capacity, "conditions": pending},
        )
