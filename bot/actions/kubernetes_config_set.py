"""``kubernetes.set_config``: several keys of one ConfigMap entry in one edit, as the
runbooks write them (Runbook 4 Scenario B: MaxConcurrentProcesses 5 *and* the
RateLimiting section; Scenario C: Provider, FallbackProvider null, Azure.Enabled
false; Runbook 8 Scenario B: MaxPoolSize 20, MinPoolSize 5; Runbook 2 Option 3:
"Add/update process-specific timeout").

A key marked ``add`` is created when missing; the plan shows it as
``+ Key: value`` so a reviewer sees the file grows. A key not marked ``add`` must
exist (a typo is refused, not silently created). ``only_if`` keeps a mitigation
from going the wrong way: ``lower`` never raises a value that is already below
the runbook's number, ``higher`` never shortens a timeout.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from bot.actions.base import ActionContext, ActionParams, Change, Plan, Refused, UndoSpec
from bot.actions.kubernetes_config_base import (
    ConfigEdit,
    ConfigTarget,
    entry_text,
    load_entry,
    restart_note,
    target_name,
)
from bot.configmaps import edit as ce
from bot.registry import actions


class KeyEdit(ActionParams):
    key: str = Field(min_length=1, description="dotted path, e.g. Database.MaxPoolSize")
    value: str = Field(description='new value as YAML types it ("5", "false", "null", "OpenAI")')
    add: bool = Field(default=False, description="create the key (and its sections) if missing")
    only_if: Literal["lower", "higher"] | None = Field(
        default=None,
        description="lower: skip when the current number is already at or below the value; "
        "higher: skip when it is already at or above it",
    )

    @field_validator("value", mode="before")
    @classmethod
    def _scalar_as_text(cls, value: Any) -> Any:
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if isinstance(value, int | float) else value


class SetConfigParams(ConfigTarget):
    edits: list[KeyEdit] = Field(min_length=1, max_length=20)


def _skip(edit: KeyEdit, before: Any, new: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (before, new))
    if edit.only_if is None or not numbers:
        return False
    return before <= new if edit.only_if == "lower" else before >= new


def _show(value: Any) -> str:
    text = ce.scalar_text(value)
    return text if text is not None else repr(value)


@actions.register("kubernetes.set_config")
class SetConfig(ConfigEdit[SetConfigParams]):
    """Set (or, where marked ``add``, create) several keys of a ConfigMap entry in one edit, keeping comments."""

    def describe(self, params: SetConfigParams) -> str:
        parts = [
            f"{'+ ' if e.add else ''}{e.key}: {e.value}"
            + (f" (only if {e.only_if})" if e.only_if else "")
            for e in params.edits
        ]
        return (
            f"set {'; '.join(parts)} in configmap "
            f"{params.namespace}/{params.configmap}{restart_note(params)}"
        )

    def summary(self, params: SetConfigParams, changes: list[Change]) -> str:
        parts = []
        for c in changes:
            if not c.field.startswith(f"{params.entry}: "):
                continue
            path = c.field.removeprefix(f"{params.entry}: ")
            if c.before == ce.ABSENT:
                parts.append(f"+ {path}: {_show(c.after)}")
            else:
                parts.append(f"{path}: {_show(c.before)} → {_show(c.after)}")
        return f"in configmap {params.namespace}/{params.configmap}: {'; '.join(parts)}{restart_note(params)}"

    async def edit(
        self, params: SetConfigParams, ctx: ActionContext, cm: dict[str, Any]
    ) -> tuple[str | None, list[Change], list[str], dict[str, Any]]:
        doc = load_entry(entry_text(cm, params), params)
        where = f"configmap {params.namespace}/{params.configmap}, entry {params.entry}"
        changes: list[Change] = []
        warnings: list[str] = []
        for edit in params.edits:
            if "(template error:" in edit.key or "(template error:" in edit.value:
                raise Refused("input", f"{edit.key}: {edit.value}")
            try:
                new = ce.parse_scalar(edit.value)
                if edit.add:
                    current = _current_or_absent(doc, edit.key)
                else:
                    current = ce.plain(
                        ce.get_value(doc.data, ce.canonical_path(doc.data, edit.key))
                    )
            except ce.ConfigEditError as exc:
                raise Refused("input", f"{where}: {exc}") from exc
            if isinstance(current, dict | list):
                raise Refused("input", f"{where}: {edit.key} is a section, not a single value")
            if current != ce.ABSENT:
                mismatch = None if new is None else ce.type_mismatch(current, new)
                if mismatch:
                    raise Refused("input", f"{where}: refusing to set {edit.key}: {mismatch}")
                if _skip(edit, current, new):
                    warnings.append(
                        f"{edit.key} is already {current}; not changed to {new} (only if {edit.only_if})"
                    )
                    continue
            try:
                path, before = ce.add_or_set_value(doc, edit.key, new)
            except ce.ConfigEditError as exc:
                raise Refused("input", f"{where}: {exc}") from exc
            if before == new and type(before) is type(new):
                continue
            changes.append(Change(target_name(params), f"{params.entry}: {path}", before, new))
        return ce.dump(doc), changes, warnings, {}

    def undo(self, params: SetConfigParams, plan: Plan, ctx: ActionContext) -> UndoSpec | None:
        edits: list[dict[str, str]] = []
        for c in plan.changes:
            if not c.field.startswith(f"{params.entry}: "):
                continue
            text = ce.scalar_text(c.before)
            if c.before == ce.ABSENT or text is None:
                edits = []  # an added key cannot be set back to "absent": restore the copy
                break
            edits.append({"key": c.field.removeprefix(f"{params.entry}: "), "value": text})
        base = params.model_dump(include={"configmap", "entry", "namespace", "restart"})
        if edits:
            back = "; ".join(f"{e['key']} = {e['value']}" for e in edits)
            return UndoSpec("kubernetes.set_config", {**base, "edits": edits}, f"set {back}")
        if ctx.store is not None:
            return UndoSpec("kubernetes.restore_config", base, f"restore {params.entry} as it was")
        return None


def _current_or_absent(doc: ce.Document, key: str) -> Any:
    try:
        return ce.plain(ce.get_value(doc.data, ce.canonical_path(doc.data, key)))
    except ce.ConfigEditError:
        return ce.ABSENT
