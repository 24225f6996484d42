"""What the kubelet would report: pod status shapes and how new pods come up."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tests.fakes.kube_api.logs import LogStore
from tests.fakes.kube_api.store import Key, iso, now

STARTUP_MODES = ("ready", "pending", "crashloop", "imagepullbackoff", "unschedulable")
NODES = ("node-1", "node-2", "node-3")


def _condition(
    type_: str, ok: bool, reason: str | None = None, message: str | None = None
) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": type_,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": iso(now()),
    }
    if not ok and reason:
        cond["reason"] = reason
    if not ok and message:
        cond["message"] = message
    return cond


def pod_conditions(status: dict[str, Any], scheduled: bool = True) -> list[dict[str, Any]]:
    """The standard conditions, derived from phase and container statuses."""
    statuses = status.get("containerStatuses") or []
    unready = [c["name"] for c in statuses if not c.get("ready")]
    running = status.get("phase") == "Running"
    ready = running and bool(statuses) and not unready
    why = f"containers with unready status: [{' '.join(unready)}]" if unready else None
    if not scheduled:
        return [
            _condition("PodScheduled", False, "Unschedulable", status.get("_unschedulable_message"))
        ]
    return [
        _condition("PodReadyToStartContainers", bool(statuses)),
        _condition("Initialized", True),
        _condition("Ready", ready, "ContainersNotReady" if not ready else None, why),
        _condition("ContainersReady", ready, "ContainersNotReady" if not ready else None, why),
        _condition("PodScheduled", True),
    ]


def _image_id(image: str) -> str:
    digest = hashlib.sha256(image.encode()).hexdigest()
    repo = image.rsplit(":", 1)[0]
    return f"docker.io/{repo}@sha256:{digest}"


def _container_id(pod_uid: str, name: str, restarts: int) -> str:
    return "containerd://" + hashlib.sha256(f"{pod_uid}/{name}/{restarts}".encode()).hexdigest()


def container_status(pod: dict[str, Any], container: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """One ``containerStatuses`` entry; ``kw`` overrides (ready, state, lastState, restartCount)."""
    restarts = kw.get("restartCount", 0)
    out = {
        "name": container["name"],
        "image": container.get("image", ""),
        "imageID": _image_id(container.get("image", "")),
        "containerID": _container_id(pod["metadata"].get("uid", ""), container["name"], restarts),
        "ready": True,
        "started": True,
        "restartCount": restarts,
        "state": {"running": {"startedAt": iso(now())}},
        "lastState": {},
    }
    out.update(kw)
    if "waiting" in out["state"] or "terminated" in out["state"]:
        out["started"] = False
    return out


def _base(pod: dict[str, Any], phase: str) -> dict[str, Any]:
    spec = pod.get("spec") or {}
    status: dict[str, Any] = {"phase": phase, "qosClass": qos_class(spec)}
    if spec.get("nodeName"):
        status["hostIP"] = (
            f"192.168.0.{NODES.index(spec['nodeName']) + 10}"
            if spec["nodeName"] in NODES
            else "192.168.0.9"
        )
        status["podIP"] = pod_ip(pod["metadata"].get("uid", ""))
        status["podIPs"] = [{"ip": status["podIP"]}]
        status["startTime"] = pod["metadata"].get("creationTimestamp") or iso(now())
    return status


def pod_ip(uid: str) -> str:
    h = hashlib.sha256(uid.encode()).digest()
    return f"10.244.{h[0] % 8}.{h[1] % 250 + 2}"


def qos_class(spec: dict[str, Any]) -> str:
    containers = spec.get("containers") or []
    res = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in res):
        return "BestEffort"
    guaranteed = all(
        r.get("limits", {}).get(k)
        and r.get("requests", {}).get(k, r["limits"][k]) == r["limits"][k]
        for r in res
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def running_status(pod: dict[str, Any], ready: bool = True, restarts: int = 0) -> dict[str, Any]:
    status = _base(pod, "Running")
    status["containerStatuses"] = [
        container_status(pod, c, ready=ready, restartCount=restarts)
        for c in pod["spec"].get("containers") or []
    ]
    status["conditions"] = pod_conditions(status)
    return status


def waiting_status(
    pod: dict[str, Any], reason: str, message: str = "", phase: str = "Pending"
) -> dict[str, Any]:
    status = _base(pod, phase)
    waiting = {"reason": reason} | ({"message": message} if message else {})
    status["containerStatuses"] = [
        container_status(pod, c, ready=False, state={"waiting": waiting})
        for c in pod["spec"].get("containers") or []
    ]
    status["conditions"] = pod_conditions(status)
    return status


def crashloop_status(
    pod: dict[str, Any], last_reason: str = "Error", exit_code: int = 1, restarts: int = 3
) -> dict[str, Any]:
    status = _base(pod, "Running")
    finished = now()
    entries = []
    for c in pod["spec"].get("containers") or []:
        message = f"back-off 40s restarting failed container={c['name']} pod={pod['metadata']['name']}_{pod['metadata'].get('namespace', '')}({pod['metadata'].get('uid', '')})"
        entries.append(
            container_status(
                pod,
                c,
                ready=False,
                restartCount=restarts,
                state={"waiting": {"reason": "CrashLoopBackOff", "message": message}},
                lastState={"terminated": terminated(last_reason, exit_code, finished)},
            )
        )
    status["containerStatuses"] = entries
    status["conditions"] = pod_conditions(status)
    return status


def terminated(reason: str, exit_code: int, finished: datetime | None = None) -> dict[str, Any]:
    finished = finished or now()
    return {
        "exitCode": exit_code,
        "reason": reason,
        "startedAt": iso(finished - timedelta(seconds=30)),
        "finishedAt": iso(finished),
        "containerID": "containerd://" + hashlib.sha256(f"{reason}{finished}".encode()).hexdigest(),
    }


def unschedulable_status(pod: dict[str, Any], message: str) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Pending", "qosClass": qos_class(pod.get("spec") or {})}
    status["conditions"] = pod_conditions(
        status | {"_unschedulable_message": message}, scheduled=False
    )
    return status


def evicted_status(pod: dict[str, Any], message: str) -> dict[str, Any]:
    status = _base(pod, "Failed")
    status.update(reason="Evicted", message=message)
    status["containerStatuses"] = [
        container_status(
            pod,
            c,
            ready=False,
            state={"terminated": terminated("ContainerStatusUnknown", 137)},
        )
        for c in pod["spec"].get("containers") or []
    ]
    status["conditions"] = pod_conditions(status)
    for cond in status["conditions"]:
        if cond["type"] == "Ready":
            cond.update(reason="PodFailed", message="")
    return status


@dataclass
class Startup:
    """How a pod the fake's controllers create comes up.

    ``mode`` is its first state; with ``reads`` or ``seconds`` it turns Running+Ready
    after that many reads of it (GET or LIST that includes it) or that many seconds."""

    mode: str = "ready"
    reads: int | None = None
    seconds: float | None = None
    last_reason: str = "Error"

    def __post_init__(self) -> None:
        if self.mode not in STARTUP_MODES:
            raise ValueError(f"startup mode must be one of {STARTUP_MODES}, not {self.mode!r}")


@dataclass
class Transition:
    reads_left: int | None
    ready_at: float | None


@dataclass
class PodRuntime:
    startup: Startup = field(default_factory=Startup)
    transitions: dict[Key, Transition] = field(default_factory=dict)
    # (namespace, pod, container, previous) -> [(time, line)]
    logs: LogStore = field(default_factory=LogStore)

    def schedule(self, pod: dict[str, Any], index: int) -> None:
        spec = pod.setdefault("spec", {})
        spec.setdefault("nodeName", NODES[index % len(NODES)])
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("dnsPolicy", "ClusterFirst")

    def initial_status(self, pod: dict[str, Any]) -> dict[str, Any]:
        s = self.startup
        key = (pod["metadata"].get("namespace", ""), pod["metadata"]["name"])
        if s.mode != "ready" and (s.reads is not None or s.seconds is not None):
            self.transitions[key] = Transition(
                s.reads, time.monotonic() + s.seconds if s.seconds is not None else None
            )
        self.logs.default(pod)
        return self.status_for(pod, s.mode, s.last_reason)

    @staticmethod
    def status_for(pod: dict[str, Any], mode: str, last_reason: str = "Error") -> dict[str, Any]:
        if mode == "pending":
            return waiting_status(pod, "ContainerCreating")
        if mode == "crashloop":
            code = 137 if last_reason == "OOMKilled" else 1
            return crashloop_status(pod, last_reason, code, restarts=1)
        if mode == "imagepullbackoff":
            image = (pod["spec"].get("containers") or [{}])[0].get("image", "")
            return waiting_status(pod, "ImagePullBackOff", f'Back-off pulling image "{image}"')
        if mode == "unschedulable":
            pod["spec"].pop("nodeName", None)
            return unschedulable_status(pod, "0/3 nodes are available: 3 Insufficient memory.")
        return running_status(pod)

    def read(self, key: Key) -> bool:
        """Count one read of a pod; True when it is now due to turn Ready."""
        t = self.transitions.get(key)
        if t is None or t.reads_left is None:
            return False
        if t.reads_left <= 0:
            return True
        t.reads_left -= 1
        return False

    def due_by_time(self) -> list[Key]:
        clock = time.monotonic()
        return [
            k for k, t in self.transitions.items() if t.ready_at is not None and t.ready_at <= clock
        ]

    def forget(self, namespace: str, name: str) -> None:
        self.transitions.pop((namespace, name), None)
        self.logs.forget(namespace, name)
