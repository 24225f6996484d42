"""Render the Helm chart with the real Helm engine (helm-sdkpy) and return the objects.

helm-sdkpy exposes no ``helm template``: it installs. So the install runs
against a small Kubernetes API stand-in on loopback that answers discovery for
the kinds the chart uses, stores nothing and accepts every create. Helm's whole
install path runs unchanged — values merged over values.yaml, validated against
values.schema.json, templates rendered, every object mapped to an API resource
and created — and the release it returns carries the rendered manifest.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "honua-bot"
KUBE_VERSION = "1.34.0"

# discovery: (group/version, plural, kind, namespaced)
_RESOURCES = [
    ("v1", "configmaps", "ConfigMap", True),
    ("v1", "secrets", "Secret", True),
    ("v1", "services", "Service", True),
    ("v1", "serviceaccounts", "ServiceAccount", True),
    ("apps/v1", "deployments", "Deployment", True),
    ("policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", True),
    ("rbac.authorization.k8s.io/v1", "roles", "Role", True),
    ("rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", True),
    ("rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", False),
    ("rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ("networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", True),
    # the Prometheus Operator's CRD, as in a cluster that has it
    ("monitoring.coreos.com/v1", "servicemonitors", "ServiceMonitor", True),
    ("monitoring.coreos.com/v1", "prometheusrules", "PrometheusRule", True),
]
_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        major, minor, _ = KUBE_VERSION.split(".")
        return {"major": major, "minor": minor, "gitVersion": f"v{KUBE_VERSION}"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    if path == "/apis":
        groups: dict[str, list[str]] = {}
        for gv, *_ in _RESOURCES:
            if "/" in gv and gv not in groups.get(gv.split("/")[0], []):
                groups.setdefault(gv.split("/")[0], []).append(gv)
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {
                    "name": name,
                    "versions": [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in gvs],
                    "preferredVersion": {"groupVersion": gvs[0], "version": gvs[0].split("/")[1]},
                }
                for name, gvs in groups.items()
            ],
        }
    gv = path.removeprefix("/api/") if path.startswith("/api/") else path.removeprefix("/apis/")
    listed = [
        {"name": plural, "namespaced": namespaced, "kind": kind, "verbs": _VERBS}
        for group_version, plural, kind, namespaced in _RESOURCES
        if group_version == gv
    ]
    if listed:
        return {"kind": "APIResourceList", "groupVersion": gv, "resources": listed}
    return None


class _Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        found = _discovery(path)
        if found is not None:
            self._send(200, found)
        elif path.endswith("/secrets"):  # Helm's release storage: no releases yet
            self._send(200, {"kind": "SecretList", "apiVersion": "v1", "items": []})
        else:
            self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "reason": "NotFound", "code": 404})  # fmt: skip

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Type", "").startswith("application/json"):
            self._send(201, json.loads(body))
        else:  # the release record, sent as protobuf; Helm only needs a Secret back
            self._send(201, {"kind": "Secret", "apiVersion": "v1",
                             "metadata": {"name": "release", "resourceVersion": "1"}})  # fmt: skip

    do_PUT = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HelmRenderError(Exception):
    """Helm refused the values or the chart; the message is Helm's."""


@contextmanager
def helm_renderer(
    namespace: str = "honua-bot",
) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    """Yield ``render(values) -> list of objects``, backed by one stand-in API server."""
    try:
        import helm_sdkpy
    except ImportError as exc:  # it declares Python >= 3.12 but runs on 3.11
        raise RuntimeError(
            "helm-sdkpy is not installed: pip install --ignore-requires-python helm-sdkpy"
        ) from exc

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    # helm-sdkpy takes kubeconfig text when it looks like YAML (else a file path)
    kubeconfig = f"""apiVersion: v1
kind: Config
clusters: [{{name: fake, cluster: {{server: "http://{host!s}:{port}"}}}}]
users: [{{name: fake, user: {{token: fake}}}}]
contexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]
current-context: fake
"""

    def render(values: dict[str, Any] | None = None, release: str = "honua-bot") -> list[dict]:
        # a Configuration per render: each holds a Kubernetes client whose
        # client-side rate limiter would otherwise slow every install after the fifth
        config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=kubeconfig)
        install = helm_sdkpy.Install(config)
        try:
            result = asyncio.run(install.run(release, str(CHART), values=values, wait=False))
        except helm_sdkpy.HelmError as exc:
            raise HelmRenderError(str(exc)) from exc
        # libyaml: a pure-Python parser would take most of the test time
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return [doc for doc in yaml.load_all(result["manifest"], Loader=loader) if doc]

    try:
        yield render
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
