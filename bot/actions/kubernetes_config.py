"""ConfigMap edits: one key (Runbook 1 scenario B, Runbook 2 timeouts, Runbook 4
concurrency), the LLM provider swap (Runbook 4 "make the other primary") and the
restore of an earlier version (Runbook 1 scenario D). Each checks its edit with the
server's dry run at the ConfigMap's resourceVersion, writes at that same version
(anything changed since the preview is a conflict), keeps the replaced data as
last-known-good, then optionally rolls the workload that reads it."""

from __future__ import annotations

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
from bot.registry import actions
from bot.rules.templates import render


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


class PatchConfigParams(ConfigTarget):
    key: str = Field(
        min_length=1,
        description="dotted path inside the entry, e.g. ProcessFramework.MaxConcurrentProcesses",
    )
    value: str = Field(
        description='new value, typed as YAML would ("10", "true", "Azure"); may be a '
        'template over `current`, e.g. "{{ [current // 2, 1] | max }}"'
    )

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, int | float) else value


class SwapLlmParams(ConfigTarget):
    configmap: str = Field(default="process-config", min_length=1)


class RestoreConfigParams(ConfigTarget):
    pass


P = TypeVar("P", bound=ConfigTarget)


def _where(params: ConfigTarget) -> str:
    return kc.target("configmap", params.namespace, params.configmap)


def _tail(params: ConfigTarget) -> str:
    return f", then rollout restart {params.restart}" if params.restart else ""


async def _read(ctx: ActionContext, params: ConfigTarget) -> dict[str, Any]:
    core = await ctx.adapters.kubernetes.core()
    request = core.read_namespaced_config_map(
        params.configmap, params.namespace, _preload_content=False
    )
    return dict(await kc.call(ctx, request, f"configmap {params.configmap}", params.namespace))


async def _replace(
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


def _updated(cm: dict[str, Any], entry: str, text: str | None) -> dict[str, Any]:
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


def _entry(cm: dict[str, Any], params: ConfigTarget) -> str:
    data = cm.get("data") or {}
    if params.entry not in data:
        raise Refused(
            "input",
            f"configmap {params.namespace}/{params.configmap} has no entry {params.entry!r}; "
            f"entries: {', '.join(data) or '(none)'}",
        )
    return str(data[params.entry])


def _load(text: str, params: ConfigTarget) -> ce.Document:
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
        cm = await _read(ctx, params)
        new_text, changes, warnings, extra = await self.edit(params, ctx, cm)
        rv = str(cm["metadata"]["resourceVersion"])
        body = _updated(cm, params.entry, new_text)
        state: dict[str, Any] = {
            "resource_version": rv,
            "old_data": dict(cm.get("data") or {}),
            "body": body,
            **extra,
        }
        if changes:
            await _replace(ctx, params, body, dry_run=True)
            if params.restart:
                kind, name = kc.parse_ref(params.restart)
                stamp = kc.now_rfc3339()
                change, generation = await kc.plan_restart(ctx, kind, params.namespace, name, stamp)
                changes.append(change)
                state.update(stamp=stamp, generation=generation)
        summary = (
            self.summary(params, changes) if changes else f"{_where(params)}: nothing to change"
        )
        return Plan(summary, _where(params), changes, warnings, bool(changes), state)

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
            written = await _replace(ctx, params, state["body"], dry_run=False)
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
        where = _where(params)
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


@actions.register("kubernetes.patch_config")
class PatchConfig(ConfigEdit[PatchConfigParams]):
    """Change one key inside a ConfigMap entry holding YAML or JSON, keeping comments and everything else."""

    late_templates = frozenset({"value"})

    def describe(self, params: PatchConfigParams) -> str:
        return (
            f"set {params.key} = {params.value} in configmap "
            f"{params.namespace}/{params.configmap}{_tail(params)}"
        )

    def summary(self, params: PatchConfigParams, changes: list[Change]) -> str:
        # the rule's value may be a template over `current`: show what it computed
        first = changes[0] if changes else None
        if first is None:
            return self.describe(params)
        return (
            f"set {params.key} = {first.after!r} (was {first.before!r}) in configmap "
            f"{params.namespace}/{params.configmap}{_tail(params)}"
        )

    async def edit(
        self, params: PatchConfigParams, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        doc = _load(_entry(cm, params), params)
        where = f"configmap {params.namespace}/{params.configmap}, entry {params.entry}"
        try:
            path = ce.canonical_path(doc.data, params.key)
            current = ce.get_value(doc.data, path)
        except ce.ConfigEditError as exc:
            raise Refused("input", f"{where}: {exc}") from exc
        if isinstance(current, dict | list):
            raise Refused("input", f"{where}: {path} is a section, not a single value")
        rendered = render(params.value, {"current": ce.plain(current), "labels": ctx.labels})
        if "(template error:" in rendered:
            raise Refused("input", f"value: {rendered}")
        try:
            new = ce.parse_scalar(rendered)
        except ce.ConfigEditError as exc:
            raise Refused("input", f"value: {exc}") from exc
        mismatch = ce.type_mismatch(current, new)
        if mismatch:
            raise Refused("input", f"{where}: refusing to set {path}: {mismatch}")
        before = ce.set_value(doc, path, new)
        unchanged = before == new and type(before) is type(new)
        changes = (
            [] if unchanged else [Change(_where(params), f"{params.entry}: {path}", before, new)]
        )
        return ce.dump(doc), changes, [], {"path": path, "before": before}

    def undo(self, params: PatchConfigParams, plan: Plan, ctx: ActionContext) -> UndoSpec | None:
        path, before = plan.state["path"], plan.state["before"]
        text = ce.scalar_text(before)
        base = params.model_dump(include={"configmap", "entry", "namespace", "restart"})
        if text is not None and "{{" not in text:
            return UndoSpec(
                "kubernetes.patch_config",
                {**base, "key": path, "value": text},
                f"set {path} back to {text}",
            )
        if ctx.store is not None:
            return UndoSpec("kubernetes.restore_config", base, f"restore {params.entry} as it was")
        return None


@actions.register("kubernetes.swap_llm_provider")
class SwapLlmProvider(ConfigEdit[SwapLlmParams]):
    """Make the fallback LLM provider the primary and the primary the fallback (one edit)."""

    def describe(self, params: SwapLlmParams) -> str:
        return (
            "swap LlmProvider.Provider and LlmProvider.FallbackProvider in configmap "
            f"{params.namespace}/{params.configmap}{_tail(params)}"
        )

    async def edit(
        self, params: SwapLlmParams, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        doc = _load(_entry(cm, params), params)
        where = f"configmap {params.namespace}/{params.configmap}, entry {params.entry}"
        try:
            primary_path = ce.canonical_path(doc.data, "LlmProvider.Provider")
            fallback_path = ce.canonical_path(doc.data, "LlmProvider.FallbackProvider")
        except ce.ConfigEditError as exc:
            raise Refused("input", f"{where}: {exc}") from exc
        primary = ce.plain(ce.get_value(doc.data, primary_path))
        fallback = ce.plain(ce.get_value(doc.data, fallback_path))
        if not isinstance(primary, str) or not isinstance(fallback, str) or primary == fallback:
            raise Refused(
                "input",
                f"{where}: Provider {primary!r} and FallbackProvider {fallback!r} cannot be swapped",
            )
        try:
            enabled = ce.plain(ce.get_value(doc.data, f"LlmProvider.{fallback}.Enabled"))
        except ce.ConfigEditError:
            enabled = None  # no such switch: nothing says it is off
        if enabled is False:
            raise Refused(
                "input",
                f"{where}: LlmProvider.{fallback}.Enabled is false; enable it before making "
                f"{fallback} the primary provider",
            )
        ce.set_value(doc, primary_path, fallback)
        ce.set_value(doc, fallback_path, primary)
        target = _where(params)
        changes = [
            Change(target, f"{params.entry}: {primary_path}", primary, fallback),
            Change(target, f"{params.entry}: {fallback_path}", fallback, primary),
        ]
        return ce.dump(doc), changes, [], {}

    def undo(self, params: SwapLlmParams, plan: Plan, ctx: ActionContext) -> UndoSpec | None:
        return UndoSpec(
            "kubernetes.swap_llm_provider", params.model_dump(), "swap the providers back"
        )


@actions.register("kubernetes.restore_config")
class RestoreConfig(ConfigEdit[RestoreConfigParams]):
    """Restore a ConfigMap entry to its last known good version (saved by the bot or seen by kubernetes.config_history)."""

    def describe(self, params: RestoreConfigParams) -> str:
        return (
            f"restore {params.entry} of configmap {params.namespace}/{params.configmap} "
            f"to its last known good version{_tail(params)}"
        )

    async def edit(
        self, params: RestoreConfigParams, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        ns, name = params.namespace, params.configmap
        looked = (
            f"looked for the copy honua-bot saves before its own edits "
            f"({snapshots.lkg_key(ns, name)}) and the versions the kubernetes.config_history "
            f"probe records ({snapshots.snapshot_key(ns, name)})"
        )
        if ctx.store is None:
            raise Refused(
                "input",
                f"no earlier version of configmap {ns}/{name} is known: the bot has no store "
                "to keep versions in",
            )
        data = dict(cm.get("data") or {})
        rv = str(cm["metadata"]["resourceVersion"])
        earlier = await snapshots.earlier_version(ctx.store, ns, name, rv, data, params.entry)
        if earlier is None:
            raise Refused(
                "input",
                f"no earlier version of {params.entry} in configmap {ns}/{name} is known: "
                f"{looked}; none differs from the current one",
            )
        target = _where(params)
        changes = [
            Change(target, f"{params.entry}: {path}" if path else params.entry, before, after)
            for path, before, after in ce.diff_entry(
                params.entry, data.get(params.entry), earlier.data.get(params.entry)
            )
        ]
        others = [
            e for e in {*data, *earlier.data} - {params.entry} if data.get(e) != earlier.data.get(e)
        ]
        warnings = (
            [f"{', '.join(sorted(others))} also differ from that version and stay as they are"]
            if others
            else []
        )
        extra = {"source": earlier.source, "from_resource_version": earlier.resource_version}
        return earlier.data.get(params.entry), changes, warnings, extra

    async def plan(self, params: RestoreConfigParams, ctx: ActionContext) -> Plan:
        plan = await super().plan(params, ctx)
        if plan.changes:
            plan.summary = (
                f"restore {params.entry} of configmap {params.namespace}/{params.configmap} to "
                f"{plan.state['source']} (resourceVersion {plan.state['from_resource_version']})"
                f"{_tail(params)}"
            )
        return plan

    def undo(self, params: RestoreConfigParams, plan: Plan, ctx: ActionContext) -> UndoSpec | None:
        # the data this restore replaces is now the newest saved version
        return UndoSpec(
            "kubernetes.restore_config",
            params.model_dump(),
            "restore the version before this restore",
        )
