"""What the ConfigMap actions share (:mod:`bot.actions.kubernetes_config`): the
target (ConfigMap, entry, namespace, workload to restart) and :class:`ConfigEdit`,
which previews an edit with the server's dry run at the ConfigMap's
resourceVersion, writes at that same version, keeps the replaced data as
last-known-good and optionally rolls the workload that reads it."""

from typing import Any, TypeVar, cast

from pydantic import Field, field_validator

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
from bot.adapters.errors import AdapterError
from bot.configmaps import edit as ce
from bot.configmaps import snapshots as snapshots


class ConfigTarget(ActionParams):
    configmap: str = Field(min_length=1)
    entry: str = Field(default="appsettings.yaml", description="data entry holding YAML or JSON")
    namespace: str = kc.NAMESPACE
    restart: str | None = Field(
        default=None,
        description="deployment/NAME or statefulset/NAME to rollout-restart afterwards",
    )

    @field_validator("restart")
    @classmethod
    def _restart(cls, value: str | None) -> str | None:
        if value is not None and "{{" not in value:  # a template is checked once rendered
            kc.parse_ref(value)
        return value


P = TypeVar("P", bound=ConfigTarget)


def target_name(params: ConfigTarget) -> str:
    return kc.target("configmap", params.namespace, params.configmap)


def restart_note(params: ConfigTarget) -> str:
    return f", then rollout restart {params.restart}" if params.restart else ""


async def read_configmap(ctx: ActionContext, params: ConfigTarget) -> dict[str, Any]:
    core = await ctx.adapters.kubernetes.core()
    request = core.read_namespaced_config_map(
        params.configmap, params.namespace, _preload_content=False
    )
    return dict(await kc.call(ctx, request, f"configmap {params.configmap}", params.namespace))


async def replace_configmap(
    ctx: ActionContext, params: ConfigTarget, body: dict[str, Any], dry_run: bool
) -> dict[str, Any]:
    """PUT the whole ConfigMap (RBAC verb ``update``); its resourceVersion makes any
    change since the read a 409."""
    core = await ctx.adapters.kubernetes.core()
    request = core.replace_namespaced_config_map(  # a dict body is sent as it is
        params.configmap, params.namespace, cast(Any, body), **kc.write_kwargs(dry_run)
    )
    conflict = f"{params.configmap} changed since the preview; re-run"
    what = f"configmap {params.configmap}"
    return dict(await kc.call(ctx, request, what, params.namespace, "update", conflict))


def with_entry(cm: dict[str, Any], entry: str, text: str | None) -> dict[str, Any]:
    """The ConfigMap as read, with ``entry`` set (None: removed); the server keeps
    managedFields itself."""
    meta = {k: v for k, v in (cm.get("metadata") or {}).items() if k != "managedFields"}
    data = {k: v for k, v in (cm.get("data") or {}).items() if k != entry}
    if text is not None:
        data[entry] = text
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}
    for key in ("binaryData", "immutable"):
        if key in cm:
            body[key] = cm[key]
    return body


def entry_text(cm: dict[str, Any], params: ConfigTarget) -> str:
    data = cm.get("data") or {}
    if params.entry not in data:
        raise Refused(
            "input",
            f"configmap {params.namespace}/{params.configmap} has no entry {params.entry!r}; "
            f"entries: {', '.join(data) or '(none)'}",
        )
    return str(data[params.entry])


def load_entry(text: str, params: ConfigTarget) -> ce.Document:
    try:
        return ce.load(text, params.entry)
    except ce.ConfigEditError as exc:
        raise Refused("input", f"configmap {params.namespace}/{params.configmap}: {exc}") from exc


class ConfigEdit(Action[P]):
    """Plan and execute one edit of one entry; subclasses say what the new text is."""

    destructive = True

    async def edit(
        self, params: P, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        """(new entry text or None to remove it, changes, warnings, extra state)."""
        raise NotImplementedError

    def undo(self, params: P, plan: Plan, ctx: ActionContext) -> UndoSpec | None:
        raise NotImplementedError

    def summary(self, params: P, changes: list[Change]) -> str:
        """What the plan says it will do, with computed values where the action has them."""
        return self.describe(params)

    async def plan(self, params: P, ctx: ActionContext) -> Plan:
        cm = await read_configmap(ctx, params)
        new_text, changes, warnings, extra = await self.edit(params, ctx, cm)
        rv = str(cm["metadata"]["resourceVersion"])
        body = with_entry(cm, params.entry, new_text)
        state: dict[str, Any] = {
            "resource_version": rv,
            "old_data": dict(cm.get("data") or {}),
            "body": body,
            **extra,
        }
        if changes:
            await replace_configmap(ctx, params, body, dry_run=True)
            if params.restart:
                kind, name = kc.parse_ref(params.restart)
                stamp = kc.now_rfc3339()
                change, generation = await kc.plan_restart(ctx, kind, params.namespace, name, stamp)
                changes.append(change)
                state.update(stamp=stamp, generation=generation)
        summary = (
            self.summary(params, changes)
            if changes
            else f"{target_name(params)}: nothing to change"
        )
        return Plan(summary, target_name(params), changes, warnings, bool(changes), state)

    async def execute(self, params: P, ctx: ActionContext, plan: Plan) -> Outcome:
        if ctx.dry_run:
            return kc.dry_run_outcome(plan)
        if not plan.changes:
            return Outcome(True, plan.summary)
        state, ns, name = plan.state, params.namespace, params.configmap
        store = ctx.store
        held = None
        if store is not None:
            held = await snapshots.save_last_known_good(
                store, ns, name, state["resource_version"], state["old_data"]
            )
        try:
            written = await replace_configmap(ctx, params, state["body"], dry_run=False)
        except Refused:
            # the server said no, so nothing was replaced: the saved copy goes back (after
            # a timeout the write may have happened, and the copy is kept)
            if store is not None:
                await snapshots.put_back_last_known_good(store, ns, name, held)
            raise
        if store is not None:
            await snapshots.record_snapshot(
                store,
                ns,
                name,
                str(written["metadata"]["resourceVersion"]),
                written.get("data") or {},
            )
        where = target_name(params)
        done = [c for c in plan.changes if c.target == where]
        undo = self.undo(params, plan, ctx)
        message = f"updated configmap {ns}/{name} ({params.entry})"
        if params.restart:
            kind, workload = kc.parse_ref(params.restart)
            try:
                restart = await kc.restart(
                    ctx, kind, ns, workload, str(state["stamp"]), state.get("generation")
                )
            except (Refused, AdapterError) as exc:
                return Outcome(
                    ok=False,
                    message=f"{message}, but the rollout restart of {params.restart} failed: "
                    f"{exc}; its pods still run the old configuration",
                    changes=done,
                    undo=undo,
                )
            done.append(restart)
            message += f", then started a rollout restart of {params.restart}"
        return Outcome(True, message, done, undo=undo)
