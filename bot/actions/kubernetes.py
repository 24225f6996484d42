"""Kubernetes remediation steps from the runbooks."""

from __future__ import annotations

from pydantic import Field

from bot.actions.base import ActionParams
from bot.registry import actions
from bot.rules.durations import Duration

NAMESPACE = "honua-process-framework"


class DeletePod(ActionParams):
    name: str = Field(min_length=1)
    namespace: str = NAMESPACE
    wait_ready: Duration = 120


class PatchConfig(ActionParams):
    configmap: str = Field(min_length=1)
    key: str = Field(
        min_length=1,
        description="dotted path inside the data entry, e.g. ProcessFramework.MaxConcurrentProcesses",
    )
    value: str = Field(description="new value; may be a template over `current`")
    entry: str = Field(default="appsettings.yaml", description="data entry holding YAML or JSON")
    namespace: str = NAMESPACE
    restart: str | None = Field(default=None, description="kind/name to rollout-restart afterwards")


class RolloutTarget(ActionParams):
    deployment: str = Field(min_length=1)
    namespace: str = NAMESPACE


class RolloutUndo(RolloutTarget):
    to_revision: int | None = Field(default=None, ge=1)


@actions.register("kubernetes.delete_pod", destructive=True)
def delete_pod(params: DeletePod) -> str:
    """Delete a pod and wait until its replacement is Ready."""
    return (
        f"delete pod {params.namespace}/{params.name}, wait up to {params.wait_ready:g}s for Ready"
    )


@actions.register("kubernetes.patch_config", destructive=True)
def patch_config(params: PatchConfig) -> str:
    """Change one key inside a ConfigMap entry holding YAML or JSON, keeping comments."""
    tail = f", then rollout restart {params.restart}" if params.restart else ""
    return f"set {params.key} = {params.value} in configmap {params.namespace}/{params.configmap}{tail}"


@actions.register("kubernetes.rollout_restart")
def rollout_restart(params: RolloutTarget) -> str:
    """Restart a deployment's pods (refuses a paused deployment)."""
    return f"rollout restart deployment {params.namespace}/{params.deployment}"


@actions.register("kubernetes.rollout_undo", destructive=True)
def rollout_undo(params: RolloutUndo) -> str:
    """Roll a deployment back to the previous (or a given) revision."""
    target = f"revision {params.to_revision}" if params.to_revision else "the previous revision"
    return f"roll back deployment {params.namespace}/{params.deployment} to {target}"
