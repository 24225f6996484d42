"""Tuning rules with evidence, over a real Redis: incidents recorded by a served
bot are replayed under changed rules by `honua-bot rules replay` (no probe runs:
the probe's answers change afterwards and replay does not notice), and the
timeline endpoint serves an incident's history behind the /incidents token."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.models import Alert
from tests.fakes.server import ThreadedServer
from tests.helpers import REPO, BotHarness, alert, notification, wait_for

pytestmark = pytest.mark.integration
TOKEN = "tok-tuning"
DEPTHS: dict[str, int] = {}

LIVE = """
name: queue-backlog
match: {alertname: QueueBacklog}
probes:
  depth:
    http.json_field: {url: "URL/depth/{{ labels.queue }}", path: depth}
diagnosis:
  - scenario: backlog
    when: "depth.value > 100"
    summary: "queue {{ labels.queue }} holds {{ depth.value }} items"
    actions: [silence]
  - scenario: small-backlog
    when: "depth.value > 10"
    summary: "queue {{ labels.queue }} holds {{ depth.value }} items; it drains by itself"
actions:
  silence:
    alertmanager.silence: {duration: 1h}
"""

DISK = """
name: disk-full
match: {alertname: DiskFull}
diagnosis:
  - scenario: disk
    when: "true"
    summary: "disk full on {{ labels.instance }}"
"""


def _candidate() -> str:
    text = LIVE.replace("depth.value > 100", "depth.value > 200")
    text = text.replace("depth.value > 10", "depth.value > 20")
    return text.replace("{duration: 1h}", "{duration: 2h}\n    mode: shadow")


@pytest.fixture
def depth_server() -> Iterator[str]:
    async def depth(request: web.Request) -> web.Response:
        return web.json_response({"depth": DEPTHS[request.match_info["queue"]]})

    app = web.Application()
    app.router.add_get("/depth/{queue}", depth)
    server = ThreadedServer(app).start()
    yield server.url
    server.stop()


def _cli(redis_url: str, rules: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HONUA_BOT_REDIS_URL": redis_url, "HONUA_BOT_RULES": str(rules)}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )


def _write(directory: Path, url: str, *docs: str) -> Path:
    directory.mkdir(parents=True)
    for i, doc in enumerate(docs):
        (directory / f"{i:02d}.yaml").write_text(textwrap.dedent(doc).replace("URL", url))
    return directory


async def test_replay_shows_what_a_rule_change_does_to_recorded_incidents(
    tmp_path: Path, redis_url: str, depth_server: str
) -> None:
    live = _write(tmp_path / "live", depth_server, LIVE)
    candidate = _write(tmp_path / "candidate", depth_server, _candidate(), DISK)
    DEPTHS.update(a=50, b=150, c=500, d=15)
    raws = {q: alert("QueueBacklog", fingerprint=f"fp-{q}", queue=q) for q in DEPTHS}
    raws["disk"] = alert("DiskFull", fingerprint="fp-disk", instance="db-1")
    ids = {k: Alert.model_validate(r).incident_id for k, r in raws.items()}
    async with BotHarness(redis_url=redis_url, rules=live, webhook_token=TOKEN) as h:
        for raw in raws.values():
            assert (await h.post(notification(raw), token=TOKEN)).status_code == 200

        async def all_diagnosed() -> bool:
            found = [await h.service.store.get_incident(i) for i in ids.values()]
            return all(i is not None and i.diagnosis is not None for i in found)

        await wait_for(all_diagnosed, timeout=30)
        stored = await h.service.store.get_incident(ids["c"])
        assert stored is not None and stored.diagnosis is not None
        assert stored.diagnosis.findings["depth"].data["value"] == 500  # kept with the incident

        # the timeline endpoint: same token as /incidents, JSON or Markdown
        path = f"/incidents/{ids['c']}/timeline"
        assert (await h.http.get(path)).status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        body = (await h.http.get(path, headers=auth)).json()
        kinds = [s["kind"] for s in body["steps"]]
        assert kinds[:3] == ["alert", "alert", "diagnosis"], kinds
        assert "scenario backlog" in body["steps"][2]["text"]
        assert "depth: status_code=200, found=True, value=500" in body["steps"][2]["text"]
        md = await h.http.get(path, params={"format": "markdown"}, headers=auth)
        assert md.headers["Content-Type"].startswith("text/markdown")
        assert md.text.startswith(f"# Incident {ids['c']}: QueueBacklog")
        assert (await h.http.get("/incidents/inc-nope/timeline", headers=auth)).status_code == 404

    DEPTHS.update(a=0, b=0, c=0, d=0)  # replay must use what was recorded, not ask again
    ran = await asyncio.to_thread(
        _cli, redis_url, live, "rules", "replay", "--rules", str(candidate), "--json"
    )
    assert ran.returncode == 0, ran.stderr
    report = json.loads(ran.stdout)
    by_id = {r["incident"]: r for r in report["incidents"]}
    assert report["summary"] == {
        "unchanged": 1,
        "changed": 2,
        "newly matched": 1,
        "no longer matched": 1,
    }
    assert by_id[ids["a"]]["category"] == "unchanged"
    b = by_id[ids["b"]]
    assert b["category"] == "changed"
    changes = {c["what"]: (c["live"], c["candidate"]) for c in b["changes"]}
    assert changes["scenario"] == ("backlog", "small-backlog")
    assert changes["proposed actions"] == (["silence"], [])
    assert changes["summary"] == (
        "queue b holds 150 items",
        "queue b holds 150 items; it drains by itself",
    )
    c = {x["what"]: (x["live"], x["candidate"]) for x in by_id[ids["c"]]["changes"]}
    assert c == {
        "automatic actions": ([], ["silence"]),
        "silence mode": ("manual", "shadow"),
        "silence params": ({"duration": "1h"}, {"duration": "2h"}),
    }
    assert by_id[ids["d"]]["category"] == "no longer matched"
    assert by_id[ids["d"]]["candidate"]["scenario"] == "unclassified"
    disk = by_id[ids["disk"]]
    assert disk["category"] == "newly matched"
    assert (disk["live"]["rule"], disk["candidate"]["scenario"]) == (None, "disk")

    text = await asyncio.to_thread(
        _cli, redis_url, live, "rules", "replay", "--rules", str(candidate), "--fail-on-change"
    )
    assert text.returncode == 1, text.stderr
    assert "scenario: backlog → small-backlog" in text.stdout
    assert text.stdout.rstrip().endswith(
        "5 incident(s): 1 unchanged, 2 changed, 1 newly matched, 1 no longer matched"
    )
    one = await asyncio.to_thread(
        _cli, redis_url, live, "rules", "replay", "--rules", str(candidate),
        "--incident", ids["a"], "--fail-on-change",
    )  # fmt: skip
    assert one.returncode == 0, one.stdout + one.stderr
    assert "1 incident(s): 1 unchanged" in one.stdout
    bad = await asyncio.to_thread(
        _cli, redis_url, live, "rules", "replay", "--rules", str(candidate), "--since", "soon"
    )
    assert bad.returncode == 2 and "--since" in bad.stderr
