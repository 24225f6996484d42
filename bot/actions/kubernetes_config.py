"""ConfigMap edits: one key (Runbook 1 scenario B, Runbook 2 timeouts, Runbook 4
concurrency), the LLM provider swap (Runbook 4 "make the other primary") and the
restore of an earlier version (Runbook 1 scenario D). Each checks its edit with the
server's dry run at the ConfigMap's resourceVersion, writes at that same version
(anything changed since the preview is a conflict), keeps the replaced data as
last-known-good, then optionally rolls the workload that reads it."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from bot.actions.base import (
    ActionContext,
    Change,
    Plan,
    Refused,
    UndoSpec,
)
from bot.actions.kubernetes_config_base import (
    ConfigEdit,
    ConfigTarget,
    entry_text,
    load_entry,
    restart_note,
    target_name,
)
from bot.configmaps import edit as ce
from bot.configmaps import snapshots as snapshots
from bot.registry import actions
from bot.rules.templates import render


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


@actions.register("kubernetes.patch_config")
class PatchConfig(ConfigEdit[PatchConfigParams]):
    """Change one key inside a ConfigMap entry holding YAML or JSON, keeping comments and everything else."""

    late_templates = frozenset({"value"})

    def describe(self, params: PatchConfigParams) -> str:
        return (
            f"set {params.key} = {params.value} in configmap "
            f"{params.namespace}/{params.configmap}{restart_note(params)}"
        )

    def summary(self, params: PatchConfigParams, changes: list[Change]) -> str:
        # the rule's value may be a template over `current`: show what it computed
        first = changes[0] if changes else None
        if first is None:
            return self.describe(params)
        return (
            f"set {params.key} = {first.after!r} (was {first.before!r}) in configmap "
            f"{params.namespace}/{params.configmap}{restart_note(params)}"
        )

    async def edit(
        self, params: PatchConfigParams, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        doc = load_entry(entry_text(cm, params), params)
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
            []
            if unchanged
            else [Change(target_name(params), f"{params.entry}: {path}", before, new)]
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
            f"{params.namespace}/{params.configmap}{restart_note(params)}"
        )

    async def edit(
        self, params: SwapLlmParams, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        doc = load_entry(entry_text(cm, params), params)
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
        target = target_name(params)
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
            f"to its last known good version{restart_note(params)}"
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
        target = target_name(params)
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
                f"{restart_note(params)}"
            )
        return plan

    def undo(self, params: RestoreConfigParams, plan: Plan, ctx: ActionContext) -> UndoSpec | None:
        # the data this restore replaces is now the newest saved version
        return UndoSpec(
            "kubernetes.restore_config",
            params.model_dump(),
            "restore the version before this restore",
        )
