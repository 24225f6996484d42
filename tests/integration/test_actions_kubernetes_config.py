"""ConfigMap actions (patch_config, swap_llm_provider, restore_config) and the
kubernetes.config_history probe, through the real kubernetes_asyncio client against
the Kubernetes API fake."""

from __future__ import annotations

import difflib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

import bot.probes  # noqa: F401  (registers the probes)
from bot.actions.base import Refused
from bot.alerts.diagnose import run_probe
from bot.configmaps import snapshots as config_snapshots
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.fakes.kube_api.seed import APPSETTINGS_YAML
from tests.integration.kube_actions import (
    APP,
    NS,
    Kube,
    execute,
    kube_fake,
    plan,
    plan_then_execute,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
HALVE = {
    "configmap": "process-config",
    "key": "ProcessFramework.MaxConcurrentProcesses",
    "value": "{{ [current // 2, 1] | max }}",
    "restart": f"deployment/{APP}",
}


@pytest.fixture
async def kube() -> AsyncIterator[Kube]:
    async with kube_fake() as k:
        yield k


def data(kube: Kube, name: str = "process-config") -> dict[str, str]:
    return dict(kube.get("configmaps", name)["data"])


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


async def history(kube: Kube, **params: Any) -> dict[str, Any]:
    call = ProbeCall("h", "kubernetes.config_history", {"configmap": "process-config", **params})
    finding = await run_probe(call, probes, ProbeContext(kube.adapters, store=kube.store), 5, {})
    assert finding.ok, finding.error
    return dict(finding.data)


async def test_halving_concurrency_keeps_comments_and_other_keys_then_restarts(kube: Kube) -> None:
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.patch_config", HALVE)
    config_change, restart = the_plan.changes
    assert (config_change.target, config_change.field) == (
        f"configmap/{NS}/process-config",
        "appsettings.yaml: ProcessFramework.MaxConcurrentProcesses",
    )
    assert (config_change.before, config_change.after) == (20, 10)
    assert restart.target == f"deployment/{NS}/{APP}"
    assert outcome.ok and outcome.changes == the_plan.changes, outcome.message
    assert outcome.message == (
        f"updated configmap {NS}/process-config (appsettings.yaml), "
        f"then started a rollout restart of deployment/{APP}"
    )
    after = data(kube)
    assert changed_lines(APPSETTINGS_YAML, after["appsettings.yaml"]) == [
        "-  MaxConcurrentProcesses: 20",
        "+  MaxConcurrentProcesses: 10",
    ]
    assert after["LOG_LEVEL"] == "Information"
    deployment = kube.get("deployments", APP)
    assert deployment["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] == restart.after
    # the replaced data is kept as last known good
    saved = json.loads(
        await kube.store.get_value(config_snapshots.lkg_key(NS, "process-config")) or "{}"
    )
    assert saved["data"]["appsettings.yaml"] == APPSETTINGS_YAML
    # the undo sets the old value back
    assert outcome.undo is not None and outcome.undo.params["value"] == "20"
    _, back = await plan_then_execute(kube, outcome.undo.type, outcome.undo.params)
    assert back.ok and data(kube)["appsettings.yaml"] == APPSETTINGS_YAML


async def test_json_entry_stays_json_with_its_indentation(kube: Kube) -> None:
    text = json.dumps(
        {"Database": {"MaxPoolSize": 50, "ConnectionString": "Host=postgres"}, "Debug": False},
        indent=4,
    )
    kube.fake.create(
        "configmaps",
        {"metadata": {"name": "json-config"}, "data": {"appsettings.json": text, "other": "x"}},
        NS,
    )
    params = {
        "configmap": "json-config",
        "entry": "appsettings.json",
        "key": "Database.MaxPoolSize",
        "value": "20",
    }
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.patch_config", params)
    assert outcome.ok and outcome.changes == the_plan.changes
    after = data(kube, "json-config")
    assert changed_lines(text, after["appsettings.json"]) == [
        '-        "MaxPoolSize": 50,',
        '+        "MaxPoolSize": 20,',
    ]
    assert after["other"] == "x"
    flag = {**params, "key": "Debug", "value": "true"}
    _, outcome = await plan_then_execute(kube, "kubernetes.patch_config", flag)
    assert json.loads(data(kube, "json-config")["appsettings.json"])["Debug"] is True


async def test_a_missing_key_names_the_keys_that_exist(kube: Kube) -> None:
    params = {**HALVE, "key": "ProcessFramework.MaxProcesses", "value": "5"}
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.patch_config", params, kube.ctx())
    assert exc.value.gate == "input"
    assert exc.value.message == (
        f"configmap {NS}/process-config, entry appsettings.yaml: ProcessFramework.MaxProcesses "
        "does not exist; keys at ProcessFramework: MaxConcurrentProcesses, ProcessTimeouts"
    )
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.patch_config", {**HALVE, "value": "many"}, kube.ctx())
    assert "holds a number (20)" in exc.value.message


async def test_changed_since_the_preview_is_a_conflict_and_nothing_is_kept(kube: Kube) -> None:
    ctx = kube.ctx()
    the_plan = await plan("kubernetes.patch_config", HALVE, ctx)
    kube.fake.patch("configmaps", NS, "process-config", {"data": {"LOG_LEVEL": "Debug"}})
    with pytest.raises(Refused) as exc:
        await execute("kubernetes.patch_config", HALVE, ctx, the_plan)
    assert (exc.value.gate, exc.value.message) == (
        "conflict",
        "process-config changed since the preview; re-run",
    )
    assert data(kube)["appsettings.yaml"] == APPSETTINGS_YAML
    assert await kube.store.get_value(config_snapshots.lkg_key(NS, "process-config")) is None
    assert RESTARTED_AT not in (
        kube.get("deployments", APP)["spec"]["template"]["metadata"].get("annotations") or {}
    )


async def test_rbac_denial_is_a_clear_refusal(kube: Kube) -> None:
    kube.fake.deny("update", "configmaps", NS)
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.patch_config", HALVE, kube.ctx())
    assert exc.value.gate == "forbidden"
    assert exc.value.message.startswith(
        f"forbidden: cannot update configmap process-config in namespace {NS} (RBAC)"
    )


async def test_swap_llm_provider_in_one_edit(kube: Kube) -> None:
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.swap_llm_provider", {})
    assert [(c.field, c.before, c.after) for c in the_plan.changes] == [
        ("appsettings.yaml: LlmProvider.Provider", "Azure", "OpenAI"),
        ("appsettings.yaml: LlmProvider.FallbackProvider", "OpenAI", "Azure"),
    ]
    assert outcome.ok and outcome.changes == the_plan.changes
    assert changed_lines(APPSETTINGS_YAML, data(kube)["appsettings.yaml"]) == [
        "-  Provider: Azure            # primary",
        "-  FallbackProvider: OpenAI   # used when the primary fails or throttles",
        "+  Provider: OpenAI           # primary",
        "+  FallbackProvider: Azure    # used when the primary fails or throttles",
    ]
    assert outcome.undo is not None and outcome.undo.type == "kubernetes.swap_llm_provider"


async def test_swap_refuses_a_disabled_fallback(kube: Kube) -> None:
    # the runbook's OpenAI section has no Enabled switch: Runbook 4 Scenario C adds one
    disable = {
        "configmap": "process-config",
        "edits": [{"key": "LlmProvider.OpenAI.Enabled", "value": "false", "add": True}],
    }
    await plan_then_execute(kube, "kubernetes.set_config", disable)
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.swap_llm_provider", {}, kube.ctx())
    assert exc.value.gate == "input" and "LlmProvider.OpenAI.Enabled is false" in exc.value.message


async def test_config_history_names_the_manager_and_changed_keys_and_restore_goes_back(
    kube: Kube,
) -> None:
    first = await history(kube)
    assert first["last_manager"] == "kubectl-client-side-apply"
    assert first["last_change_age_seconds"] > 2 * 86400  # seeded three days ago
    assert first["previous_available"] is False and first["changed_keys"] == []
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.restore_config", {"configmap": "process-config"}, kube.ctx())
    assert (
        exc.value.gate == "input" and "no earlier version of appsettings.yaml" in exc.value.message
    )
    assert config_snapshots.snapshot_key(NS, "process-config") in exc.value.message

    # someone edits the ConfigMap by hand: a bad value
    bad = APPSETTINGS_YAML.replace("MaxPoolSize: 100", "MaxPoolSize: 5000")
    kube.fake.patch(
        "configmaps",
        NS,
        "process-config",
        {"data": {"appsettings.yaml": bad}},
        manager="kubectl-edit",
    )
    seen = await history(kube)
    assert seen["last_manager"] == "kubectl-edit" and seen["last_change_age_seconds"] < 60
    assert seen["changed_keys"] == ["Database.MaxPoolSize"] and seen["previous_available"] is True

    params = {"configmap": "process-config", "restart": f"deployment/{APP}"}
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.restore_config", params)
    assert [(c.field, c.before, c.after) for c in the_plan.changes[:1]] == [
        ("appsettings.yaml: Database.MaxPoolSize", 5000, 100)
    ]
    assert outcome.ok and outcome.changes == the_plan.changes
    assert data(kube)["appsettings.yaml"] == APPSETTINGS_YAML
    assert (await history(kube))["last_manager"] == "honua-bot"
    # undoing the restore puts the hand edit back
    assert outcome.undo is not None
    _, back = await plan_then_execute(kube, outcome.undo.type, outcome.undo.params)
    assert back.ok and data(kube)["appsettings.yaml"] == bad


async def test_restore_after_the_bots_own_edit_uses_the_saved_copy(kube: Kube) -> None:
    await plan_then_execute(kube, "kubernetes.patch_config", {**HALVE, "restart": None})
    the_plan, outcome = await plan_then_execute(
        kube, "kubernetes.restore_config", {"configmap": "process-config"}
    )
    assert [(c.before, c.after) for c in the_plan.changes] == [(10, 20)]
    assert outcome.ok and data(kube)["appsettings.yaml"] == APPSETTINGS_YAML


async def test_restore_without_a_store_says_why(kube: Kube) -> None:
    with pytest.raises(Refused) as exc:
        await plan(
            "kubernetes.restore_config", {"configmap": "process-config"}, kube.ctx(store=False)
        )
    assert exc.value.gate == "input" and "no store" in exc.value.message


async def test_config_history_without_a_store_still_reports_the_last_change(kube: Kube) -> None:
    call = ProbeCall("h", "kubernetes.config_history", {"configmap": "process-config"})
    finding = await run_probe(call, probes, ProbeContext(kube.adapters), 5, {})
    assert finding.ok and finding.data["history"] is False
    assert finding.data["last_manager"] == "kubectl-client-side-apply"
