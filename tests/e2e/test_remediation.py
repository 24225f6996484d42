"""Runbooks 1 to 4 end to end: a fault in the simulated framework makes real
Prometheus fire the example alert, real Alertmanager sends the real webhook, the
bot diagnoses with real probes and posts to Slack, a signed click runs the
action against the target, the framework recovers and the runbook's validation
(shortened in time only) turns the message "Verified"."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from ruamel.yaml import YAML

from tests.e2e.redis_pod import crash_redis, pod_uid
from tests.e2e.stack import NAMESPACE, Stack, e2e_stack, scenario_of, summary_of
from tests.helpers import wait_for
from tests.integration.slack_support import header


def appsettings(stack: Stack) -> dict[str, Any]:
    cm = stack.kube.get("configmaps", NAMESPACE, "process-config")
    return dict(YAML(typ="safe").load(cm["data"]["appsettings.yaml"]))


def restarted_at(stack: Stack) -> str | None:
    deployment = stack.kube.get("deployments", NAMESPACE, "honua-process-framework")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations") or {}
    return annotations.get("kubectl.kubernetes.io/restartedAt")


async def stopped(stack: Stack, alertname: str) -> bool:
    return not await stack.firing(alertname)


async def test_runbook1_llm_rate_limit_halving_concurrency_ends_the_429s(tmp_path: Path) -> None:
    # the provider takes 12 concurrent requests; process-config allows 20
    async with e2e_stack(tmp_path, fault="llm-rate-limit", rate=40, llm_quota=12) as stack:
        message = await stack.message("HighProcessFailureRate")
        assert "P2 HighProcessFailureRate · llm-rate-limit — Awaiting decision" in header(message)
        assert scenario_of(message) == "llm-rate-limit"
        assert '"429 Too Many Requests"' in summary_of(message)
        loads = stack.sim.config_loads

        reply = await stack.press(message, "halve-concurrency")  # ephemeral, to the clicker
        assert "updated configmap honua-process-framework/process-config" in reply
        assert "Verifying with the runbook's validation" in reply

        thread = await stack.verified(message, "halve-concurrency")
        assert await stack.runs(message) == [("halve-concurrency", "slack:U0ALICE", "verified")]
        # the ConfigMap was edited in place (20 → 10, comments kept) and the pods rolled
        assert appsettings(stack)["ProcessFramework"]["MaxConcurrentProcesses"] == 10
        cm = stack.kube.get("configmaps", NAMESPACE, "process-config")
        assert 'Runbook 1 Scenario B "20 → 10"' in cm["data"]["appsettings.yaml"]
        assert restarted_at(stack) is not None
        assert stack.sim.config_loads > loads and stack.sim.max_concurrent == 10
        assert any("running `halve-concurrency`" in t and "20 → 10" in t for t in thread), thread
        assert any("`halve-concurrency` verified" in t for t in thread), thread
        # the framework recovered: the failure-rate alert stopped (1 s evaluations)
        await wait_for(lambda: stopped(stack, "HighProcessFailureRate"), 10)


async def test_runbook2_stuck_process_is_cancelled_and_resubmitted(tmp_path: Path) -> None:
    async with e2e_stack(tmp_path) as stack:
        async with httpx.AsyncClient(base_url=stack.sim_server.url) as sim:
            body = {"state": "stuck", "count": 1, "age_minutes": 90}
            stuck = (await sim.post("/_sim/processes", json=body)).json()[0]
        # the framework's timeout sweep counts it at every pass: ProcessTimeout fires
        message = await stack.message("ProcessTimeout")
        assert scenario_of(message) == "stuck"
        assert "1 of 1 processes running for over an hour made no progress" in summary_of(message)
        assert stuck["processId"] in str(message.blocks)  # the checklist names it

        await stack.press(message, "cancel-and-resubmit")
        thread = await stack.verified(message, "cancel-and-resubmit")
        assert await stack.runs(message) == [("cancel-and-resubmit", "slack:U0ALICE", "verified")]
        assert stack.sim.processes[stuck["processId"]]["status"] == "Cancelled"
        started = re.search(
            r"started DeploymentProcess ([0-9a-f-]{36}) with the same input", "\n".join(thread)
        )
        assert started, thread
        new = stack.sim.processes[started.group(1)]
        assert new["input"] == stuck["input"] and new["status"] in ("Completed", "Failed")
        # no process is past its timeout any more, so the alert stopped firing
        assert await stack.firing("ProcessTimeout") == []


async def test_runbook3_redis_crashloop_restart_replaces_the_pod_and_redis_answers(
    tmp_path: Path,
) -> None:
    async with e2e_stack(tmp_path) as stack:
        old_uid = pod_uid(stack.kube)
        await asyncio.to_thread(crash_redis, stack.kube, stack.redis)
        message = await stack.message("RedisConnectionFailure")
        assert "P1 RedisConnectionFailure" in header(message)
        assert scenario_of(message) == "crashloop"
        summary = summary_of(message)
        assert "redis-0 is in CrashLoopBackOff (4 restarts)" in summary
        assert "Failed listening on port 6379" in summary
        assert "refuses connections" in str(message.blocks)  # the bot's own PING failed

        await stack.press(message, "restart-redis")
        thread = await stack.verified(message, "restart-redis")
        assert await stack.runs(message) == [("restart-redis", "slack:U0ALICE", "verified")]
        # the pod was replaced, its container (the redis-server) restarted with its data
        assert pod_uid(stack.kube) not in (None, old_uid)
        pod = stack.kube.get("pods", NAMESPACE, "redis-0")
        assert [c["status"] for c in pod["status"]["conditions"] if c["type"] == "Ready"] == [
            "True"
        ]
        assert stack.redis.starts == 2
        client = aioredis.Redis.from_url(stack.redis.url)
        try:
            assert await client.ping() and await client.dbsize() > 40  # the AOF kept the state
        finally:
            await client.aclose()
        assert stack.sim.redis_available  # the framework reconnected by itself
        assert any("running `restart-redis`" in t for t in thread), thread


async def test_runbook4_primary_provider_rate_limited_swapping_providers_ends_the_errors(
    tmp_path: Path,
) -> None:
    async with e2e_stack(tmp_path) as stack:
        # process-config as Runbook 4 documents it: Provider Azure, FallbackProvider OpenAI
        assert stack.sim.primary_provider == "azure"
        async with httpx.AsyncClient(base_url=stack.sim_server.url) as sim:
            await sim.post("/_sim/llm", json={"provider": "azure", "mode": "rate_limit"})
        message = await stack.message("LlmApiRateLimit")
        assert scenario_of(message) == "primary-rate-limited"
        assert "The primary provider Azure is rate limiting" in summary_of(message)
        assert "make OpenAI the primary" in summary_of(message)

        await stack.press(message, "swap-provider")
        thread = await stack.verified(message, "swap-provider")
        assert await stack.runs(message) == [("swap-provider", "slack:U0ALICE", "verified")]
        llm = appsettings(stack)["LlmProvider"]
        assert (llm["Provider"], llm["FallbackProvider"]) == ("OpenAI", "Azure")
        assert restarted_at(stack) is not None
        assert stack.sim.primary_provider == "openai"  # the rolled pods use OpenAI
        assert any("running `swap-provider`" in t for t in thread), thread
