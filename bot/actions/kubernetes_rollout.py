"""Rollout restart and rollout undo, as kubectl does them (Runbook 1, scenarios B and C)."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field

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
from bot.actions.kubernetes_logic import REVISION, PlanError, Rollback, plan_rollback
from bot.registry import actions

# `deployment:` is what rule files said before the kind could be chosen; still accepted
_NAME = Field(
    min_length=1,
    validation_alias=AliasChoices("name", "deployment"),
    description="the workload's name",
)


class RolloutRestartParams(ActionParams):
    name: str = _NAME
    kind: kc.WorkloadKind = "deployment"
    namespace: str = kc.NAMESPACE


class RolloutUndoParams(ActionParams):
    name: str = _NAME
    to_revision: int | None = Field(
        default=None, ge=1, description="revision to go back to; default: the previous one"
    )
    namespace: str = kc.NAMESPACE


@actions.register("kubernetes.rollout_restart")
class RolloutRestart(Action[RolloutRestartParams]):
    """Restart a deployment's or statefulset's pods, like kubectl rollout restart (refuses a paused deployment)."""

    def describe(self, params: RolloutRestartParams) -> str:
        return f"rollout restart {params.kind} {params.namespace}/{params.name}"

    async def plan(self, params: RolloutRestartParams, ctx: ActionContext) -> Plan:
        stamp = kc.now_rfc3339()
        change, generation = await kc.plan_restart(
            ctx, params.kind, params.namespace, params.name, stamp
        )
        return Plan(
            summary=self.describe(params),
            target=kc.target(params.kind, params.namespace, params.name),
            changes=[change],
            dry_run_checked=True,
            state={"stamp": stamp, "generation": generation},
        )

    async def execute(
        self, params: RolloutRestartParams, ctx: ActionContext, plan: Plan
    ) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        stamp = str(plan.state["stamp"])
        change = await kc.restart(
            ctx, params.kind, params.namespace, params.name, stamp, plan.state.get("generation")
        )
        return Outcome(
            ok=True,
            message=(
                f"rollout restart of {params.kind} {params.namespace}/{params.name} started "
                f"(restartedAt {stamp}); not waiting for the new pods, verification follows"
            ),
            changes=[change],
        )


def _selector(deployment: dict[str, Any]) -> str:
    """The deployment's label selector as a query string (matchLabels and matchExpressions)."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def _undo_changes(where: str, deployment: dict[str, Any], rb: Rollback) -> list[Change]:
    changes = [
        Change(
            where,
            "spec.template",
            f"revision {rb.current_revision}",
            f"revision {rb.target_revision}",
        )
    ]
    for container in [
        *rb.images_before,
        *(c for c in rb.images_after if c not in rb.images_before),
    ]:
        before, after = rb.images_before.get(container), rb.images_after.get(container)
        if before != after:
            changes.append(Change(where, f"containers[{container}].image", before, after))
    own = (deployment.get("metadata") or {}).get("annotations") or {}
    for key in sorted(set(own) | set(rb.annotations)):
        if key != REVISION and own.get(key) != rb.annotations.get(key):
            changes.append(
                Change(where, f"metadata.annotations[{key}]", own.get(key), rb.annotations.get(key))
            )
    return changes


@actions.register("kubernetes.rollout_undo")
class RolloutUndo(Action[RolloutUndoParams]):
    """Roll a deployment back to the previous (or a given) revision, like kubectl rollout undo."""

    destructive = True

    def describe(self, params: RolloutUndoParams) -> str:
        to = f"revision {params.to_revision}" if params.to_revision else "the previous revision"
        return f"roll back deployment {params.namespace}/{params.name} to {to}"

    async def plan(self, params: RolloutUndoParams, ctx: ActionContext) -> Plan:
        ns, name = params.namespace, params.name
        deployment = await kc.read_workload(ctx, "deployment", ns, name)
        kc.refuse_paused("deployment", ns, name, deployment)
        apps = await ctx.adapters.kubernetes.apps()
        listed = await kc.call(
            ctx,
            apps.list_namespaced_replica_set(
                ns, label_selector=_selector(deployment), _preload_content=False
            ),
            "replicasets",
            ns,
            "list",
        )
        try:
            rb = plan_rollback(deployment, listed.get("items") or [], params.to_revision)
        except PlanError as exc:
            raise Refused("input", str(exc)) from exc
        patch = rb.json_patch()
        await kc.patch_workload(ctx, "deployment", ns, name, patch, dry_run=True)
        where = kc.target("deployment", ns, name)
        images = ", ".join(f"{c}={i}" for c, i in rb.images_after.items())
        return Plan(
            summary=f"roll back deployment {ns}/{name} from revision {rb.current_revision} "
            f"to revision {rb.target_revision} ({images})",
            target=where,
            changes=_undo_changes(where, deployment, rb),
            dry_run_checked=True,
            state={
                "patch": patch,
                "current_revision": rb.current_revision,
                "target_revision": rb.target_revision,
                "images_before": rb.images_before,
                "generation": int(deployment["metadata"].get("generation", 0)),
            },
        )

    async def execute(self, params: RolloutUndoParams, ctx: ActionContext, plan: Plan) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        ns, name = params.namespace, params.name
        deployment = await kc.read_workload(ctx, "deployment", ns, name)
        kc.refuse_paused("deployment", ns, name, deployment)
        generation = int(deployment["metadata"].get("generation", 0))
        if generation != plan.state["generation"]:
            raise Refused(
                "conflict",
                f"deployment {ns}/{name} changed since the preview "
                f"(generation {plan.state['generation']} → {generation}); re-run",
            )
        await kc.patch_workload(ctx, "deployment", ns, name, plan.state["patch"], dry_run=False)
        current = int(plan.state["current_revision"])
        before = ", ".join(f"{c}={i}" for c, i in plan.state["images_before"].items())
        return Outcome(
            ok=True,
            message=(
                f"deployment {ns}/{name} rolled back to the template of revision "
                f"{plan.state['target_revision']}; the deployment controller rolls it out as a "
                "new revision, verification follows"
            ),
            changes=list(plan.changes),
            undo=UndoSpec(
                "kubernetes.rollout_undo",
                {"name": name, "namespace": ns, "to_revision": current},
                f"roll forward again to revision {current} ({before})",
            ),
        )
