"""The chart's monitoring of the bot itself: the PrometheusRule carries the alerts
of helm/honua-bot/monitoring/alerts.yaml, which pass the real ``promtool check
rules`` and ``promtool test rules`` (a unit test per alert); the Grafana
dashboard is a ConfigMap the sidecar picks up; every metric they use is one
the bot exposes. All three are off by default."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.app import Service
from bot.config import Settings
from tests.integration.helm_support import CHART, find, helm_renderer

Render = Callable[..., list[dict[str, Any]]]
MONITORING = CHART / "monitoring"
ALL_ON = {
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True, "labels": {"release": "prom"}},
        "grafanaDashboard": {"enabled": True},
    }
}


@pytest.fixture(scope="module")
def render() -> Iterator[Render]:
    with helm_renderer(namespace="honua-bot") as fn:
        yield fn


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is not installed (apt-get install prometheus)"
    return found


SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_count", "_sum"]}


def exposed_metrics() -> set[str]:
    """Every sample name the bot's /metrics can serve (counters with _total,
    histograms with _bucket/_count/_sum), labelled or not."""
    families = Service(Settings()).metrics.registry.collect()
    return {f.name + suffix for f in families for suffix in SUFFIXES[f.type]}


def metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\bhonua_bot_[a-z_]+", expr))


def test_off_by_default(render: Render) -> None:
    objects = render()
    assert not find(objects, "ServiceMonitor") and not find(objects, "PrometheusRule")
    assert not [
        c for c in find(objects, "ConfigMap") if "grafana_dashboard" in c["metadata"]["labels"]
    ]


def test_prometheus_rule_carries_the_checked_alerts_and_passes_promtool(
    render: Render, tmp_path: Path
) -> None:
    (rule,) = find(render(ALL_ON), "PrometheusRule")
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["namespace"] == "honua-bot"
    assert rule["metadata"]["labels"]["release"] == "prom"
    assert rule["spec"] == yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    checked = subprocess.run(
        [promtool(), "check", "rules", str(rendered)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    alerts = {r["alert"] for g in rule["spec"]["groups"] for r in g["rules"]}
    assert alerts == {
        "HonuaBotDeadLetters",
        "HonuaBotDegraded",
        "HonuaBotQueueBacklog",
        "HonuaBotRuleReloadFailing",
        "HonuaBotSlackFailing",
        "HonuaBotBreakerOpen",
    }


def test_every_alert_has_a_passing_promtool_unit_test() -> None:
    tests = yaml.safe_load((MONITORING / "alerts.test.yaml").read_text())["tests"]
    tested = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    assert tested == {r["alert"] for g in rules["groups"] for r in g["rules"]}
    result = subprocess.run(
        [promtool(), "test", "rules", "alerts.test.yaml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_and_dashboard_use_only_metrics_the_bot_exposes() -> None:
    exposed = exposed_metrics()
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    used = {n for g in rules["groups"] for r in g["rules"] for n in metric_names(r["expr"])}
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used |= metric_names(target["expr"])
    assert used and not used - exposed, f"not exposed by bot/metrics.py: {sorted(used - exposed)}"


def test_dashboard_is_a_configmap_the_grafana_sidecar_loads(render: Render) -> None:
    objects = render(
        {"metrics": {"grafanaDashboard": {"enabled": True, "namespace": "monitoring"}}}
    )
    (cm,) = [c for c in find(objects, "ConfigMap") if c["metadata"]["name"].endswith("-dashboard")]
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert cm["metadata"]["namespace"] == "monitoring"
    (body,) = cm["data"].values()
    dashboard = json.loads(body)
    assert dashboard["uid"] == "honua-bot" and dashboard["panels"]
    assert dashboard == json.loads((MONITORING / "dashboard.json").read_text())
