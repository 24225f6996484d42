"""What the Kubernetes actions share: API calls whose failures become refusals
(403 → forbidden, 404 → not_found, 409 → conflict, 400/422 → input), workloads
read and patched by kind, and the rollout restart other actions end with."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Literal

from bot.actions.base import ActionContext, Change, Outcome, Plan, Refused
from bot.adapters.kubernetes import DEFAULT_NAMESPACE, FIELD_MANAGER, KubeApiError

NAMESPACE = DEFAULT_NAMESPACE
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
WorkloadKind = Literal["deployment", "statefulset"]
_API_NAME = {"deployment": "deployment", "statefulset": "stateful_set"}
_REF = re.compile(r"^(deployment|statefulset)/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$")


def target(kind: str, namespace: str, name: str) -> str:
    """The key safety gates count per target: ``deployment/NS/NAME``."""
    return f"{kind}/{namespace}/{name}"


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ref(text: str) -> tuple[WorkloadKind, str]:
    """``deployment/NAME`` or ``statefulset/NAME`` → (kind, name)."""
    m = _REF.match(text.strip())
    if not m:
        raise ValueError(f"{text!r}: expected deployment/NAME or statefulset/NAME")
    kind: WorkloadKind = "deployment" if m.group(1) == "deployment" else "statefulset"
    return kind, m.group(2)


def write_kwargs(dry_run: bool, content_type: str | None = None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"field_manager": FIELD_MANAGER, "_preload_content": False}
    if content_type:
        kwargs["_content_type"] = content_type
    if dry_run:
        kwargs["dry_run"] = "All"
    return kwargs


async def call(
    ctx: ActionContext,
    request: Awaitable[Any],
    what: str,
    namespace: str,
    verb: str = "get",
    conflict: str | None = None,
) -> Any:
    """One API call; the answers an action refuses on become :class:`Refused`."""
    try:
        return await ctx.adapters.kubernetes.call(request, what, namespace, verb)
    except KubeApiError as exc:
        if exc.status == 403:
            raise Refused("forbidden", str(exc)) from exc
        if exc.status == 404:
            raise Refused("not_found", str(exc)) from exc
        if exc.status == 409:
            raise Refused("conflict", conflict or str(exc)) from exc
        if exc.status in (400, 422):
            raise Refused("input", f"the API server rejected the change to {what}: {exc}") from exc
        raise


async def read_workload(
    ctx: ActionContext, kind: WorkloadKind, namespace: str, name: str
) -> dict[str, Any]:
    apps = await ctx.adapters.kubernetes.apps()
    method = getattr(apps, f"read_namespaced_{_API_NAME[kind]}")
    return dict(
        await call(
            ctx, method(name, namespace, _preload_content=False), f"{kind} {name}", namespace
        )
    )


async def patch_workload(
    ctx: ActionContext,
    kind: WorkloadKind,
    namespace: str,
    name: str,
    body: Any,
    dry_run: bool,
    conflict: str | None = None,
) -> dict[str, Any]:
    """A strategic merge patch (dict body) or a JSON patch (list body)."""
    apps = await ctx.adapters.kubernetes.apps()
    method = getattr(apps, f"patch_namespaced_{_API_NAME[kind]}")
    request = method(name, namespace, body, **write_kwargs(dry_run))
    return dict(await call(ctx, request, f"{kind} {name}", namespace, "patch", conflict))


async def read_scale(
    ctx: ActionContext, kind: WorkloadKind, namespace: str, name: str
) -> dict[str, Any]:
    apps = await ctx.adapters.kubernetes.apps()
    method = getattr(apps, f"read_namespaced_{_API_NAME[kind]}_scale")
    request = method(name, namespace, _preload_content=False)
    return dict(await call(ctx, request, f"{kind}s/scale {name}", namespace))


async def patch_scale(
    ctx: ActionContext, kind: WorkloadKind, namespace: str, name: str, replicas: int, dry_run: bool
) -> dict[str, Any]:
    apps = await ctx.adapters.kubernetes.apps()
    method = getattr(apps, f"patch_namespaced_{_API_NAME[kind]}_scale")
    request = method(name, namespace, {"spec": {"replicas": replicas}}, **write_kwargs(dry_run))
    return dict(await call(ctx, request, f"{kind}s/scale {name}", namespace, "patch"))


def is_paused(workload: dict[str, Any]) -> bool:
    return bool((workload.get("spec") or {}).get("paused"))


def refuse_paused(kind: str, namespace: str, name: str, workload: dict[str, Any]) -> None:
    if is_paused(workload):
        raise Refused(
            "conflict",
            f"{kind} {namespace}/{name} is paused (spec.paused: true): a restart or "
            f"rollback would not roll out; resume it first "
            f"(kubectl rollout resume {kind}/{name} -n {namespace})",
        )


def restart_patch(stamp: str) -> dict[str, Any]:
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}


def restart_change(
    kind: str, namespace: str, name: str, workload: dict[str, Any], stamp: str
) -> Change:
    template_meta = ((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}
    before = (template_meta.get("annotations") or {}).get(RESTARTED_AT)
    return Change(
        target(kind, namespace, name),
        f"spec.template.metadata.annotations[{RESTARTED_AT}]",
        before,
        stamp,
    )


async def plan_restart(
    ctx: ActionContext, kind: WorkloadKind, namespace: str, name: str, stamp: str
) -> tuple[Change, int]:
    """Check a rollout restart (not paused; the server's dry run accepts it):
    (the change, the workload's generation for execute to compare)."""
    workload = await read_workload(ctx, kind, namespace, name)
    refuse_paused(kind, namespace, name, workload)
    await patch_workload(ctx, kind, namespace, name, restart_patch(stamp), dry_run=True)
    generation = int((workload.get("metadata") or {}).get("generation", 0))
    return restart_change(kind, namespace, name, workload, stamp), generation


async def restart(
    ctx: ActionContext,
    kind: WorkloadKind,
    namespace: str,
    name: str,
    stamp: str,
    generation: int | None = None,
) -> Change:
    """Rollout restart, like kubectl; refuses when paused or when the workload's spec
    changed (generation) since the plan."""
    workload = await read_workload(ctx, kind, namespace, name)
    refuse_paused(kind, namespace, name, workload)
    now_generation = int((workload.get("metadata") or {}).get("generation", 0))
    if generation is not None and now_generation != generation:
        raise Refused(
            "conflict",
            f"{kind} {namespace}/{name} changed since the preview "
            f"(generation {generation} → {now_generation}); re-run",
        )
    change = restart_change(kind, namespace, name, workload, stamp)
    await patch_workload(ctx, kind, namespace, name, restart_patch(stamp), dry_run=False)
    return change


def dry_run_outcome(plan: Plan) -> Outcome:
    """What execute answers in dry-run mode: the plan, nothing changed."""
    return Outcome(
        ok=True,
        message=f"dry run: nothing changed; would: {plan.summary}",
        changes=list(plan.changes),
        details={"dry_run": True},
    )
