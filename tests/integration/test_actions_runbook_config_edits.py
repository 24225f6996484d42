"""The runbooks' own config edits against the seeded process-config (which is the
runbooks' documented layout): keys the runbook *adds* are added and shown as
``+ key: value``; the timeout key is ``ProcessFramework.ProcessTimeouts.<type>``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from ruamel.yaml import YAML

import bot.probes  # noqa: F401  (registers the probes)
from bot.actions.base import Refused
from bot.alerts.diagnose import run_probe
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.remediation.run_records import jsonable
from bot.remediation.unchanged import later_edits
from bot.rules.schema import ProbeCall
from tests.integration.kube_actions import APP, Kube, kube_fake, plan, plan_then_execute


@pytest.fixture
async def kube() -> AsyncIterator[Kube]:
    async with kube_fake() as k:
        yield k


def settings(kube: Kube) -> Any:
    return YAML(typ="safe").load(
        kube.get("configmaps", "process-config")["data"]["appsettings.yaml"]
    )


def set_config(*edits: dict[str, Any]) -> dict[str, Any]:
    return {"configmap": "process-config", "restart": f"deployment/{APP}", "edits": list(edits)}


async def test_runbook2_timeout_key_is_under_process_framework(kube: Kube) -> None:
    call = ProbeCall(
        "timeout",
        "kubernetes.config_value",
        {
            "configmap": "process-config",
            "key": "ProcessFramework.ProcessTimeouts.DeploymentProcess",
        },
    )
    found = await run_probe(call, probes, ProbeContext(kube.adapters), 10.0, {})
    assert found.ok and found.data["found"] is True and found.data["value"] == 60
    # Option 3: "DeploymentProcess: 180  # Increase from 60 to 180 minutes"
    raise_it = set_config(
        {
            "key": "ProcessFramework.ProcessTimeouts.DeploymentProcess",
            "value": "180",
            "add": True,
            "only_if": "higher",
        }
    )
    _, outcome = await plan_then_execute(kube, "kubernetes.set_config", raise_it)
    assert outcome.ok
    assert settings(kube)["ProcessFramework"]["ProcessTimeouts"]["DeploymentProcess"] == 180
    # "Add/update process-specific timeout": a type with no timeout yet gets one
    add = set_config(
        {"key": "ProcessFramework.ProcessTimeouts.UpgradeProcess", "value": "180", "add": True}
    )
    the_plan = await plan("kubernetes.set_config", add, kube.ctx())
    assert "+ ProcessFramework.ProcessTimeouts.UpgradeProcess: 180" in the_plan.summary


async def test_runbook4_scenario_b_cuts_to_5_and_adds_rate_limiting(kube: Kube) -> None:
    params = set_config(
        {"key": "ProcessFramework.MaxConcurrentProcesses", "value": "5", "only_if": "lower"},
        *(
            {"key": f"LlmProvider.RateLimiting.{p}.{k}", "value": v, "add": True}
            for p in ("Azure", "OpenAI")
            for k, v in (("RequestsPerMinute", "60"), ("TokensPerMinute", "90000"))
        ),
    )
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.set_config", params)
    assert "ProcessFramework.MaxConcurrentProcesses: 20 → 5" in the_plan.summary
    assert "+ LlmProvider.RateLimiting.Azure.RequestsPerMinute: 60" in the_plan.summary
    assert "+ LlmProvider.RateLimiting.OpenAI.TokensPerMinute: 90000" in the_plan.summary
    assert outcome.ok
    after = settings(kube)
    assert after["ProcessFramework"]["MaxConcurrentProcesses"] == 5
    assert after["LlmProvider"]["RateLimiting"] == {
        "Azure": {"RequestsPerMinute": 60, "TokensPerMinute": 90000},
        "OpenAI": {"RequestsPerMinute": 60, "TokensPerMinute": 90000},
    }
    # an added key cannot be "set back": the undo restores the saved copy
    assert outcome.undo is not None and outcome.undo.type == "kubernetes.restore_config"
    # only_if lower: a second press does not raise 5 back to anything
    again = await plan("kubernetes.set_config", params, kube.ctx())
    assert not again.changes and any("already 5" in w for w in again.warnings)


async def test_runbook4_scenario_b_restore_starts_from_what_the_cut_left(kube: Kube) -> None:
    """The restore offered after the incident (the undo: restore the saved copy)
    finds exactly the values the cut left, so the changed-since check passes it;
    a value tuned by hand meanwhile makes it refuse rather than overwrite."""
    params = set_config(
        {"key": "ProcessFramework.MaxConcurrentProcesses", "value": "5", "only_if": "lower"},
        {"key": "LlmProvider.RateLimiting.Azure.RequestsPerMinute", "value": "60", "add": True},
    )
    cut, outcome = await plan_then_execute(kube, "kubernetes.set_config", params)
    assert outcome.ok and outcome.undo is not None
    left = [
        {"field": c.field, "before": jsonable(c.before), "after": jsonable(c.after)}
        for c in outcome.changes
        if c.target == cut.target
    ]
    assert len(left) == 2
    restore = await plan(outcome.undo.type, outcome.undo.params, kube.ctx())
    assert later_edits("reduce-load", left, cut.target, restore.changes) == []
    cm = kube.get("configmaps", "process-config")
    cm["data"]["appsettings.yaml"] = cm["data"]["appsettings.yaml"].replace(
        "MaxConcurrentProcesses: 5", "MaxConcurrentProcesses: 8"
    )
    kube.fake.apply(cm)
    tuned = await plan(outcome.undo.type, outcome.undo.params, kube.ctx())
    assert later_edits("reduce-load", left, cut.target, tuned.changes) == [
        "appsettings.yaml: ProcessFramework.MaxConcurrentProcesses is 8 now, "
        "not the 5 `reduce-load` left"
    ]


async def test_runbook4_scenario_c_no_fallback_and_azure_disabled(kube: Kube) -> None:
    params = set_config(
        {"key": "LlmProvider.Provider", "value": "OpenAI"},
        {"key": "LlmProvider.FallbackProvider", "value": "null"},
        {"key": "LlmProvider.Azure.Enabled", "value": "false", "add": True},
    )
    _, outcome = await plan_then_execute(kube, "kubernetes.set_config", params)
    assert outcome.ok
    llm = settings(kube)["LlmProvider"]
    assert (llm["Provider"], llm["FallbackProvider"], llm["Azure"]["Enabled"]) == (
        "OpenAI",
        None,
        False,
    )
    assert outcome.undo is not None and outcome.undo.type == "kubernetes.set_config"


async def test_a_key_not_marked_add_must_exist(kube: Kube) -> None:
    typo = set_config({"key": "Database.MaxPoolSise", "value": "20"})
    with pytest.raises(Refused) as exc:
        await plan("kubernetes.set_config", typo, kube.ctx())
    assert exc.value.gate == "input" and "Database.MaxPoolSise does not exist" in exc.value.message


async def test_runbook8_scenario_b_pool_20_and_min_5(kube: Kube) -> None:
    params = set_config(
        {"key": "Database.MaxPoolSize", "value": "20", "only_if": "lower"},
        {"key": "Database.MinPoolSize", "value": "5", "add": True},
    )
    the_plan, outcome = await plan_then_execute(kube, "kubernetes.set_config", params)
    assert "Database.MaxPoolSize: 100 → 20; + Database.MinPoolSize: 5" in the_plan.summary
    assert outcome.ok and settings(kube)["Database"] == {"MaxPoolSize": 20, "MinPoolSize": 5}
