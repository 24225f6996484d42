"""Kubernetes remediation steps from the runbooks, one module per concern; importing
this module registers them all:

* ``kubernetes_rollout``  — ``kubernetes.rollout_restart``, ``kubernetes.rollout_undo``
* ``kubernetes_workload`` — ``kubernetes.scale``, ``kubernetes.set_resources``
* ``kubernetes_pods``     — ``kubernetes.delete_pod``
* ``kubernetes_pvc``      — ``kubernetes.expand_pvc``
* ``kubernetes_config``   — ``kubernetes.patch_config``, ``kubernetes.swap_llm_provider``,
  ``kubernetes.restore_config`` (editing in ``config_edit``, versions in ``config_snapshots``)
* ``kubernetes_config_set`` — ``kubernetes.set_config`` (several keys; may add keys)
"""

from bot.actions import (
    kubernetes_config,
    kubernetes_config_set,
    kubernetes_pods,
    kubernetes_pvc,
    kubernetes_rollout,
    kubernetes_workload,
)

__all__ = [
    "kubernetes_config",
    "kubernetes_config_set",
    "kubernetes_pods",
    "kubernetes_pvc",
    "kubernetes_rollout",
    "kubernetes_workload",
]
