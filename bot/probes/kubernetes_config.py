"""When a ConfigMap last changed, who changed it and what changed (Runbook 1
scenario D: "check recent ConfigMap changes"). Each new resourceVersion it sees is
snapshotted in the bot's store, so ``kubernetes.restore_config`` can go back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from bot.adapters.kubernetes import DEFAULT_NAMESPACE
from bot.configmaps import snapshots as snapshots
from bot.configmaps.edit import diff_entry
from bot.probes.base import ProbeContext, ProbeParams
from bot.registry import probes


class ConfigHistoryParams(ProbeParams):
    configmap: str = Field(min_length=1)
    namespace: str = DEFAULT_NAMESPACE
    entry: str = Field(default="appsettings.yaml", description="data entry holding YAML or JSON")


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def last_change(meta: dict[str, Any]) -> tuple[datetime | None, str | None, str | None]:
    """(time, manager, operation) of the newest managedFields entry; without
    managedFields, the creation time and no manager."""
    newest: tuple[datetime, str | None, str | None] | None = None
    for entry in meta.get("managedFields") or []:
        at = _time(entry.get("time"))
        if at is not None and (newest is None or at >= newest[0]):
            newest = (at, entry.get("manager"), entry.get("operation"))
    if newest is not None:
        return newest
    return _time(meta.get("creationTimestamp")), None, None


def changed_keys(entry: str, earlier: dict[str, str], live: dict[str, str]) -> list[str]:
    """Dotted paths inside ``entry`` that differ, then the other entries that differ."""
    keys = [path or entry for path, _, _ in diff_entry(entry, earlier.get(entry), live.get(entry))]
    others = sorted(e for e in {*earlier, *live} - {entry} if earlier.get(e) != live.get(e))
    return keys + others


@probes.register("kubernetes.config_history")
async def config_history(params: ConfigHistoryParams, ctx: ProbeContext) -> dict[str, Any]:
    """A ConfigMap's last change: when, by which field manager, and which keys differ from the earlier version the bot kept.

    Returns `resource_version`, `last_change_age_seconds`, `last_change_at`,
    `last_manager`, `last_operation`, `changed_keys` (dotted paths in `entry`,
    then other entries), `previous_available` (kubernetes.restore_config has a
    version to go back to), `previous_source` and `history` (false when the bot
    has no store to keep versions in).
    """
    k8s = ctx.adapters.kubernetes
    core = await k8s.core()
    cm = await k8s.call(
        core.read_namespaced_config_map(params.configmap, params.namespace, _preload_content=False),
        f"configmap {params.configmap}",
        params.namespace,
    )
    meta = cm.get("metadata") or {}
    data = {str(k): str(v) for k, v in (cm.get("data") or {}).items()}
    rv = str(meta.get("resourceVersion", ""))
    at, manager, operation = last_change(meta)
    result: dict[str, Any] = {
        "resource_version": rv,
        "last_change_at": at.strftime("%Y-%m-%dT%H:%M:%SZ") if at else None,
        "last_change_age_seconds": round((datetime.now(UTC) - at).total_seconds(), 1)
        if at
        else None,
        "last_manager": manager,
        "last_operation": operation,
        "changed_keys": [],
        "previous_available": False,
        "previous_source": None,
        "history": ctx.store is not None,
    }
    if ctx.store is None:
        return result
    await snapshots.record_snapshot(ctx.store, params.namespace, params.configmap, rv, data)
    earlier = await snapshots.earlier_version(
        ctx.store, params.namespace, params.configmap, rv, data, params.entry
    )
    if earlier is not None:
        result.update(
            changed_keys=changed_keys(params.entry, earlier.data, data),
            previous_available=True,
            previous_source=earlier.source,
        )
    return result
