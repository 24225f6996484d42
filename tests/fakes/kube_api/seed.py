"""``seed_honua``: the Honua Process Framework namespace as the runbooks describe it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.kube_api.fake import FakeKube
from tests.fakes.kube_api.resources import lookup
from tests.fakes.kube_api.store import ago

NAMESPACE = "honua-process-framework"
DEPLOYMENT = "honua-process-framework"
IMAGE = "honua/process-framework:1.4.2"
PREVIOUS_IMAGE = "honua/process-framework:1.4.1"
APP_LABELS = {"app": DEPLOYMENT}
APPLY = "kubectl-client-side-apply"  # the field manager of `kubectl apply`

# the runbooks' documented config layout (see the file's comments for where each key is)
APPSETTINGS_YAML = (Path(__file__).parent / "appsettings.yaml").read_text(encoding="utf-8")

APP_LOG = [
    "info: Honua.ProcessFramework[0] Starting Honua Process Framework 1.4.2",
    "info: Honua.ProcessFramework[0] Loaded configuration from /app/config/appsettings.yaml",
    "info: Honua.ProcessFramework.State[0] Redis connected: redis-0.redis:6379",
    "info: Honua.ProcessFramework[0] MaxConcurrentProcesses=20",
    "info: Microsoft.Hosting.Lifetime[14] Now listening on: http://[::]:8080",
]
REDIS_LOG = [
    "1:C 27 Nov 2026 03:00:00.000 * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
    "1:C 27 Nov 2026 03:00:00.000 * Redis version=7.2.4, bits=64, commit=00000000, modified=0, pid=1, just started",
    "1:M 27 Nov 2026 03:00:00.001 * Server initialized",
    "1:M 27 Nov 2026 03:00:00.002 * DB loaded from disk: 0.120 seconds",
    "1:M 27 Nov 2026 03:00:00.002 * Ready to accept connections tcp",
]


def _app_container(image: str) -> dict[str, Any]:
    return {
        "name": "process-framework",
        "image": image,
        "ports": [
            {"name": "http", "containerPort": 8080},
            {"name": "metrics", "containerPort": 9090},
        ],
        "env": [
            {"name": "ASPNETCORE_ENVIRONMENT", "value": "Production"},
            {"name": "Redis__ConnectionString", "value": "redis-0.redis:6379"},
        ],
        "resources": {
            "requests": {"cpu": "500m", "memory": "1Gi"},
            "limits": {"cpu": "2", "memory": "2Gi"},
        },
        "livenessProbe": {
            "httpGet": {"path": "/health/live", "port": 8080},
            "initialDelaySeconds": 30,
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": "/health/ready", "port": 8080},
            "initialDelaySeconds": 10,
            "periodSeconds": 5,
            "timeoutSeconds": 3,
            "failureThreshold": 3,
        },
        "volumeMounts": [{"name": "config", "mountPath": "/app/config", "readOnly": True}],
    }


def _deployment(image: str, cause: str) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": DEPLOYMENT,
            "namespace": NAMESPACE,
            "labels": {**APP_LABELS, "app.kubernetes.io/part-of": "honua"},
            "annotations": {"kubernetes.io/change-cause": cause},
        },
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": APP_LABELS},
            "template": {
                "metadata": {"labels": APP_LABELS},
                "spec": {
                    "serviceAccountName": "honua-process-framework",
                    "containers": [_app_container(image)],
                    "volumes": [{"name": "config", "configMap": {"name": "process-config"}}],
                },
            },
        },
    }


def _redis() -> dict[str, Any]:
    labels = {"app": "redis"}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "redis", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 1,
            "serviceName": "redis",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "redis",
                            "image": "redis:7",
                            "args": ["--appendonly", "yes", "--maxmemory", "1800mb"],
                            "ports": [{"name": "redis", "containerPort": 6379}],
                            "resources": {
                                "requests": {"cpu": "250m", "memory": "1Gi"},
                                "limits": {"cpu": "1", "memory": "2Gi"},
                            },
                            "livenessProbe": {"tcpSocket": {"port": 6379}, "periodSeconds": 10},
                            "readinessProbe": {
                                "exec": {"command": ["redis-cli", "ping"]},
                                "periodSeconds": 5,
                            },
                            "volumeMounts": [{"name": "redis-data", "mountPath": "/data"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "redis-data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "storageClassName": "standard",
                        "resources": {"requests": {"storage": "10Gi"}},
                    },
                }
            ],
        },
    }


def seed_honua(fake: FakeKube) -> FakeKube:
    """Namespace ``honua-process-framework`` with: deployment ``honua-process-framework``
    (3 replicas; revision 1 = 1.4.1 three days ago, revision 2 = 1.4.2 two hours ago),
    statefulset ``redis`` (pod ``redis-0``, PVC ``redis-data-redis-0`` 10Gi Bound),
    configmap ``process-config`` (``appsettings.yaml``, commented YAML)."""
    with fake._lock:
        fake.create(
            "namespaces",
            {"metadata": {"name": NAMESPACE, "labels": {"kubernetes.io/metadata.name": NAMESPACE}}},
        )
        # expandable, as managed clusters' default classes are (Runbook 3 expands the PVC)
        fake.create(
            "storageclasses",
            {
                "metadata": {"name": "standard"},
                "provisioner": "disk.csi.azure.com",
                "allowVolumeExpansion": True,
            },
            manager=APPLY,
        )
        fake.create(
            "configmaps",
            {
                "metadata": {
                    "name": "process-config",
                    "namespace": NAMESPACE,
                    "labels": APP_LABELS,
                },
                "data": {"appsettings.yaml": APPSETTINGS_YAML, "LOG_LEVEL": "Information"},
            },
            manager=APPLY,
        )
        fake.create("statefulsets", _redis(), NAMESPACE, manager=APPLY)
        fake.create(
            "deployments", _deployment(PREVIOUS_IMAGE, "deploy 1.4.1"), NAMESPACE, manager=APPLY
        )
        _backdate(fake, 3 * 86400)
        fake.replace(
            "deployments",
            NAMESPACE,
            DEPLOYMENT,
            _deployment(IMAGE, "deploy 1.4.2 (faster metadata step)"),
            manager=APPLY,
        )
        _backdate(fake, 2 * 3600, only_new=True)
        for pod in fake.store.items(lookup("pods"), NAMESPACE):
            name = pod["metadata"]["name"]
            fake.set_logs(NAMESPACE, name, REDIS_LOG if name.startswith("redis") else APP_LOG)
    return fake


def _backdate(fake: FakeKube, seconds: float, only_new: bool = False) -> None:
    """Make the objects the last step created look ``seconds`` old (for rollout ages)."""
    stamp = ago(seconds)
    for plural in (
        "replicasets",
        "pods",
        "statefulsets",
        "deployments",
        "persistentvolumeclaims",
        "configmaps",
    ):
        for obj in fake.store.items(lookup(plural), NAMESPACE):
            if only_new and plural in (
                "statefulsets",
                "deployments",
                "persistentvolumeclaims",
                "configmaps",
            ):
                continue
            if only_new and plural == "pods" and obj["metadata"]["name"].startswith("redis"):
                continue
            if only_new and obj["metadata"]["creationTimestamp"] < ago(60):
                continue
            obj["metadata"]["creationTimestamp"] = stamp
            for entry in obj["metadata"].get("managedFields") or []:
                entry["time"] = stamp
            for key in ("startTime",):
                if key in (obj.get("status") or {}):
                    obj["status"][key] = stamp
            for cs in (obj.get("status") or {}).get("containerStatuses") or []:
                if "running" in cs.get("state", {}):
                    cs["state"]["running"]["startedAt"] = stamp
    for event in fake.store.items(lookup("events"), NAMESPACE):
        if not only_new or event["lastTimestamp"] >= ago(60):
            event["firstTimestamp"] = event["lastTimestamp"] = stamp
            event["metadata"]["creationTimestamp"] = stamp


SEEDS: dict[str, Callable[[FakeKube], FakeKube]] = {"honua": seed_honua}
