"""Runbook 4 Diagnosis step 3 as the rule reads it: every pod of the deployment
(`kubectl logs -l app=…`), with the rule's own error patterns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

import bot.probes  # noqa: F401  (registers the probes)
from bot.adapters import Adapters
from bot.adapters.kubernetes import KubernetesClient
from bot.alerts.diagnose import run_probe
from bot.probes.base import ProbeContext
from bot.registry import probes
from bot.rules.schema import ProbeCall
from tests.fakes.kube_api import NAMESPACE, FakeKube, seed_honua, serve
from tests.fakes.kube_api.resources import lookup

RULE = Path(__file__).parents[2] / "rules" / "04-llm-provider-failover.yaml"


def rule_logs_probe() -> dict[str, Any]:
    doc = YAML(typ="safe").load(RULE.read_text())
    return dict(doc["probes"]["logs"]["kubernetes.logs"])


@pytest.fixture
async def kube() -> AsyncIterator[tuple[FakeKube, Adapters]]:
    fake = seed_honua(FakeKube())
    async with serve(fake) as url:
        adapters = Adapters(kubernetes_client=KubernetesClient(host=url, timeout=2))
        yield fake, adapters
        await adapters.aclose()


async def test_rate_limit_in_the_second_pod_with_a_401_millisecond_timestamp(
    kube: tuple[FakeKube, Adapters],
) -> None:
    fake, adapters = kube
    app_pods = sorted(
        p["metadata"]["name"]
        for p in fake.store.items(lookup("pods"), NAMESPACE)
        if p["metadata"]["name"].startswith("honua-process-framework")
    )
    assert len(app_pods) == 3
    fake.set_logs(NAMESPACE, app_pods[0], ["info: Honua.ProcessFramework[0] healthy"])
    fake.set_logs(
        NAMESPACE,
        app_pods[1],
        [
            "2025-10-17T08:00:00.401Z error: Honua.ProcessFramework.Llm[0] "
            "LLM provider Azure: 429 Too Many Requests",
            "2025-10-17T08:00:01.503Z error: Honua.ProcessFramework.Llm[0] "
            "LLM provider Azure: 429 Too Many Requests",
        ],
    )
    fake.set_logs(
        NAMESPACE,
        app_pods[2],
        ["2025-10-17T08:00:02.000Z error: LLM provider OpenAI: 401 Unauthorized"],
    )
    finding = await run_probe(
        ProbeCall("logs", "kubernetes.logs", rule_logs_probe()),
        probes,
        ProbeContext(adapters),
        5,
        {},
    )
    assert finding.ok, finding.error
    assert sorted(finding.data["pods"]) == app_pods
    # the ".401Z" and ".503Z" timestamps count as nothing; the real 401 line counts once
    assert finding.data["matches"]["rate_limit"] == 2
    assert finding.data["matches"]["unavailable"] == 0
    assert finding.data["matches"]["unauthorized"] == 1
