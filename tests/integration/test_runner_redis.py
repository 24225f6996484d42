"""Safety state lives in Redis: two bot instances (and a restarted one) share the
cooldowns, hourly caps, breakers, approvals and the once-only lock. Also the
operator surface over the same Redis: `honua-bot act / audit / pause / resume`
as processes, and the token-protected admin endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.models import ProposedAction
from bot.remediation.config import RunnerConfig
from bot.remediation.requests import Actor, Verdict
from bot.safety.state import GateConfig
from bot.store import RedisStore
from tests.helpers import REPO, BotHarness, alert, notification, wait_for
from tests.runner_support import EFFECTS, EngineKit, write_rule

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _clean_effects() -> None:
    EFFECTS.clear()


@pytest.fixture
async def stores(redis_url: str) -> AsyncIterator[list[RedisStore]]:
    made = [RedisStore(redis_url), RedisStore(redis_url), RedisStore(redis_url)]
    for s in made:
        await s.start()
    yield made
    for s in made:
        await s.close()


def kits(tmp_path: Path, stores: list[RedisStore], **gates: object) -> list[EngineKit]:
    rules = write_rule(tmp_path / "rules")
    config = RunnerConfig(gates=GateConfig(**gates))
    return [EngineKit(s, rules, config, owner=f"replica-{i}") for i, s in enumerate(stores)]


async def test_cooldown_and_hourly_cap_hold_across_replicas_and_a_restart(
    tmp_path: Path, stores: list[RedisStore]
) -> None:
    a, b, restarted = kits(tmp_path, stores)
    incident = await a.incident()
    assert (await a.act(incident.id, "touch")).verdict is Verdict.DONE
    other = await b.act(incident.id, "touch", who="bob")
    assert other.gate == "cooldown", other
    assert (await a.act(incident.id, "limited")).verdict is Verdict.DONE
    capped = await restarted.act(incident.id, "limited", who="carol")  # a fresh process
    assert capped.gate == "rate_limit", capped
    assert EFFECTS == {"a": ["cli:alice"], "c": ["cli:alice"]}


async def test_one_run_when_two_replicas_get_the_same_click(
    tmp_path: Path, stores: list[RedisStore]
) -> None:
    a, b, _ = kits(tmp_path, stores)
    incident = await a.incident()
    slow = ProposedAction(name="touch", type="test.touch", params={"target": "a", "hold": 0.3})
    first, second = await asyncio.gather(
        a.engine.run(incident, slow, Actor(id="alice", source="slack"), "nonce-1"),
        b.engine.run(incident, slow, Actor(id="alice", source="slack"), "nonce-1"),
    )
    assert sorted([first.verdict, second.verdict]) == sorted([Verdict.DONE, Verdict.DUPLICATE])
    assert EFFECTS == {"a": ["slack:alice"]}


async def test_breaker_and_approvals_are_shared(tmp_path: Path, stores: list[RedisStore]) -> None:
    a, b, c = kits(tmp_path, stores, breaker_failures=2)
    incident = await a.incident()
    await a.act(incident.id, "broken")
    await b.act(incident.id, "broken", who="bob")
    broken = ProposedAction(name="broken", type="test.touch", params={"target": "e", "fail": True})
    auto = await c.engine.run(incident, broken, Actor(id="auto", source="auto"))
    assert auto.gate == "circuit_breaker"
    assert (
        await a.act(incident.id, "guarded", who="alice", source="slack")
    ).verdict is Verdict.NEEDS_APPROVAL
    assert (
        await b.act(incident.id, "guarded", who="alice", source="slack")
    ).verdict is Verdict.NEEDS_APPROVAL
    assert (await c.act(incident.id, "guarded", who="bob", source="slack")).verdict is Verdict.DONE
    assert EFFECTS["b"] == ["slack:bob"]


async def test_pause_from_one_replica_stops_auto_mode_on_another(
    tmp_path: Path, stores: list[RedisStore]
) -> None:
    a, b, _ = kits(tmp_path, stores)
    await a.engine.safety.pause("cli:ops", "maintenance")
    incident = await b.incident()
    auto = next(x for x in incident.diagnosis.actions if x.name == "auto-touch")  # type: ignore[union-attr]
    decision = await b.engine.run(incident, auto, Actor(id="auto", source="auto"))
    assert decision.gate == "paused" and "maintenance" in decision.message
    await b.engine.safety.resume()
    assert (await a.engine.run(incident, auto, Actor(id="auto", source="auto"))).ok


CLI_RULE = """
name: cli-test
match: {alertname: CliTest}
diagnosis:
  - scenario: anything
    when: "true"
    actions: [silence-1h, silence-owners, silence-2h]
actions:
  silence-1h:
    alertmanager.silence: {duration: 1h}
  silence-owners:
    alertmanager.silence: {duration: 1h}
    allowed: {users: [U0ALICE]}
  silence-2h:
    alertmanager.silence: {duration: 2h}
"""


def _cli(
    redis_url: str, rules: Path, *args: str, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        **extra_env,
        "HONUA_BOT_REDIS_URL": redis_url,
        "HONUA_BOT_RULES": str(rules),
        "HONUA_BOT_CONSOLE_NOTIFIER": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=REPO,
    )


async def test_cli_act_audit_pause_resume_against_a_served_bot(
    tmp_path: Path, redis_url: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "cli.yaml").write_text(CLI_RULE)
    async with BotHarness(redis_url=redis_url, rules=rules, admin_token="adm-secret") as h:
        raw = alert("CliTest", fingerprint="fp-cli")
        assert (await h.post(notification(raw))).status_code == 200
        from bot.models import Alert

        incident_id = Alert.model_validate(raw).incident_id
        await wait_for(lambda: _diagnosed(h, incident_id), timeout=30)

        preview = await asyncio.to_thread(
            _cli, redis_url, rules, "act", incident_id, "silence-1h", "--dry-run", "--as", "alice"
        )
        assert preview.returncode == 0, preview.stdout + preview.stderr
        assert "Dry run, nothing changed" in preview.stdout
        assert 'alertname="CliTest"' in preview.stdout

        # Alertmanager is not configured for this bot: the failure names the setting
        ran = await asyncio.to_thread(
            _cli, redis_url, rules, "act", incident_id, "silence-1h", "--as", "alice"
        )
        assert ran.returncode == 1 and "HONUA_BOT_ALERTMANAGER_URL" in ran.stdout, ran.stdout

        stale = await asyncio.to_thread(_cli, redis_url, rules, "act", incident_id, "no-such")
        assert stale.returncode == 1 and "does not propose no-such" in stale.stdout

        # the CLI cannot tell who runs it: an action restricted to named people is refused
        owners = await asyncio.to_thread(
            _cli, redis_url, rules, "act", incident_id, "silence-owners", "--as", "alice"
        )
        assert owners.returncode == 1 and "gate: authorization" in owners.stdout, owners.stdout
        assert "use its Slack button" in owners.stdout
        permissions = '{"silence-2h": {"groups": ["sre"]}}'
        by_settings = await asyncio.to_thread(
            _cli,
            redis_url,
            rules,
            "act",
            incident_id,
            "silence-2h",
            "--as",
            "alice",
            HONUA_BOT_SLACK_ACTION_PERMISSIONS=permissions,
        )
        assert "gate: authorization" in by_settings.stdout, by_settings.stdout
        assert "HONUA_BOT_SLACK_ACTION_PERMISSIONS" in by_settings.stdout

        audit = await asyncio.to_thread(
            _cli, redis_url, rules, "audit", "--incident", incident_id, "--json"
        )
        lines = [json.loads(x) for x in audit.stdout.splitlines()]
        assert [(x["event"], x.get("actor")) for x in lines] == [
            ("diagnosed", None),
            ("dry_run", "cli:alice"),
            ("requested", "cli:alice"),
            ("started", "cli:alice"),
            ("failed", "cli:alice"),
            ("requested", "cli:alice"),
            ("refused", "cli:alice"),
            ("requested", "cli:alice"),
            ("refused", "cli:alice"),
        ]
        text = await asyncio.to_thread(_cli, redis_url, rules, "audit", "--since", "1h")
        assert "failed silence-1h" in text.stdout and "by=cli:alice" in text.stdout
        incident = await h.service.store.get_incident(incident_id)
        assert incident is not None and incident.runs[-1].state == "failed"

        paused = await asyncio.to_thread(_cli, redis_url, rules, "pause", "--reason", "freeze")
        assert "paused by cli:" in paused.stdout and "freeze" in paused.stdout
        got = await h.http.get("/admin/pause", headers={"Authorization": "Bearer adm-secret"})
        assert got.json()["paused"] is True and "freeze" in got.json()["reason"]
        assert (await h.http.get("/admin/pause")).status_code == 401
        resumed = await h.http.post("/admin/resume", headers={"Authorization": "Bearer adm-secret"})
        assert resumed.json() == {"paused": False, "reason": ""}
        again = await h.http.post(
            "/admin/pause",
            json={"reason": "incident review", "by": "ops"},
            headers={"Authorization": "Bearer adm-secret"},
        )
        assert again.json()["reason"] == "paused by admin:ops: incident review"
        status = await asyncio.to_thread(_cli, redis_url, rules, "resume")
        assert status.stdout.strip() == "automatic actions enabled"


async def _diagnosed(h: BotHarness, incident_id: str) -> bool:
    incident = await h.service.store.get_incident(incident_id)
    return incident is not None and incident.diagnosis is not None


async def test_admin_api_is_off_without_a_token(tmp_path: Path) -> None:
    (tmp_path / "cli.yaml").write_text(CLI_RULE)
    async with BotHarness(rules=tmp_path) as h:
        response = await h.http.post("/admin/pause")
        assert response.status_code == 404
        assert "HONUA_BOT_ADMIN_TOKEN" in response.json()["error"]


async def test_cli_emergency_opens_an_incident_for_the_process(
    tmp_path: Path, redis_url: str
) -> None:
    async with BotHarness(redis_url=redis_url, rules=REPO / "rules") as h:
        done = await asyncio.to_thread(
            _cli, redis_url, REPO / "rules", "emergency", "abc-123", "--reason", "user report"
        )
        assert done.returncode == 0, done.stderr
        incident_id = done.stdout.split("incident ")[1].split(";")[0]
        incident = await wait_for(lambda: h.service.store.get_incident(incident_id), timeout=20)
        assert incident.rule == "emergency-process-cancellation"
        assert incident.labels["process_id"] == "abc-123"
        assert incident.annotations["description"] == "user report"
        bad = await asyncio.to_thread(_cli, redis_url, REPO / "rules", "emergency", "a b")
        assert bad.returncode == 2 and "process id 'a b'" in bad.stderr
