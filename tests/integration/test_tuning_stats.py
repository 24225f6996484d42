"""`honua-bot stats` and `honua-bot timeline` over a real Redis: the numbers are
those of the audit stream the engine wrote, and a click → verify → undo incident's
timeline lists every step in order."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.adapters.prometheus import PrometheusClient
from bot.models import Alert
from bot.remediation.config import RunnerConfig
from bot.remediation.requests import Verdict
from bot.store import RedisStore
from bot.tuning import stats, timeline
from tests.fakes.server import ThreadedServer
from tests.helpers import REPO, alert
from tests.runner_support import EFFECTS, EngineKit, write_rule

pytestmark = pytest.mark.integration
VALIDATION = """
validation:
  - expr: touched_ok
    holds: "value == 1"
"""


@pytest.fixture
def prometheus() -> Iterator[str]:
    """Answers every instant query with 1: each validation holds at once."""

    async def query(request: web.Request) -> web.Response:
        result = [{"metric": {}, "value": [0, "1"]}]
        return web.json_response(
            {"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    app = web.Application()
    app.router.add_get("/api/v1/query", query)
    server = ThreadedServer(app).start()
    yield server.url
    server.stop()


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    s = RedisStore(redis_url)
    await s.start()
    yield s
    await s.close()


def _cli(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HONUA_BOT_REDIS_URL": redis_url}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )


async def _resolve(k: EngineKit, fingerprint: str) -> None:
    raw = alert("Touchy", status="resolved", fingerprint=fingerprint, pod="pod-1")
    await k.pipeline.handle(Alert.model_validate(raw))


async def test_stats_and_timeline_come_from_the_audit(
    tmp_path: Path, store: RedisStore, redis_url: str, prometheus: str
) -> None:
    EFFECTS.clear()
    k = EngineKit(
        store, write_rule(tmp_path / "rules", VALIDATION), RunnerConfig(verify_interval=0.05)
    )
    k.engine.adapters.prometheus_client = PrometheusClient(prometheus)
    first = await k.incident("fp-1")
    assert (await k.act(first.id, "touch", who="alice")).verdict is Verdict.ACCEPTED
    await k.engine.wait_background()
    assert (await k.act(first.id, "undo-touch", who="bob")).verdict is Verdict.ACCEPTED
    await k.engine.wait_background()
    second = await k.incident("fp-2")
    assert (await k.act(second.id, "touch", who="carol")).gate == "cooldown"
    assert (await k.act(second.id, "broken", who="carol")).gate == "execution"
    await _resolve(k, "fp-1")
    await _resolve(k, "fp-2")
    assert EFFECTS == {"a": ["cli:alice"], "a-undone": ["cli:bob"], "e": ["cli:carol"]}

    audit = await k.engine.audit.read("1h")
    [rule] = stats.compute(audit)
    assert (rule.rule, rule.incidents, dict(rule.scenarios)) == ("touchy", 2, {"touch-it": 2})
    touch = rule.actions["touch"].as_dict()
    assert {k_: touch[k_] for k_ in ("incidents", "proposed", "pressed", "refused")} == {
        "incidents": 2,
        "proposed": 2,
        "pressed": 2,
        "refused": {"cooldown": 1},
    }
    assert (touch["executed"], touch["verified"], touch["failed"], touch["undone"]) == (1, 1, 0, 1)
    assert (touch["resolved_with"], touch["resolved_without"]) == (1, 1)
    started = next(e for e in audit if e.event == "started" and e.action == "touch")
    alert_at = first.starts_at
    assert touch["median_alert_to_action_s"] == round((started.at - alert_at).total_seconds(), 1)
    broken = rule.actions["broken"].as_dict()
    assert (broken["pressed"], broken["executed"], broken["failed"], broken["verified"]) == (
        1,
        1,
        1,
        0,
    )
    # every count is one of the audit's own: the same numbers from raw entries
    for name, a in rule.actions.items():
        assert a.executed == sum(1 for e in audit if e.event == "started" and e.action == name)
        assert a.pressed == sum(
            1 for e in audit if e.event == "requested" and e.action == name and e.actor != "auto"
        )
    cli = await asyncio.to_thread(_cli, redis_url, "stats", "--since", "1h", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["rules"] == [rule.as_dict()]
    text = await asyncio.to_thread(_cli, redis_url, "stats", "--rule", "touchy")
    assert (
        "touch: proposed 2 (in 2 incidents), pressed 2, auto 0, refused cooldown 1" in text.stdout
    )

    found = await timeline.load(store, first.id)
    assert found is not None
    steps = [s for s in found[1] if s.kind != "thread"]
    assert [(s.kind, s.actor) for s in steps] == [
        ("alert", ""),
        ("alert", ""),
        ("diagnosis", "honua-bot"),
        ("click", "cli:alice"),
        ("execution", "cli:alice"),
        ("execution", "cli:alice"),
        ("verification", "cli:alice"),
        ("click", "cli:bob"),
        ("undo", "cli:bob"),
        ("undo", "cli:bob"),
        ("verification", "cli:bob"),
        ("resolved", ""),
    ]
    assert [s.at for s in found[1]] == sorted(s.at for s in found[1])
    threads = [s.text for s in found[1] if s.kind == "thread"]
    assert threads[0].startswith("running `touch`: touch a")
    assert any("`undo-touch` verified" in t for t in threads)
    md = await asyncio.to_thread(_cli, redis_url, "timeline", first.id)
    assert md.returncode == 0, md.stderr
    assert "| click | cli:alice | cli:alice asked for `touch` |" in md.stdout
    assert "| resolved |  | alert resolved |" in md.stdout
    missing = await asyncio.to_thread(_cli, redis_url, "timeline", "inc-nope")
    assert missing.returncode == 2 and "no incident inc-nope" in missing.stderr
