"""Runbooks 5 to 8 end to end up to the message: four faults at once in one world,
each fires its example alert in real Prometheus (or, for one runaway process, is
raised by hand with amtool as the rule documents), real Alertmanager sends the
webhook, and the bot names the scenario in the incident's Slack message."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import redis.asyncio as aioredis

from tests.e2e.stack import NAMESPACE, e2e_stack, summary_of
from tests.fakes.slack_api import find_button
from tests.helpers import free_port
from tests.integration.slack_support import header

CONFIG_CRASH_LOG = [
    "info: Honua.ProcessFramework[0] Starting Honua Process Framework 1.4.2",
    "info: Honua.ProcessFramework[0] Loaded configuration from /app/config/appsettings.yaml",
    "fail: Honua.ProcessFramework[0] Invalid configuration: ProcessFramework.MaxConcurrentProcesses must be a positive integer",
    "crit: Microsoft.Hosting.Lifetime[0] Host terminated unexpectedly",
]


def quiet_day(active: int = 3, until_minutes_ago: int = 61) -> str:
    """A day of history (OpenMetrics, for promtool's backfill): ``active`` processes
    at every 5-minute step, ending an hour ago — ProcessRunaway's baseline
    (``avg_over_time(…[1d:5m] offset 1h)``), which a fresh Prometheus does not have."""
    end = int(time.time()) - until_minutes_ago * 60
    lines = [
        "# HELP honua_active_processes Processes running",
        "# TYPE honua_active_processes gauge",
    ]
    for t in range(end - 25 * 3600, end + 1, 300):
        lines.append(f'honua_active_processes{{job="honua",instance="backfill"}} {active} {t}')
    return "\n".join([*lines, "# EOF", ""])


async def test_runbooks_5_to_8_faults_are_diagnosed_in_their_messages(tmp_path: Path) -> None:
    nobody = f"postgresql://honua@127.0.0.1:{free_port()}/honua"  # the database is down
    async with e2e_stack(
        tmp_path, traffic=False, backfill=quiet_day(), postgres_dsn=nobody, group_interval="2s"
    ) as stack:
        # Runbook 5: twelve processes have run amok for 2.5 hours (3 are usual)
        async with httpx.AsyncClient(base_url=stack.sim_server.url) as sim:
            body = {"state": "runaway", "count": 12, "age_minutes": 150}
            runaway = (await sim.post("/_sim/processes", json=body)).json()
        # … and a user reports one of them (rules/05: "amtool alert add ProcessRunaway …")
        reported = runaway[0]["processId"]
        await stack.raise_by_hand("ProcessRunaway", namespace=NAMESPACE, process_id=reported)
        # Runbook 6: Redis loses every key while those processes run
        client = aioredis.Redis.from_url(stack.redis.url)
        try:
            await client.flushall()
        finally:
            await client.aclose()
        # Runbook 7: one application pod crash-loops on a configuration error
        pod = next(
            p["metadata"]["name"]
            for p in stack.kube.objects("pods", NAMESPACE)
            if p["metadata"]["name"].startswith("honua-process-framework-")
        )
        stack.kube.crashloop(NAMESPACE, pod, last_reason="Error", restarts=5)
        stack.kube.set_logs(NAMESPACE, pod, CONFIG_CRASH_LOG, previous=True)
        # Runbook 8: PostgreSQL has been down since the start (postgres_exporter: pg_up 0)

        system_wide = await stack.message("ProcessRunaway", "system-wide")
        summary = summary_of(system_wide)
        assert "12 processes have been running for over 2 hours (12 active in all)" in summary
        # cancelling everything is offered, behind two approvals
        assert find_button(system_wide.blocks, "honua:action:cancel-all-running") is not None

        one = await stack.message("ProcessRunaway", "runaway-process")
        assert f"{reported} (DeploymentProcess, started by alice@example.com)" in summary_of(one)

        loss = await stack.message("RedisDataLoss", "total-loss")
        assert "P2 RedisDataLoss · total-loss" in header(loss)
        assert "Redis is empty (DBSIZE 0) while 12 processes are active" in summary_of(loss)

        crash = await stack.message("PodCrashLooping", "crash-config")
        assert f"{pod} crashes on a configuration error" in summary_of(crash)
        # the crashed container's log, as the message's findings show it
        assert "Invalid configuration: ProcessFramework.MaxConcurrentProcesses" in str(crash.blocks)

        down = await stack.message("DatabaseConnectionFailure", "server-down")
        summary = summary_of(down)
        assert "The PostgreSQL server is down" in summary and "pg_up 0" in summary
        assert "connection refused" in summary
