"""Knobs that put pods into the states the runbooks diagnose (CrashLoopBackOff,
OOMKilled, ImagePullBackOff, Evicted, Pending) and set what their containers log."""

from __future__ import annotations

from typing import Any

from tests.fakes.kube_api.pods import (
    container_status,
    crashloop_status,
    evicted_status,
    pod_conditions,
    running_status,
    terminated,
    unschedulable_status,
    waiting_status,
)
from tests.fakes.kube_api.resources import BY_PLURAL
from tests.fakes.kube_api.writes import KubeApi


class PodStateKnobs(KubeApi):
    # pod states ---------------------------------------------------------------------------
    def _set_pod_status(self, namespace: str, name: str, status: dict[str, Any]) -> dict[str, Any]:
        pods = BY_PLURAL["pods"]
        pod = self._existing(pods, namespace, name)
        self.runtime.transitions.pop((namespace, name), None)
        self.store.set_status(pods, pod, status)
        self.controllers.pod_changed(pod)
        return self.get(pods, namespace, name)

    def set_container_state(
        self,
        namespace: str,
        pod: str,
        state: str = "running",
        reason: str | None = None,
        message: str | None = None,
        container: str | None = None,
        exit_code: int | None = None,
        restart_count: int | None = None,
        last_terminated_reason: str | None = None,
        last_exit_code: int | None = None,
        ready: bool | None = None,
    ) -> dict[str, Any]:
        """Set one container's (default: every container's) state: running | waiting | terminated."""
        with self._lock:
            obj = self._existing(BY_PLURAL["pods"], namespace, pod)
            status = dict(obj.get("status") or {})
            if not status.get("containerStatuses"):
                status = running_status(obj)
            entries = []
            for c in status["containerStatuses"]:
                if container is not None and c["name"] != container:
                    entries.append(c)
                    continue
                spec_c = next(x for x in obj["spec"]["containers"] if x["name"] == c["name"])
                kw: dict[str, Any] = {
                    "restartCount": c.get("restartCount", 0)
                    if restart_count is None
                    else restart_count
                }
                if state == "running":
                    kw["state"] = {
                        "running": {
                            "startedAt": c.get("state", {}).get("running", {}).get("startedAt")
                            or obj["metadata"]["creationTimestamp"]
                        }
                    }
                    kw["ready"] = True if ready is None else ready
                elif state == "waiting":
                    kw["state"] = {
                        "waiting": {"reason": reason or "CrashLoopBackOff"}
                        | ({"message": message} if message else {})
                    }
                    kw["ready"] = bool(ready)
                elif state == "terminated":
                    kw["state"] = {
                        "terminated": terminated(
                            reason or "Error", 1 if exit_code is None else exit_code
                        )
                    }
                    kw["ready"] = bool(ready)
                else:
                    raise ValueError("state must be running, waiting or terminated")
                if last_terminated_reason:
                    code = (
                        last_exit_code
                        if last_exit_code is not None
                        else (137 if last_terminated_reason == "OOMKilled" else 1)
                    )
                    kw["lastState"] = {"terminated": terminated(last_terminated_reason, code)}
                else:
                    kw["lastState"] = c.get("lastState") or {}
                entries.append(container_status(obj, spec_c, **kw))
            status["containerStatuses"] = entries
            status["phase"] = _phase(entries)
            status.pop("reason", None)
            status.pop("message", None)
            status["conditions"] = pod_conditions(status)
            return self._set_pod_status(namespace, pod, status)

    def crashloop(
        self, namespace: str, pod: str, last_reason: str = "Error", restarts: int = 5
    ) -> dict[str, Any]:
        """CrashLoopBackOff with lastState.terminated.reason ``last_reason`` (e.g. OOMKilled)."""
        with self._lock:
            obj = self._existing(BY_PLURAL["pods"], namespace, pod)
            code = 137 if last_reason == "OOMKilled" else 1
            return self._set_pod_status(
                namespace, pod, crashloop_status(obj, last_reason, code, restarts)
            )

    def oom_killed(self, namespace: str, pod: str, restarts: int = 3) -> dict[str, Any]:
        return self.crashloop(namespace, pod, "OOMKilled", restarts)

    def image_pull_backoff(self, namespace: str, pod: str) -> dict[str, Any]:
        with self._lock:
            obj = self._existing(BY_PLURAL["pods"], namespace, pod)
            image = obj["spec"]["containers"][0].get("image", "")
            return self._set_pod_status(
                namespace,
                pod,
                waiting_status(obj, "ImagePullBackOff", f'Back-off pulling image "{image}"'),
            )

    def evict(self, namespace: str, pod: str, message: str | None = None) -> dict[str, Any]:
        """phase Failed, reason Evicted (an owning ReplicaSet then starts a replacement)."""
        msg = (
            message
            or "The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki."
        )
        with self._lock:
            obj = self._existing(BY_PLURAL["pods"], namespace, pod)
            return self._set_pod_status(namespace, pod, evicted_status(obj, msg))

    def make_pending(
        self, namespace: str, pod: str, reason: str = "Unschedulable", message: str | None = None
    ) -> dict[str, Any]:
        """``Unschedulable`` (PodScheduled False) or a container waiting reason (ContainerCreating)."""
        with self._lock:
            obj = self._existing(BY_PLURAL["pods"], namespace, pod)
            if reason == "Unschedulable":
                status = unschedulable_status(
                    obj, message or "0/3 nodes are available: 3 Insufficient memory."
                )
            else:
                status = waiting_status(obj, reason, message or "")
            return self._set_pod_status(namespace, pod, status)

    def make_ready(self, namespace: str, pod: str) -> dict[str, Any]:
        with self._lock:
            self._make_ready(namespace, pod)
            return self.get("pods", namespace, pod)

    # logs and events ----------------------------------------------------------------------
    def set_logs(
        self,
        namespace: str,
        pod: str,
        text: str | list[str],
        container: str | None = None,
        previous: bool = False,
        append: bool = False,
    ) -> None:
        """The log a container (``previous=True``: its previous instance) serves."""
        lines = text.splitlines() if isinstance(text, str) else list(text)
        with self._lock:
            obj = self._existing(BY_PLURAL["pods"], namespace, pod)
            container = container or obj["spec"]["containers"][0]["name"]
            self.runtime.logs.set(namespace, pod, container, lines, previous, append)


def _phase(entries: list[dict[str, Any]]) -> str:
    """What the kubelet reports for these container states."""
    if all("terminated" in e["state"] for e in entries):
        return (
            "Failed" if any(e["state"]["terminated"]["exitCode"] for e in entries) else "Succeeded"
        )
    started = any(
        "running" in e["state"] or e.get("restartCount") or e.get("lastState") for e in entries
    )
    return "Running" if started else "Pending"
