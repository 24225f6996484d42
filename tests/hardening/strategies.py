"""Hypothesis strategies for what reaches the bot from outside: Alertmanager
notifications, Slack requests, rule files."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

from hypothesis import assume
from hypothesis import strategies as st

# label text with what consoles and Slack choke on: NUL, ESC, RTL marks, emoji
odd_text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from("\x00\x1b\u202e\n\r\t`*<>&|")),
    max_size=24,
)
_offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1)
_instants = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """Valid RFC 3339 times, including ones at the edges of the representable
    range once converted to UTC (``0001-01-01T00:00:00+14:00``)."""
    moment = draw(_instants)
    offset = timezone(timedelta(minutes=draw(_offsets)))
    return moment.replace(tzinfo=offset).isoformat()


@st.composite
def schema_valid_alerts(draw: st.DrawFn) -> dict[str, Any]:
    """Alerts intake accepts: each must become an incident (none lost)."""
    labels = draw(st.dictionaries(odd_text, odd_text, max_size=6))
    labels["alertname"] = draw(st.one_of(st.sampled_from(["FuzzGood", "X"]), odd_text))
    labels["fuzz_id"] = uuid.uuid4().hex  # every alert its own incident
    alert: dict[str, Any] = {
        "status": draw(st.sampled_from(["firing", "resolved"])),
        "labels": labels,
        "annotations": draw(st.dictionaries(odd_text, odd_text, max_size=3)),
        "startsAt": draw(
            st.one_of(
                timestamps(),
                st.just("2026-01-01T00:00:00Z"),
                # the edges, where UTC conversion leaves the representable range
                st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.5-14:00"]),
            )
        ),
    }
    if draw(st.booleans()):
        alert["endsAt"] = draw(st.one_of(timestamps(), st.just("0001-01-01T00:00:00Z")))
    if draw(st.booleans()):
        alert["generatorURL"] = draw(odd_text)
    return alert


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | odd_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(odd_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def junk_alerts(draw: st.DrawFn) -> Any:
    """Alerts with a field of the wrong type or missing: the notification is a 400."""
    alert = draw(schema_valid_alerts())
    key = draw(st.sampled_from(["status", "labels", "startsAt", "annotations", "endsAt"]))
    if draw(st.booleans()):
        alert.pop(key, None)
        if key in ("annotations", "endsAt"):
            alert["labels"] = draw(json_values)
    else:
        alert[key] = draw(json_values)
    # a replacement can happen to be valid ({} for labels): only junk counts here
    from bot.models.alertmanager import Alert

    try:
        Alert.model_validate(alert)
    except ValueError:
        return alert
    assume(False)
    return alert


@st.composite
def notifications(draw: st.DrawFn) -> dict[str, Any]:
    alerts = draw(st.lists(schema_valid_alerts(), min_size=1, max_size=5))
    return {
        "version": "4",
        "status": draw(st.sampled_from(["firing", "resolved"])),
        "receiver": draw(odd_text),
        "alerts": alerts,
        "externalURL": draw(odd_text),
        "groupLabels": draw(st.dictionaries(odd_text, odd_text, max_size=2)),
    }


@st.composite
def junk_notifications(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["junk alert", "json", "bytes"]))
    if kind == "junk alert":
        body = draw(notifications())
        body["alerts"].insert(draw(st.integers(0, len(body["alerts"]))), draw(junk_alerts()))
        return json.dumps(body).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    return draw(st.binary(max_size=200))


content_encodings = st.sampled_from(["", "gzip", "deflate", "br", "zstd", "identity", "x-junk"])


def _click(actions: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "block_actions",
        "user": {"id": "U0ALICE", "username": "alice"},
        "team": {"id": "T0FAKE"},
        "channel": {"id": "C0FAKE", "name": "incidents"},
        "actions": actions,
        **extra,
    }


@st.composite
def slack_bodies(draw: st.DrawFn) -> tuple[str, str]:
    """(body, content type) Slack might send, or nearly: shapes Bolt trips on."""
    kind = draw(st.sampled_from(["click", "payload", "view", "command", "json", "form"]))
    form = "application/x-www-form-urlencoded"
    if kind == "click":
        action = draw(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {
                        "action_id": st.one_of(json_values, st.just("honua:act")),
                        "value": json_values,
                    }
                ),
            )
        )
        actions = draw(st.one_of(st.lists(st.just(action), max_size=2), json_values))
        extra = draw(
            st.dictionaries(
                st.sampled_from(
                    ["user", "team", "channel", "response_url", "container", "enterprise"]
                ),
                json_values,
            )
        )
        return urlencode({"payload": json.dumps(_click(actions, extra))}), form
    if kind == "payload":
        return urlencode({"payload": draw(st.one_of(odd_text, json_values.map(json.dumps)))}), form
    if kind == "view":
        view = draw(st.one_of(json_values, st.fixed_dictionaries({"type": json_values})))
        body = {"type": draw(st.sampled_from(["view_submission", "view_closed"])), "view": view}
        return urlencode({"payload": json.dumps(body)}), form
    if kind == "command":
        fields = {
            "command": draw(st.sampled_from(["/honua", "/other", ""])),
            "text": draw(odd_text),
            "user_id": draw(odd_text),
            "team_id": "T0FAKE",
        }
        if draw(st.booleans()):
            fields["response_url"] = draw(st.one_of(odd_text, st.just("http://127.0.0.1:9/r")))
        return urlencode(fields), form
    if kind == "json":
        return json.dumps(draw(json_values)), "application/json"
    return draw(odd_text), form


@st.composite
def rule_documents(draw: st.DrawFn) -> str:
    """Rule files: mostly-valid rules with one field mutated, or YAML junk."""
    base: dict[str, Any] = {
        "name": draw(st.one_of(st.just("fuzz-rule"), odd_text)),
        "runbook": "Runbook 1: fuzz",
        "severity": draw(st.one_of(st.sampled_from(["P1", "P2", "P3"]), json_values)),
        "match": draw(
            st.one_of(st.just({"alertname": "Fuzz"}), st.dictionaries(odd_text, json_values))
        ),
        "probes": draw(st.one_of(st.just({}), json_values)),
        "diagnosis": draw(
            st.one_of(
                st.just([{"scenario": "s", "when": "true", "summary": "ok"}]),
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "scenario": odd_text,
                            "when": st.one_of(
                                odd_text,
                                st.sampled_from(
                                    [
                                        "true",
                                        "1 +",
                                        "labels.x == 'a'",
                                        "[1,2].map(x, x*2)",
                                        "size(labels) > 0",
                                        "'a' * 3",
                                    ]
                                ),
                            ),
                            "summary": st.one_of(
                                odd_text,
                                st.sampled_from(
                                    [
                                        "{{ labels }}",
                                        "{{ labels.pop('a') }}",
                                        "{% for %}",
                                        "{{ ''.__class__ }}",
                                        "{{ labels.x | promql }}",
                                    ]
                                ),
                            ),
                        }
                    ),
                    max_size=3,
                ),
                json_values,
            )
        ),
    }
    if draw(st.booleans()):
        base.pop(draw(st.sampled_from(sorted(base))))
    text = json.dumps(base)  # JSON is YAML
    if draw(st.integers(0, 4)) == 0:
        text = draw(st.one_of(odd_text, st.just("a: &a [*a]"), st.just("[" * 50)))
    return text
