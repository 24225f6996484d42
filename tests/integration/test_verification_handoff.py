"""`act --no-wait` hands the verification to a serving replica instead of
abandoning it: the CLI's engine records the hand-off and exits; a serving
engine on the same Redis adopts it once, follows it to the end, and the audit
says so (handed off → adopted → verified)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.adapters.prometheus import PrometheusClient
from bot.remediation import handoff
from bot.remediation.config import RunnerConfig
from bot.remediation.requests import Verdict
from bot.store import RedisStore
from tests.helpers import wait_for
from tests.runner_support import EFFECTS, EngineKit, write_rule

VALIDATION = 'validation:\n  - {expr: "up", holds: "value == 1.0", for: 0s, within: 1m}\n'


@pytest.fixture
async def prometheus() -> AsyncIterator[str]:
    async def query(request: web.Request) -> web.Response:
        body = {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "1"]}]},
        }
        return web.json_response(body)

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_no_wait_hands_the_verification_to_a_serving_replica(
    tmp_path: Path, redis_url: str, prometheus: str
) -> None:
    EFFECTS.clear()
    rules = write_rule(tmp_path / "rules", VALIDATION)
    config = RunnerConfig(verify_interval=0.05)
    stores = [RedisStore(redis_url), RedisStore(redis_url), RedisStore(redis_url)]
    for s in stores:
        await s.start()
    cli = EngineKit(stores[0], rules, config, owner="cli")
    serving = [EngineKit(s, rules, config, owner=f"serve-{i}") for i, s in enumerate(stores[1:])]
    for kit in [cli, *serving]:
        kit.engine.adapters.prometheus_client = PrometheusClient(prometheus)
    try:
        incident = await cli.incident()
        cli.engine.hand_off_verification = True
        decision = await cli.act(incident.id, "touch")
        assert decision.verdict is Verdict.ACCEPTED
        await cli.engine.aclose()  # the CLI exits at once
        stored = await stores[0].get_incident(incident.id)
        assert stored is not None and stored.runs[-1].state == "verifying"  # not abandoned

        # two serving replicas look at once: exactly one adopts it
        adopted = [await handoff.adopt(kit.engine) for kit in serving]
        assert sorted(len(a) for a in adopted) == [0, 1]

        async def verified() -> bool:
            found = await stores[0].get_incident(incident.id)
            return found is not None and found.runs[-1].state == "verified"

        await wait_for(verified, 10)
        events = [e.event for e in await cli.engine.audit.read("1h") if e.run]
        assert events[-4:] == [
            "succeeded",
            "verification_handed_off",
            "verification_adopted",
            "verified",
        ]
        assert all([await handoff.adopt(kit.engine) == [] for kit in serving])  # done once
    finally:
        for kit in serving:
            await kit.engine.aclose()
        for s in stores:
            await s.close()
