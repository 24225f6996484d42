"""The Helm chart, rendered by the real Helm engine (helm-sdkpy) and checked as a
cluster would: every object against the Kubernetes schemas (kubernetes-validate,
strict, for the oldest supported and a recent release), the values against
values.schema.json, and the RBAC against permissions.yaml.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from bot.alerts.rulebook import Rulebook
from bot.app import load_builtins
from bot.config import load_settings
from bot.registry import actions, probes
from scripts import rbac_table
from tests.helpers import wait_for
from tests.integration.helm_support import CHART, HelmRenderError, find, helm_renderer

Render = Callable[..., list[dict[str, Any]]]
KUBE_VERSIONS = ["1.25.0", "1.34.0"]  # Chart.yaml's kubeVersion floor, and a recent one
READ_VERBS = {"get", "list", "watch"}
ROOT = Path(__file__).resolve().parents[2]
ALL_OFF = {
    "actions": {"kubernetes": {e["value"]: False for e in rbac_table.load_permissions()["actions"]}}
}
SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "all-actions-off": ALL_OFF,
    "ha": {"secrets": {"redisUrl": {"name": "honua-bot", "key": "redis-url"}}},
    "cluster-wide": {"rbac": {"clusterWide": True}},
    "monitoring": {
        "metrics": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
            "prometheusRule": {"enabled": True, "labels": {"release": "prom"}},
            "grafanaDashboard": {"enabled": True, "annotations": {"grafana_folder": "Honua"}},
        },
        "networkPolicy": {
            "enabled": True,
            "ingressFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
            "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}],
        },
    },
    "everything": {
        "secrets": {
            k: {"name": "s", "key": k} for k in ("webhookToken", "redisUrl", "slackBotToken")
        },
        "replicaCount": 3,
        "podAntiAffinity": "hard",
        "rules": {"files": {"90-extra.yaml": "name: extra\n"}},
        "extraEnv": [{"name": "HONUA_BOT_LOG_LEVEL", "value": "debug"}],
        "config": {"prometheus_url": "http://prometheus:9090", "slack_channel": "#ops"},
        "rbac": {"namespaces": ["honua-process-framework", "honua-staging"]},
        "imagePullSecrets": [{"name": "registry"}],
        "nodeSelector": {"kubernetes.io/os": "linux"},
    },
}


@pytest.fixture(scope="module")
def render() -> Iterator[Render]:
    with helm_renderer(namespace="honua-bot") as fn:
        yield fn


def one(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(objects, kind, name)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def rule_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for r in rules
        for group in r["apiGroups"]
        for resource in r["resources"]
        for verb in r["verbs"]
    }


def expected(entries: list[dict[str, Any]], key: str = "rules") -> set[tuple[str, str, str]]:
    """The oracle: permissions.yaml entries as (group, resource, verb) triples."""
    return {
        (rule["apiGroup"], resource, verb)
        for entry in entries
        for rule in entry.get(key, [])
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def container(objects: list[dict[str, Any]]) -> dict[str, Any]:
    return one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


# --- the chart as a cluster sees it ------------------------------------------------
def test_lint_reports_no_warning() -> None:
    import helm_sdkpy

    result = asyncio.run(helm_sdkpy.Lint(helm_sdkpy.Configuration()).run(str(CHART)))
    assert result["Errors"] is None
    # severities: 1 info (e.g. "icon is recommended"), 2 warning, 3 error
    assert [m for m in result["Messages"] if m["Severity"] > 1] == []


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_rendered_object_is_valid_kubernetes(render: Render, scenario: str) -> None:
    objects = render(SCENARIOS[scenario])
    assert {"Deployment", "Service", "ServiceAccount", "ConfigMap"} <= {o["kind"] for o in objects}
    for obj in objects:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked in test_service_monitor_scrapes_the_service
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(
                    f"{obj['kind']} {obj['metadata']['name']} (Kubernetes {version}): {exc}"
                )


# --- RBAC: least privilege, derived from permissions.yaml -------------------------------
def test_default_role_has_exactly_the_verbs_of_the_probes_and_the_default_actions(
    render: Render,
) -> None:
    role = one(render(), "Role")
    assert role["metadata"]["namespace"] == "honua-process-framework"
    assert rule_set(role["rules"]) == {
        ("", "configmaps", "get"), ("", "configmaps", "list"), ("", "configmaps", "update"),
        ("", "events", "list"),
        ("", "persistentvolumeclaims", "get"), ("", "persistentvolumeclaims", "patch"),
        ("", "pods", "delete"), ("", "pods", "get"), ("", "pods", "list"),
        ("", "pods/log", "get"),
        ("apps", "deployments", "get"), ("apps", "deployments", "patch"),
        ("apps", "deployments/scale", "get"), ("apps", "deployments/scale", "patch"),
        ("apps", "replicasets", "get"), ("apps", "replicasets", "list"),
        ("apps", "statefulsets", "get"), ("apps", "statefulsets", "patch"),
        ("apps", "statefulsets/scale", "get"), ("apps", "statefulsets/scale", "patch"),
    }  # fmt: skip
    # one rule per group and resource, verbs sorted: a reviewer reads it at a glance
    assert all(len(r["apiGroups"]) == len(r["resources"]) == 1 for r in role["rules"])
    assert all(r["verbs"] == sorted(set(r["verbs"])) for r in role["rules"])


def test_with_every_action_off_only_read_verbs_remain(render: Render) -> None:
    objects = render(ALL_OFF)
    role = one(objects, "Role")
    assert rule_set(role["rules"]) == expected(rbac_table.load_permissions()["probes"])
    assert {verb for _, _, verb in rule_set(role["rules"])} <= READ_VERBS
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")


@pytest.mark.parametrize("entry", rbac_table.load_permissions()["actions"], ids=lambda e: e["name"])
def test_each_action_adds_exactly_its_own_permissions(render: Render, entry: dict) -> None:
    permissions = rbac_table.load_permissions()
    values = {"actions": {"kubernetes": {**ALL_OFF["actions"]["kubernetes"], entry["value"]: True}}}
    objects = render(values)
    role = one(objects, "Role")
    assert rule_set(role["rules"]) == expected([*permissions["probes"], entry])
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")


CLUSTER_SCOPED_KINDS = {
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "Namespace",
    "StorageClass",
    "PersistentVolume",
    "PriorityClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
}


def test_default_install_needs_only_namespaced_permissions(render: Render) -> None:
    """A namespace admin can install the defaults: every object is namespaced, and
    the Role grants nothing a namespace admin lacks (no cluster-scoped resource)."""
    objects = render()
    kinds = {o["kind"] for o in objects}
    assert not kinds & CLUSTER_SCOPED_KINDS, kinds & CLUSTER_SCOPED_KINDS
    for obj in objects:
        assert obj["metadata"].get("namespace"), f"{obj['kind']} {obj['metadata']['name']}"
    cluster_scoped_resources = {"storageclasses", "nodes", "namespaces", "persistentvolumes"}
    for role in find(objects, "Role"):
        assert not {res for _, res, _ in rule_set(role["rules"])} & cluster_scoped_resources


def test_cluster_wide_permissions_only_behind_their_value(render: Render) -> None:
    objects = render({"rbac": {"clusterWide": True}})
    assert not find(objects, "Role") and not find(objects, "RoleBinding")
    cluster_role = one(objects, "ClusterRole")
    assert rule_set(cluster_role["rules"]) == rule_set(one(render(), "Role")["rules"])
    assert cluster_role["metadata"]["name"] == "honua-bot-honua-bot"  # namespace-prefixed
    binding = one(objects, "ClusterRoleBinding")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": cluster_role["metadata"]["name"],
    }
    assert binding["subjects"][0]["namespace"] == "honua-bot"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_no_wildcard_anywhere(render: Render, scenario: str) -> None:
    for obj in render(SCENARIOS[scenario]):
        for rule in obj.get("rules", []) if obj["kind"] in ("Role", "ClusterRole") else []:
            for word in rule["apiGroups"] + rule["resources"] + rule["verbs"]:
                assert "*" not in word, f"{obj['kind']}: {rule}"


def test_no_permissions_at_all_means_no_role_and_no_token(render: Render) -> None:
    objects = render({**ALL_OFF, "probes": {"kubernetes": False}})
    assert not find(objects, "Role") and not find(objects, "RoleBinding")
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False


def test_a_role_in_each_target_namespace_bound_to_the_release_account(render: Render) -> None:
    objects = render({"rbac": {"namespaces": ["ns-a", "ns-b"]}})
    assert sorted(r["metadata"]["namespace"] for r in find(objects, "Role")) == ["ns-a", "ns-b"]
    account = one(objects, "ServiceAccount")["metadata"]
    for binding in find(objects, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account["name"], "namespace": "honua-bot"}
        ]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == account["name"]
    assert pod["automountServiceAccountToken"] is True
    default = render({"rbac": {"namespaces": []}})
    assert [r["metadata"]["namespace"] for r in find(default, "Role")] == ["honua-bot"]


# --- replicas, disruption, shutdown ----------------------------------------------------
def test_one_replica_without_redis_and_no_disruption_budget(render: Render) -> None:
    objects = render()
    assert one(objects, "Deployment")["spec"]["replicas"] == 1
    assert not find(objects, "PodDisruptionBudget")


def test_two_replicas_spread_over_nodes_with_a_budget_when_redis_is_given(render: Render) -> None:
    objects = render(SCENARIOS["ha"])
    deployment = one(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (term,) = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"].items() <= labels.items()
    env = {e["name"]: e for e in container(objects)["env"]}
    assert env["HONUA_BOT_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "honua-bot",
        "key": "redis-url",
    }


def test_several_replicas_without_redis_are_refused(render: Render) -> None:
    with pytest.raises(HelmRenderError, match=r"replicaCount: 3 replicas need secrets\.redisUrl"):
        render({"replicaCount": 3})


def test_sigterm_drains_within_the_grace_period(render: Render, tmp_path: Path) -> None:
    objects = render()
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 35
    assert container(objects)["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    settings = rendered_settings(objects, tmp_path)
    assert settings.queue.shutdown_grace_seconds == 35 - 5 - 10


def test_a_drain_longer_than_the_grace_period_is_refused(render: Render) -> None:
    with pytest.raises(HelmRenderError, match=r"config\.shutdown_grace_seconds: 60 does not fit"):
        render({"config": {"shutdown_grace_seconds": 60}})
    with pytest.raises(HelmRenderError, match=r"terminationGracePeriodSeconds: 12 is too short"):
        render({"terminationGracePeriodSeconds": 12})


# --- the pod -------------------------------------------------------------------------
def test_probes_port_and_security(render: Render) -> None:
    objects = render()
    c = container(objects)
    assert c["args"] == ["--config", "/etc/honua-bot/config.yaml", "serve"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env == {
        "HONUA_BOT_HOST": "0.0.0.0",
        "HONUA_BOT_PORT": "8080",
        "HONUA_BOT_RULES": "/app/rules",
    }
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert c["resources"]["limits"]["memory"] == "512Mi"
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the image's user
    service = one(objects, "Service")
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}
    ]


def test_every_secret_reference_becomes_the_bots_environment_variable(render: Render) -> None:
    from scripts import chart_schema

    names = chart_schema.secret_settings(chart_schema.settings_schema())
    refs = {chart_schema.camel(n): {"name": "creds", "key": n} for n in names}
    env = {e["name"]: e for e in container(render({"secrets": refs}))["env"]}
    for name in names:
        assert env[f"HONUA_BOT_{name.upper()}"]["valueFrom"]["secretKeyRef"] == {
            "name": "creds",
            "key": name,
        }


def rendered_settings(objects: list[dict[str, Any]], tmp_path: Path) -> Any:
    """The bot's own settings loader reads the config file the chart mounts."""
    config_map = one(objects, "ConfigMap", "honua-bot-config")
    path = tmp_path / "config.yaml"
    path.write_text(config_map["data"]["config.yaml"])
    return load_settings(path)


def test_config_values_reach_the_bot_and_changes_roll_the_pods(
    render: Render, tmp_path: Path
) -> None:
    config = {
        "prometheus_url": "http://prometheus:9090",
        "slack_channel": "#ops",
        "slack_channel_by_severity": {"P1": "#paging"},
        "slack_allowed_groups": ["sre"],
        "workers": 8,
    }
    objects = render({"config": config})
    settings = rendered_settings(objects, tmp_path)
    assert settings.targets.prometheus_url == "http://prometheus:9090"
    assert settings.slack.channel_by_severity == {"P1": "#paging"}
    assert settings.slack.allowed_groups == ["sre"]
    assert settings.queue.workers == 8
    checksum = "checksum/config"
    before = one(render(), "Deployment")["spec"]["template"]["metadata"]["annotations"][checksum]
    after = one(objects, "Deployment")["spec"]["template"]["metadata"]["annotations"][checksum]
    assert before != after


# --- values are checked --------------------------------------------------------------
@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"replicas": 2}, "replicas"),
        ({"config": {"prometheus_ulr": "http://x"}}, "prometheus_ulr"),
        ({"config": {"redis_url": "redis://x"}}, "redis_url"),  # secrets go under `secrets`
        ({"config": {"workers": 0}}, "workers"),
        ({"actions": {"kubernetes": {"drainNode": True}}}, "drainNode"),
        ({"secrets": {"slackBotToken": {"name": "s", "key": ""}}}, "key"),
        ({"rules": {"files": {"notes.txt": "x"}}}, "notes.txt"),
        ({"podAntiAffinity": "always"}, "podAntiAffinity"),
    ],
)
def test_bad_values_fail_naming_the_value(render: Render, values: dict, named: str) -> None:
    with pytest.raises(HelmRenderError, match="values don't meet the specifications") as caught:
        render(values)
    assert named in str(caught.value)


# --- rules ---------------------------------------------------------------------------
def mounts(objects: list[dict[str, Any]]) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container(objects)["volumeMounts"]}


def test_bundled_rules_are_mounted_over_the_images(render: Render) -> None:
    objects = render({"rules": {"files": {"90-extra.yaml": "name: extra\n"}}})
    data = one(objects, "ConfigMap", "honua-bot-rules")["data"]
    for path in (ROOT / "rules").glob("*.yaml"):
        assert data[path.name] == path.read_text()
    assert data["90-extra.yaml"] == "name: extra\n"
    assert mounts(objects)["/app/rules"] == "rules"


def test_an_existing_rules_config_map_replaces_the_charts(render: Render) -> None:
    objects = render({"rules": {"existingConfigMap": "my-rules"}})
    assert not find(objects, "ConfigMap", "honua-bot-rules")
    volumes = one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "rules", "configMap": {"name": "my-rules"}} in volumes


def test_without_chart_rules_the_images_rules_are_used(render: Render) -> None:
    objects = render({"rules": {"bundled": False}})
    assert not find(objects, "ConfigMap", "honua-bot-rules")
    assert "/app/rules" not in mounts(objects)


EXTRA_RULE = """\
name: chart-extra
runbook: "Runbook 2: Process Timeout Recovery"
severity: P3
match:
  alertname: ChartExtraAlert
probes:
  stuck:
    processes.list: {status: Running, older_than: 30m}
diagnosis:
  - scenario: stuck-processes
    when: 'stuck.ok && stuck.count > 0'
    summary: "{{ stuck.count }} processes have been running for over 30 minutes"
"""


def project_config_map(mount: Path, data: dict[str, str], version: int) -> None:
    """Write ``data`` the way the kubelet updates a ConfigMap volume: files in a
    fresh hidden directory, then one atomic rename of the ``..data`` symlink;
    the visible names are symlinks through ``..data``."""
    target = mount / f"..2026_01_01_00_00_0{version}.000"
    target.mkdir()
    for name, text in data.items():
        (target / name).write_text(text)
    (mount / "..data_tmp").symlink_to(target.name)
    os.replace(mount / "..data_tmp", mount / "..data")
    for name in data:
        if not (mount / name).is_symlink():
            (mount / name).symlink_to(Path("..data") / name)
    for old in mount.glob("..2026_*"):
        if old != target:
            shutil.rmtree(old)


def test_a_rules_upgrade_reaches_the_running_bot_without_a_restart(
    render: Render, tmp_path: Path
) -> None:
    def rules_data(values: dict[str, Any]) -> dict[str, str]:
        return one(render(values), "ConfigMap", "honua-bot-rules")["data"]

    installed = rules_data({})
    # `helm upgrade --set-file rules.files.90-extra\.yaml=…`
    upgraded = rules_data({"rules": {"files": {"90-extra.yaml": EXTRA_RULE}}})
    load_builtins()
    mount = tmp_path / "rules"
    mount.mkdir()
    project_config_map(mount, installed, 1)
    rulebook = Rulebook(mount, probes, actions)
    assert rulebook.reload()
    before = {r.name for r in rulebook().rules}
    reloads = 0
    reload = rulebook.reload_async  # what the watcher calls (off the event loop)

    async def counted() -> bool:
        nonlocal reloads
        reloads += 1
        return await reload()

    rulebook.reload_async = counted  # type: ignore[method-assign]

    async def scenario() -> set[str]:
        stop = asyncio.Event()
        watcher = asyncio.create_task(rulebook.watch(stop))
        try:
            # the watcher is live once a change in the mount makes it reload
            # (a file the loader ignores: not YAML)
            def poke() -> bool:
                (mount / "watcher-check").write_text(str(reloads))
                return reloads > 0

            await wait_for(poke, timeout=15, interval=0.2)
            project_config_map(mount, upgraded, 2)  # the kubelet's atomic swap
            return await wait_for(
                lambda: {r.name for r in rulebook().rules} - before, timeout=15, interval=0.1
            )
        finally:
            stop.set()
            await watcher

    assert asyncio.run(scenario()) == {"chart-extra"}
    assert rulebook.last_error is None


# --- optional objects ------------------------------------------------------------------
def test_service_monitor_scrapes_the_service(render: Render) -> None:
    objects = render(SCENARIOS["monitoring"])
    monitor = one(objects, "ServiceMonitor")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"] == [
        {"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]
    service_labels = one(objects, "Service")["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service_labels.items()
    assert not find(render(), "ServiceMonitor")


def test_network_policy_admits_the_given_peers_to_the_bots_port(render: Render) -> None:
    objects = render(SCENARIOS["monitoring"])
    policy = one(objects, "NetworkPolicy")
    pod_labels = one(objects, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    (ingress,) = policy["spec"]["ingress"]
    assert ingress["ports"] == [{"port": "http", "protocol": "TCP"}]
    assert ingress["from"] == [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]
    assert not find(render(), "NetworkPolicy")
