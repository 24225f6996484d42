"""The chart's derived parts cannot drift from their sources.

permissions.yaml is the one source of the Roles, the schema's
``actions.kubernetes`` and the RBAC table in docs/helm.md; bot/config.py is
the source of the schema's ``config`` and ``secrets``. Rendering is tested in
tests/integration/test_helm_chart.py with the real Helm engine.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from bot.app import load_builtins
from bot.registry import actions, probes
from scripts import chart_schema, rbac_table

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "honua-bot"


def load_yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


@pytest.fixture(scope="module")
def permissions() -> dict[str, Any]:
    return rbac_table.load_permissions()


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return load_yaml(CHART / "values.yaml")


def test_values_schema_is_generated_from_the_current_sources() -> None:
    text = chart_schema.SCHEMA_PATH.read_text()
    assert text == chart_schema.render(chart_schema.generate(json.loads(text))), (
        "values.schema.json is stale: run python scripts/chart_schema.py"
    )


def test_rbac_table_in_the_install_doc_is_generated_from_permissions(
    permissions: dict[str, Any],
) -> None:
    doc = rbac_table.DOC_PATH.read_text()
    assert rbac_table.embedded(doc) == rbac_table.table(permissions), (
        "docs/helm.md's RBAC table is stale: run python scripts/rbac_table.py --write"
    )


def test_every_kubernetes_probe_and_action_of_the_bot_has_permissions(
    permissions: dict[str, Any],
) -> None:
    load_builtins()
    listed = {e["name"] for e in permissions["probes"] + permissions["actions"]}
    registered = {e.name for e in [*probes, *actions] if e.name.startswith("kubernetes.")}
    missing = registered - listed
    assert not missing, f"add to helm/honua-bot/permissions.yaml: {sorted(missing)}"


def test_permissions_are_explicit(permissions: dict[str, Any]) -> None:
    probe_names = {e["name"] for e in permissions["probes"]}
    for entry in permissions["probes"] + permissions["actions"]:
        # namespaced only: a namespace admin can grant every permission of the chart
        assert set(entry) <= {"name", "value", "note", "rules"}, entry["name"]
        assert entry.get("rules"), entry["name"]
        for rule in entry["rules"]:
            assert set(rule) == {"apiGroup", "resources", "verbs"}, entry["name"]
            assert "*" not in rule["apiGroup"], entry["name"]
            for word in rule["resources"] + rule["verbs"]:
                assert "*" not in word, f"{entry['name']}: wildcard {word!r}"
        if entry["name"] in probe_names:
            verbs = {v for rule in entry["rules"] for v in rule["verbs"]}
            assert verbs <= {"get", "list", "watch"}, f"probe {entry['name']} writes"


def test_values_turn_each_action_on_or_off(
    permissions: dict[str, Any], values: dict[str, Any]
) -> None:
    switches = values["actions"]["kubernetes"]
    assert list(switches) == [e["value"] for e in permissions["actions"]]
    assert all(isinstance(v, bool) for v in switches.values())


def test_values_list_every_secret_setting(values: dict[str, Any]) -> None:
    secrets = chart_schema.secret_settings(chart_schema.settings_schema())
    assert sorted(values["secrets"]) == sorted(chart_schema.camel(s) for s in secrets)
    assert all(ref["name"] == "" for ref in values["secrets"].values())


def test_default_rules_only_use_actions_the_defaults_allow(
    permissions: dict[str, Any], values: dict[str, Any]
) -> None:
    switch_of = {e["name"]: e["value"] for e in permissions["actions"]}
    enabled = values["actions"]["kubernetes"]
    for path in sorted((ROOT / "rules").glob("*.y*ml")):
        rule = load_yaml(path)
        for action_name, spec in (rule.get("actions") or {}).items():
            kinds = [k for k in spec if k.startswith("kubernetes.")]
            for kind in kinds:
                assert enabled[switch_of[kind]], f"{path.name}: {action_name} uses {kind}"
        if any(k.startswith("kubernetes.") for p in (rule.get("probes") or {}).values() for k in p):
            assert values["probes"]["kubernetes"], path.name


def test_chart_ships_the_repositorys_rules() -> None:
    bundled = sorted(p.name for p in (CHART / "rules").glob("*.y*ml"))
    assert bundled == sorted(p.name for p in (ROOT / "rules").glob("*.y*ml"))
    assert (CHART / "rules").resolve() == (ROOT / "rules").resolve()


def test_chart_app_version_is_the_project_version() -> None:
    chart = load_yaml(CHART / "Chart.yaml")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]


def test_the_install_doc_lists_every_secret_value(values: dict[str, Any]) -> None:
    doc = rbac_table.DOC_PATH.read_text()
    for key, ref in values["secrets"].items():
        assert f"| `secrets.{key}` |" in doc, f"docs/helm.md: add secrets.{key}"
        assert f"| `{ref['key']}` |" in doc, f"docs/helm.md: secrets.{key}'s key {ref['key']}"
