"""Tuning helpers without I/O: the bound on stored probe results, replay's
treatment of probes that were not recorded, the timeline's order, and how a
shadow action shows in the Slack message."""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.alerts.evidence import MAX_FINDING_BYTES, bound_findings, bounded
from bot.app import load_builtins
from bot.audit import AuditEntry
from bot.models import Activity, Diagnosis, Finding, Incident, ProposedAction
from bot.notify.slack.render import lifecycle, render_incident
from bot.registry import actions, probes
from bot.rules import load_rules, sample
from bot.tuning import replay, timeline

T0 = datetime(2026, 11, 27, 3, tzinfo=UTC)


def test_big_findings_keep_their_scalars_and_say_they_were_trimmed() -> None:
    data = {"count": 5000, "status": "Failed", "items": [{"id": f"p-{i}"} for i in range(5000)]}
    kept, trimmed = bounded(data)
    assert trimmed and len(json.dumps(kept)) <= MAX_FINDING_BYTES
    assert (kept["count"], kept["status"]) == (5000, "Failed")
    assert kept["items"][0] == {"id": "p-0"} and len(kept["items"]) < 5000
    assert data["items"][-1] == {"id": "p-4999"}  # the caller's copy is untouched
    small, trimmed = bounded({"count": 3})
    assert small == {"count": 3} and not trimmed
    huge, trimmed = bounded("x" * 100_000)
    assert trimmed and len(json.dumps(huge)) <= MAX_FINDING_BYTES

    d = Diagnosis(
        rule="r",
        scenario="s",
        findings={"big": Finding(probe="big", type="t", ok=True, data=data)},
    )
    bound_findings(d)
    assert d.findings["big"].truncated and "big trimmed" in d.notes[0]


def _incident(findings: dict[str, Finding]) -> Incident:
    return Incident(
        id="inc-1",
        key="k",
        fingerprint="fp",
        alertname="QueueBacklog",
        labels={"alertname": "QueueBacklog", "queue": "a"},
        starts_at=T0,
        diagnosis=Diagnosis(rule="q", scenario="backlog", findings=findings),
    )


RULE = """
name: q
match: {alertname: QueueBacklog}
probes:
  depth: {prometheus.query: {expr: "depth"}}
  PROBE
diagnosis:
  - scenario: backlog
    when: "depth.value > 100 WHEN"
    summary: "{{ depth.value }}"
"""


def _rules(tmp_path: Path, name: str, probe: str = "", when: str = "") -> object:
    load_builtins()
    path = tmp_path / name
    path.mkdir()
    text = RULE.replace("PROBE", probe).replace("WHEN", when)
    (path / "q.yaml").write_text(textwrap.dedent(text))
    return load_rules(path, probes, actions)


def test_a_probe_the_candidate_adds_was_never_recorded_and_counts_as_failed(
    tmp_path: Path,
) -> None:
    found = {"depth": Finding(probe="depth", type="prometheus.query", ok=True, data=500)}
    live = _rules(tmp_path, "live")
    candidate = _rules(tmp_path, "candidate", 'lag: {prometheus.query: {expr: "lag"}}', "&& lag.ok")
    [result] = replay.replay([_incident(found)], live, candidate, actions)  # type: ignore[arg-type]
    assert result.live.scenario == "backlog" and result.live.summary == "500"
    assert result.candidate.not_recorded == ["lag"]
    assert result.category == replay.NO_LONGER_MATCHED
    assert "no recorded result for lag" in "\n".join(replay.report_lines([result]))


def test_timeline_orders_steps_and_shows_durations() -> None:
    incident = _incident({})
    incident.created_at = T0 + timedelta(seconds=30)
    assert incident.diagnosis is not None
    incident.diagnosis.diagnosed_at = T0 + timedelta(seconds=32)
    incident.activity = [Activity(text="running `x`", actor="cli:alice", at=T0 + timedelta(60))]
    ms = int((T0 + timedelta(seconds=59)).timestamp() * 1000)
    click = AuditEntry(event="requested", action="x", actor="slack:U1", channel="C42", id=f"{ms}-0")
    steps = timeline.steps(incident, [click])
    assert [s.kind for s in steps] == ["alert", "alert", "diagnosis", "click", "thread"]
    md = timeline.markdown(incident, steps)
    assert "| 2026-11-27 03:00:59 | 59.0s | 27.0s | click | slack:U1 | slack:U1 in C42 asked" in md


def test_a_shadow_action_keeps_its_button_and_is_labelled() -> None:
    incident = _incident({})
    assert incident.diagnosis is not None
    incident.diagnosis.actions = [ProposedAction(name="restart", type="t", mode="shadow")]
    lc = lifecycle(incident, None)
    message = render_incident(incident, lc, {"action:restart": "ref-0123456789abcdef"})
    text = json.dumps(message.blocks)
    assert "Shadow mode (gates and plan checked, recorded, not run): *restart*" in text
    assert '"action_id": "honua:action:restart"' in text  # a person may still run it


def test_replay_sees_probe_data_as_the_bot_is_configured_to(tmp_path: Path) -> None:
    # 400 series recorded; a condition counting them only holds when the data
    # limit (HONUA_BOT_RULE_DATA_MAX_ITEMS) lets all 400 through, as in the bot
    series = [{"labels": {"i": str(i)}, "value": 1.0} for i in range(400)]
    found = {"depth": Finding(probe="depth", type="prometheus.query", ok=True, data=series)}
    live = _rules(tmp_path, "live", when="|| size(depth.value) >= 400")
    candidate = _rules(tmp_path, "candidate")
    incident = _incident(found)
    [cut] = replay.replay([incident], live, candidate, actions)  # type: ignore[arg-type]
    assert cut.live.scenario == replay.UNCLASSIFIED
    [whole] = replay.replay(
        [incident],
        live,  # type: ignore[arg-type]
        candidate,  # type: ignore[arg-type]
        actions,
        sample.Limits(max_items=1000),
    )
    assert whole.live.scenario == "backlog"
