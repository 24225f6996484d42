"""Shadow mode over a real Redis and the Kubernetes API fake: a ``mode: shadow``
action is planned (server-side dry run) and passes every gate when its incident
is diagnosed, then records "would have run" with the plan, says so in the
thread, changes nothing on the cluster and claims no gate state."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bot.models import Alert, Incident
from bot.remediation.requests import Actor, Verdict
from bot.tuning import stats
from tests.fakes.kube_api import FakeKube, KubeFakeServer, seed_honua
from tests.helpers import BotHarness, alert, notification, wait_for

pytestmark = pytest.mark.integration
NS = APP = "honua-process-framework"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
RULE = f"""
name: sticky-pods
match: {{alertname: StickyPods}}
diagnosis:
  - scenario: restart-helps
    when: "true"
    actions: [restart]
actions:
  restart:
    kubernetes.rollout_restart: {{name: {APP}, namespace: {NS}}}
    mode: MODE
    cooldown: 1h
"""


def _annotations(fake: FakeKube) -> dict[str, str]:
    deployment = fake.get("deployments", NS, APP)
    return deployment["spec"]["template"]["metadata"].get("annotations") or {}


async def _audit_events(h: BotHarness, incident_id: str) -> list[str]:
    return [e.event for e in await h.service.engine.audit.read("1h", incident=incident_id)]


async def _fire(h: BotHarness, fingerprint: str) -> Incident:
    raw = alert("StickyPods", fingerprint=fingerprint)
    assert (await h.post(notification(raw))).status_code == 200
    incident_id = Alert.model_validate(raw).incident_id

    async def shadowed() -> Incident | None:
        incident = await h.service.store.get_incident(incident_id)
        if incident is None or not any("would have run" in a.text for a in incident.activity):
            return None
        return incident

    found: Incident = await wait_for(shadowed, timeout=30)
    return found


@pytest.mark.parametrize("mode", ["shadow", "auto"])
async def test_a_shadow_action_plans_and_gates_then_records_instead_of_running(
    tmp_path: Path, redis_url: str, mode: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "sticky.yaml").write_text(textwrap.dedent(RULE).replace("MODE", mode))
    kube = KubeFakeServer(seed_honua(FakeKube())).start()
    try:
        async with BotHarness(redis_url=redis_url, rules=rules, kubernetes_host=kube.url) as h:
            writes = kube.fake.store.rv
            if mode == "auto":  # the control: the same rule as auto really restarts
                raw = alert("StickyPods", fingerprint="fp-1")
                await h.post(notification(raw))
                await wait_for(lambda: RESTARTED_AT in _annotations(kube.fake), timeout=30)
                return
            first = await _fire(h, "fp-1")
            assert kube.fake.store.rv == writes and RESTARTED_AT not in _annotations(kube.fake)
            assert first.runs == []
            [note] = [a for a in first.activity if "would have run" in a.text]
            assert note.actor == "auto"
            assert f"rollout restart deployment {NS}/{APP}" in note.text, note.text
            assert f"annotations[{RESTARTED_AT}]: None →" in note.text
            [entry] = [
                e
                for e in await h.service.engine.audit.read("1h", incident=first.id)
                if e.event == "would_have_run"
            ]
            assert entry.target == f"deployment/{NS}/{APP}" and entry.plan, entry
            assert RESTARTED_AT in " ".join(entry.plan)
            assert await _audit_events(h, first.id) == ["diagnosed", "requested", "would_have_run"]

            # no gate state claimed: a second incident's shadow run is not in a cooldown,
            # the hourly count did not move, and a person may still restart for real
            second = await _fire(h, "fp-2")
            assert await _audit_events(h, second.id) == [
                "diagnosed",
                "requested",
                "would_have_run",
            ]
            safety = h.service.engine.safety
            assert await safety.runs_this_hour("sticky-pods") == 0
            assert await safety.cooldown_remaining("kubernetes.rollout_restart", entry.target) == 0
            assert kube.fake.store.rv == writes
            pressed = await h.service.requests.request_action(
                second.id, "restart", Actor(id="alice")
            )
            assert pressed.verdict in (Verdict.DONE, Verdict.ACCEPTED), pressed
            assert RESTARTED_AT in _annotations(kube.fake)
            [rule] = stats.compute(await h.service.engine.audit.read("1h"))
            restart = rule.actions["restart"]
            assert (restart.auto_requests, restart.would_have_run) == (2, 2)
            assert (restart.pressed, restart.executed) == (1, 1)
    finally:
        kube.stop()
