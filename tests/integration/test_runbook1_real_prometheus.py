"""Runbook 1 diagnosis through real Prometheus scraping the Honua simulator."""

from __future__ import annotations

from tests.helpers import BotHarness, alert, notification, wait_for, wait_for_sync
from tests.integration.conftest import RunningSim
from tests.realbins import PrometheusServer


def _has_rate(prom: PrometheusServer) -> bool:
    expr = 'sum(rate(honua_llm_errors_total{error_type="rate_limit"}[5m]))'
    result = prom.query(expr)
    return bool(result) and float(result[0]["value"][1]) > 0  # type: ignore[index]


async def test_llm_rate_limit_scenario_from_real_prometheus_and_process_api(
    honua_sim: RunningSim, prometheus: PrometheusServer
) -> None:
    # rate() needs two scrapes of a moving counter
    wait_for_sync(lambda: _has_rate(prometheus), timeout=30, interval=0.5)
    async with BotHarness(prometheus_url=prometheus.url, process_api_url=honua_sim.url) as bot:
        assert (await bot.post(notification(alert()))).status_code == 200
        events = await wait_for(lambda: bot.recorder.events, timeout=20)
    incident = events[0][1]
    d = incident.diagnosis
    assert d is not None
    assert d.scenario == "llm-rate-limit", d
    # targets this test does not set up (Kubernetes, the monitored Redis) are
    # reported as not configured; everything that is configured answered
    assert all(f.ok for f in d.findings.values() if f.configured), d.failed_probes
    assert {f.probe for f in d.findings.values() if not f.configured} == {
        "pods",
        "redis_pod",
        "redis",
        "rollout",
        "redis_logs",
        "config",
    }
    assert d.findings["failure_rate"].data["value"] > 0
    assert d.findings["llm_rate_limit"].data["value"] > 0
    assert d.findings["failures"].data["top"]["message"] == "429 Too Many Requests"
    assert "429 Too Many Requests" in d.summary
    assert [a.name for a in d.actions] == ["halve-concurrency", "silence-1h"]


async def test_prometheus_rejecting_a_query_is_a_finding(prometheus: PrometheusServer) -> None:
    import bot.probes  # noqa: F401
    from bot.adapters import Adapters
    from bot.adapters.prometheus import PrometheusClient
    from bot.alerts.diagnose import run_probe
    from bot.probes.base import ProbeContext
    from bot.registry import probes
    from bot.rules.schema import ProbeCall

    adapters = Adapters(prometheus_client=PrometheusClient(prometheus.url))
    try:
        call = ProbeCall(
            "bad", "prometheus.query", {"expr": "rate(honua_process_failures_total[5m"}
        )
        finding = await run_probe(call, probes, ProbeContext(adapters), 5, {})
    finally:
        await adapters.aclose()
    assert not finding.ok
    assert finding.error and finding.error.startswith("prometheus rejected the query (bad_data)")
