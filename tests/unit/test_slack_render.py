"""Block Kit rendering: the blocks for each lifecycle state, the buttons, the
limits. Assertions are on block structure (types, ids, action_ids, styles,
confirm dialogs, fields); every message must also pass the checks Slack makes
server-side (the fake's validator)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.models import (
    ActionRun,
    Diagnosis,
    Fact,
    Finding,
    Incident,
    IncidentStatus,
    ProposedAction,
    ScenarioCheck,
)
from bot.notify import Event
from bot.notify.slack.render import (
    ButtonKind,
    ButtonSpec,
    Lifecycle,
    Message,
    State,
    StormMember,
    button_specs,
    cut,
    lifecycle,
    mention,
    render_incident,
    render_status,
    render_storm_digest,
    render_storm_summary,
)
from tests.fakes.slack_api import _check_blocks


def _incident(**changes: Any) -> Incident:
    incident = Incident(
        id="inc-abc123",
        key="fp|t",
        fingerprint="fp",
        alertname="HighProcessFailureRate",
        severity="P2",
        rule="high-process-failure-rate",
        labels={"alertname": "HighProcessFailureRate", "namespace": "honua-process-framework"},
        starts_at=datetime(2026, 11, 27, 3, tzinfo=UTC),
        generator_url="http://prometheus:9090/graph?g0.expr=rate(x)",
        external_url="http://alertmanager:9093",
        diagnosis=Diagnosis(
            rule="high-process-failure-rate",
            scenario="redis-connection",
            summary='37 of 42 failed with "Redis connection failed" <b>&',
            findings={
                "failure_rate": Finding(
                    probe="failure_rate",
                    type="prometheus.query",
                    ok=True,
                    data={"value": 23.456789},
                ),
                "failures": Finding(
                    probe="failures",
                    type="processes.list",
                    ok=True,
                    data={
                        "count": 42,
                        "groups": [
                            {"message": "Redis connection failed", "count": 37},
                            {"message": "Timeout exceeded", "count": 4},
                            {"message": "Invalid configuration", "count": 1},
                            {"message": "other", "count": 0},
                        ],
                    },
                ),
                "redis": Finding(
                    probe="redis",
                    type="redis.health",
                    ok=False,
                    error="connection refused: redis-0.redis:6379",
                ),
            },
            facts=[
                Fact(
                    probe="failure_rate",
                    label="Failure rate",
                    text="23.5 %",
                    threshold="alert at 10 %",
                ),
                Fact(
                    probe="failures",
                    label="Top error (last hour)",
                    text='"Redis connection failed" \u00d7 37 of 42 failed',
                ),
            ],
            why=[
                ScenarioCheck(
                    scenario="redis-connection",
                    held=True,
                    clauses=[
                        'failures.top.message.contains("Redis connection failed") '
                        '(failures.top.message = "Redis connection failed")'
                    ],
                )
            ],
            priority="P2",
            runbook="Runbook 1: High Process Failure Rate Investigation",
            actions=[
                ProposedAction(
                    name="restart-redis",
                    label="Restart redis-0",
                    type="kubernetes.delete_pod",
                    confirm=True,
                    destructive=True,
                    description="delete pod honua-process-framework/redis-0, wait 120s for Ready",
                ),
                ProposedAction(name="restart-app", type="kubernetes.rollout_restart"),
                ProposedAction(
                    name="halve-concurrency", type="kubernetes.patch_config", mode="auto"
                ),
            ],
        ),
    )
    return incident.model_copy(update=changes)


def _refs(incident: Incident, lc: Lifecycle) -> dict[str, str]:
    return {
        s.key: f"ref-{i:02d}-abcdefghijklmnop" for i, s in enumerate(button_specs(incident, lc))
    }


def _render(incident: Incident, event: Event | None = None) -> Message:
    lc = lifecycle(incident, event)
    message = render_incident(incident, lc, _refs(incident, lc))
    assert _check_blocks(message.blocks) == "", message.blocks
    return message


def _block(message: Message, block_id: str) -> dict[str, Any]:
    found = [b for b in message.blocks if b.get("block_id") == block_id]
    assert found, f"no block {block_id}: {[b.get('block_id') for b in message.blocks]}"
    return found[0]


def _has(message: Message, block_id: str) -> bool:
    return any(b.get("block_id") == block_id for b in message.blocks)


def _buttons(message: Message) -> dict[str, dict[str, Any]]:
    return {
        e["action_id"]: e for b in message.blocks if b["type"] == "actions" for e in b["elements"]
    }


def _fields(message: Message) -> dict[str, str]:
    fields = _block(message, "honua-facts-0")["fields"]
    return dict(f["text"].split("\n", 1) for f in fields)


def _about(message: Message) -> str:
    return str(_block(message, "honua-about")["elements"][0]["text"])


def test_awaiting_decision_has_facts_findings_failures_links_and_buttons() -> None:
    message = _render(_incident())
    header = _block(message, "honua-header")
    assert header["type"] == "header"
    assert header["text"]["text"] == (
        ":rotating_light: P2 HighProcessFailureRate · redis-connection — Awaiting decision"
    )
    about = _about(message)
    assert about.startswith("Awaiting decision · :book: Runbook 1: High Process Failure Rate")
    assert "rule `high-process-failure-rate`" in about and "`inc-abc123`" in about
    # the summary, escaped for mrkdwn
    assert _block(message, "honua-summary")["text"]["text"].endswith("&lt;b&gt;&amp;")
    # facts as the rule displays them: label, value with units, threshold
    assert _fields(message) == {
        "*Failure rate*": "23.5 %  _(alert at 10 %)_",
        "*Top error (last hour)*": '"Redis connection failed" \u00d7 37 of 42 failed',
    }
    why = _block(message, "honua-why")["text"]["text"]
    assert why.startswith(":mag_right: *Why* failures.top.message.contains(")
    assert why.endswith("→ redis-connection")
    failed = _block(message, "honua-failed")["text"]["text"]
    assert "`redis` (redis.health): redis-0.redis:6379 refuses connections" in failed
    auto = _block(message, "honua-auto")["elements"][0]["text"]
    assert "*halve-concurrency*" in auto  # auto actions are listed, not buttons

    buttons = _buttons(message)
    assert list(buttons) == [
        "honua:action:restart-redis",
        "honua:action:restart-app",
        "honua:silence:3600",
        "honua:silence:14400",
        "honua:ack",
        "honua:rerun",
        "honua:raw",
    ]
    danger = buttons["honua:action:restart-redis"]
    assert danger["text"]["text"] == "Restart redis-0"
    assert danger["style"] == "danger"
    assert danger["confirm"]["style"] == "danger"
    assert danger["confirm"]["title"]["text"] == "Restart redis-0?"
    assert "delete pod honua-process-framework/redis-0" in danger["confirm"]["text"]["text"]
    plain = buttons["honua:action:restart-app"]
    assert "style" not in plain and "confirm" not in plain
    says = _block(message, "honua-buttons-say")["elements"][0]["text"]
    assert "*Restart redis-0*: delete pod honua-process-framework/redis-0" in says
    assert [buttons[a]["text"]["text"] for a in list(buttons)[2:]] == [
        "Silence 1h",
        "Silence 4h",
        "Acknowledge",
        "Re-run diagnosis",
        "Details (raw results)",
    ]
    # values are the opaque references, nothing a clicker could edit into meaning
    assert all(b["value"].startswith("ref-") for b in buttons.values())

    links = _block(message, "honua-links")["elements"][0]["text"]
    assert "<http://prometheus:9090/graph?g0.expr=rate(x)|Source (Prometheus)>" in links
    assert (
        "<http://alertmanager:9093/#/alerts?filter=%7Balertname%3D%22HighProcessFailureRate%22%7D|Alertmanager>"
        in links
    )
    assert message.text.startswith(
        "[P2] HighProcessFailureRate — Awaiting decision: redis-connection — 37 of 42 failed"
    )


def test_approvals_needed_are_on_the_button_and_in_its_dialog() -> None:
    incident = _incident()
    assert incident.diagnosis is not None
    incident.diagnosis.actions[1] = ProposedAction(
        name="terminate-idle",
        type="postgres.terminate_idle",
        label="Terminate idle sessions",
        description="pg_terminate_backend every session idle for over 10 minutes",
        approvals=2,
    )
    button = _buttons(_render(incident))["honua:action:terminate-idle"]
    assert button["text"]["text"] == "Terminate idle sessions (2 approvals)"
    assert "2 people to approve" in button["confirm"]["text"]["text"]
    assert button["confirm"]["confirm"]["text"] == "Approve"


def test_the_runbook_links_to_its_section_when_the_document_is_known() -> None:
    incident = _incident()
    lc = lifecycle(incident)
    message = render_incident(incident, lc, {}, runbook_base="https://docs.example/runbooks.md")
    assert (
        "<https://docs.example/runbooks.md#runbook-1-high-process-failure-rate-investigation"
        "|Runbook 1: High Process Failure Rate Investigation>"
    ) in _about(message)


def test_probes_without_a_configured_target_are_not_called_failures() -> None:
    incident = _incident()
    assert incident.diagnosis is not None
    incident.diagnosis.findings["pods"] = Finding(
        probe="pods",
        type="kubernetes.pods",
        ok=False,
        configured=False,
        error="kubernetes is not configured (set HONUA_BOT_KUBECONFIG or run in-cluster)",
    )
    message = _render(incident)
    assert "`pods`" not in _block(message, "honua-failed")["text"]["text"]
    note = _block(message, "honua-unconfigured")["text"]["text"]
    assert note.endswith("• `pods` (kubernetes): set `HONUA_BOT_KUBECONFIG or run in-cluster`")


def test_diagnosing_has_no_action_buttons_and_no_rerun() -> None:
    message = _render(_incident(diagnosis=None))
    assert _block(message, "honua-header")["text"]["text"].endswith("— Diagnosing")
    assert _about(message).startswith("Diagnosing · ")
    assert list(_buttons(message)) == ["honua:silence:3600", "honua:silence:14400", "honua:ack"]
    assert not _has(message, "honua-facts-0")
    # a re-run shows Diagnosing over the previous diagnosis
    rerun = _render(_incident(), Event.DIAGNOSING)
    assert "Running the runbook's probes" in _block(rerun, "honua-summary")["text"]["text"]
    assert "honua:action:restart-redis" not in _buttons(rerun)


def test_running_names_the_action_and_who_started_it() -> None:
    incident = _incident(runs=[ActionRun(action="restart-redis", actor="slack:U0ALICE")])
    message = _render(incident)
    assert _block(message, "honua-header")["text"]["text"].endswith("— Running restart-redis")
    assert _about(message).startswith("Running `restart-redis` (by <@U0ALICE>)")
    assert "restart-redis" in _block(message, "honua-run")["elements"][0]["text"]


@pytest.mark.parametrize(
    ("state", "expected", "emoji"),
    [("verified", State.VERIFIED, ":white_check_mark:"), ("failed", State.FAILED, ":x:")],
)
def test_verified_and_failed(state: str, expected: State, emoji: str) -> None:
    run = ActionRun(
        action="restart-redis", actor="slack:U0BOB", state=state, detail="failure rate 2 %"
    )  # type: ignore[arg-type]
    message = _render(_incident(runs=[run]))
    assert _block(message, "honua-header")["text"]["text"] == (
        f"{emoji} P2 HighProcessFailureRate · redis-connection — {expected.value}"
    )
    run_line = _block(message, "honua-run")["elements"][0]["text"]
    assert run_line == f"Last action: `restart-redis` by <@U0BOB> — *{state}*: failure rate 2 %"
    assert "honua:action:restart-redis" in _buttons(message)  # a failed step may be retried


def test_resolved_has_no_buttons() -> None:
    incident = _incident(
        status=IncidentStatus.RESOLVED, ends_at=datetime(2026, 11, 27, 4, tzinfo=UTC)
    )
    message = _render(incident, Event.RESOLVED)
    assert _block(message, "honua-header")["text"]["text"] == (
        ":large_green_circle: P2 HighProcessFailureRate · redis-connection — Resolved"
    )
    assert not [b for b in message.blocks if b["type"] == "actions"]
    assert "resolved <!date^" in _about(message)
    assert _has(message, "honua-facts-0")  # what was found stays readable


def test_acknowledged_shows_who_and_drops_the_button() -> None:
    incident = _incident(
        acknowledged_by="slack:U0ALICE", acknowledged_at=datetime(2026, 11, 27, 3, 5, tzinfo=UTC)
    )
    message = _render(incident)
    assert "acknowledged by <@U0ALICE> <!date^" in _about(message)
    assert "honua:ack" not in _buttons(message)


def test_button_without_reference_is_left_out() -> None:
    incident = _incident()
    lc = lifecycle(incident)
    message = render_incident(incident, lc, {"ack:": "ref-only-ack-0000000000"})
    assert list(_buttons(message)) == ["honua:ack"]


def test_lifecycle_order() -> None:
    base = _incident()
    assert lifecycle(base.model_copy(update={"diagnosis": None})).state is State.DIAGNOSING
    assert lifecycle(base).state is State.AWAITING
    running = base.model_copy(update={"runs": [ActionRun(action="a", actor="auto")]})
    assert lifecycle(running).state is State.RUNNING
    assert lifecycle(running).label == "Running `a` (by auto mode)"
    assert lifecycle(base, Event.RESOLVED).state is State.RESOLVED
    assert mention("cli:bob") == "bob (cli)"


# -- limits ------------------------------------------------------------------------------
def test_long_texts_are_cut_with_a_visible_note() -> None:
    incident = _incident(alertname="A" * 300)
    assert incident.diagnosis is not None
    incident.diagnosis.summary = "x" * 10_000
    incident.diagnosis.findings["redis"].error = "e" * 5000
    incident.diagnosis.actions[0].name = "n" * 120
    incident.diagnosis.actions[0].description = "d" * 1000
    message = _render(incident)
    assert len(_block(message, "honua-header")["text"]["text"]) <= 150
    summary = _block(message, "honua-summary")["text"]["text"]
    assert len(summary) <= 3000 and summary.endswith("… (truncated)")
    assert len(_block(message, "honua-failed")["text"]["text"]) <= 3000
    danger = _buttons(message)["honua:action:" + "n" * 120]
    assert len(danger["text"]["text"]) <= 75
    assert len(danger["confirm"]["text"]["text"]) <= 300
    assert len(danger["confirm"]["title"]["text"]) <= 100
    assert message.truncated
    note = _block(message, "honua-truncated")
    assert note["type"] == "context" and "cut to fit" in note["elements"][0]["text"]


def test_many_findings_and_actions_stay_within_50_blocks_keeping_the_buttons() -> None:
    incident = _incident()
    assert incident.diagnosis is not None
    incident.diagnosis.facts = [
        Fact(probe=f"p{i}", label=f"Fact {i}", text=f"{i} %") for i in range(600)
    ]
    incident.diagnosis.notes = [f"note {i}" for i in range(30)]
    incident.diagnosis.actions = [
        ProposedAction(name=f"step-{i}", type="kubernetes.rollout_restart") for i in range(30)
    ]
    message = _render(incident)
    assert len(message.blocks) == 50
    assert message.blocks[-1]["block_id"] == "honua-truncated"
    actions = [b for b in message.blocks if b["type"] == "actions"]
    assert [len(b["elements"]) for b in actions] == [25, 5, 5]  # 30 steps, then the controls
    assert _has(message, "honua-header") and _has(message, "honua-links")


def test_cut_never_splits_a_link() -> None:
    text, was_cut = cut("see <http://example.com/a/very/long/path|here> and more", 30, "…")
    assert was_cut and text == "see…"


# -- storms and /honua -----------------------------------------------------------------------
def _members(n: int) -> list[StormMember]:
    return [
        StormMember(
            incident=f"inc-{i:04d}",
            alertname="HighProcessFailureRate" if i % 3 else "ProcessTimeout",
            severity="P2",
            rule="high-process-failure-rate" if i % 3 else "process-timeout",
            scenario="llm-rate-limit" if i % 2 else "redis-connection",
            resolved=i < 5,
            details_ref=f"ref-details-{i:04d}-xxxxxxxx",
        )
        for i in range(n)
    ]


def test_storm_summary_counts_by_rule_and_scenario() -> None:
    message = render_storm_summary(_members(120), threshold=10, window=600)
    assert _check_blocks(message.blocks) == ""
    assert message.blocks[0]["text"]["text"].endswith("120 incidents (5 resolved)")
    counts = _block(message, "honua-storm-counts")["text"]["text"].splitlines()
    assert counts[0] == "*By rule and scenario*"
    assert len(counts) == 5  # 2 rules by 2 scenarios
    assert sum(int(line.split("*")[-2]) for line in counts[1:]) == 120
    assert any("(3 resolved)" in line or "(2 resolved)" in line for line in counts[1:])


def test_storm_digest_lines_have_details_buttons() -> None:
    members = list(enumerate(_members(40), start=1))
    message = render_storm_digest(members)
    assert _check_blocks(message.blocks) == ""
    sections = [b for b in message.blocks if b["type"] == "section"]
    assert len(sections) == 40
    assert sections[0]["accessory"]["action_id"] == "honua:details:1"
    assert sections[0]["accessory"]["value"] == "ref-details-0000-xxxxxxxx"
    assert "resolved" in sections[0]["text"]["text"]


def test_status_lists_open_incidents_with_links() -> None:
    incidents = [_incident(id=f"inc-{i:03d}") for i in range(60)]
    message = render_status(incidents, {"inc-000": "https://slack.com/archives/C1/p1"})
    assert _check_blocks(message.blocks) == ""
    assert message.blocks[0]["text"]["text"] == "Open incidents: 60"
    assert "<https://slack.com/archives/C1/p1|message>" in message.blocks[1]["text"]["text"]
    assert "… and 13 more" in message.blocks[-2]["elements"][0]["text"]


def test_button_spec_keys_and_ids() -> None:
    spec = ButtonSpec(ButtonKind.SILENCE, seconds=3600)
    assert (spec.key, spec.action_id) == ("silence:3600", "honua:silence:3600")
    assert ButtonSpec(ButtonKind.ACTION, "x" * 400).action_id.startswith("honua:action:xxx")
    assert len(ButtonSpec(ButtonKind.ACTION, "x" * 400).action_id) == 255
