"""Webhook parsing, bearer auth, durations and the processes summary: pure logic."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.intake import IntakeError, check_bearer, parse
from bot.models import Alert, WebhookMessage
from bot.probes.processes import ProcessList, summarise
from bot.rules.durations import parse_duration

STARTS = "2026-11-27T03:00:00Z"


def alert(**overrides: Any) -> dict[str, Any]:
    base = {
        "status": "firing",
        "labels": {"alertname": "HighProcessFailureRate", "namespace": "honua"},
        "annotations": {"summary": "failures"},
        "startsAt": STARTS,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": "4a7c1e0f9b2d3c11",
    }
    return {**base, **overrides}


def body(**overrides: Any) -> bytes:
    message = {"version": "4", "status": "firing", "receiver": "bot", "alerts": [alert()]}
    return json.dumps({**message, **overrides}).encode()


def without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


def test_parse_real_shaped_payload() -> None:
    message = parse(
        body(
            notification_reason="repeat",  # newer Alertmanager field: ignored, not rejected
            groupKey='{}:{alertname="HighProcessFailureRate"}',
            truncatedAlerts=0,
            externalURL="http://am:9093",
            alerts=[alert(someFutureField={"x": 1})],
        )
    )
    (a,) = message.alerts
    assert message.external_url == "http://am:9093"
    assert a.alertname == "HighProcessFailureRate"
    assert a.starts_at == datetime(2026, 11, 27, 3, tzinfo=UTC)
    assert a.ends_at is not None and a.ends_at.year == 1  # the zero time of a firing alert
    assert a.fingerprint == "4a7c1e0f9b2d3c11"


def labelled(labels: dict[str, str], starts: str = STARTS) -> Alert:
    return Alert.model_validate(without(alert(labels=labels, startsAt=starts), "fingerprint"))


def test_missing_fingerprint_is_derived_from_labels() -> None:
    a = labelled({"alertname": "A", "pod": "p1"})
    assert len(a.fingerprint) == 16
    assert labelled({"pod": "p1", "alertname": "A"}).fingerprint == a.fingerprint
    assert labelled({"alertname": "A", "pod": "p2"}).fingerprint != a.fingerprint
    assert labelled({"alertname": "A"}).fingerprint != a.fingerprint
    assert labelled({"alertname": "A", "pod": "p1"}, "2026-11-28T00:00:00Z").fingerprint == (
        a.fingerprint
    )


def test_incident_id_is_one_per_firing_episode() -> None:
    first = Alert.model_validate(alert())
    assert first.incident_id.startswith("inc-")
    assert Alert.model_validate(alert(annotations={"changed": "yes"})).incident_id == (
        first.incident_id
    )
    assert Alert.model_validate(alert(status="resolved")).incident_id == first.incident_id
    assert Alert.model_validate(alert(startsAt="2026-11-27T04:00:00Z")).incident_id != (
        first.incident_id
    )
    assert Alert.model_validate(alert(fingerprint="other")).incident_id != first.incident_id


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (body(alerts=[]), "alerts: "),
        (body(status="pending"), "status: Input should be 'firing' or 'resolved'"),
        (json.dumps(without(json.loads(body()), "status")).encode(), "status: Field required"),
        (body(alerts=[without(alert(), "startsAt")]), "alerts.0.startsAt: Field required"),
        (body(alerts=[alert(), alert(startsAt="yesterday")]), "alerts.1.startsAt: "),
        (body(alerts=[alert(status="bogus")]), "alerts.0.status: "),
        (body(alerts=[alert(labels={"a": 1})]), "alerts.0.labels.a: "),
        (b"[]", "(body): "),
    ],
)
def test_schema_errors_are_400_naming_the_field(payload: bytes, expected: str) -> None:
    with pytest.raises(IntakeError) as info:
        parse(payload)
    assert (info.value.status, info.value.reason) == (400, "invalid")
    assert info.value.message.startswith(expected), info.value.message


@pytest.mark.parametrize("payload", [b"", b"{", b"not json", b'{"status": "firing",}'])
def test_invalid_json_is_400(payload: bytes) -> None:
    with pytest.raises(IntakeError) as info:
        parse(payload)
    assert info.value.status == 400
    assert info.value.message.startswith("invalid JSON"), info.value.message


def test_many_errors_are_capped() -> None:
    bad = [without(alert(), "startsAt") for _ in range(7)]
    with pytest.raises(IntakeError) as info:
        parse(body(alerts=bad))
    assert info.value.message.count("startsAt: Field required") == 5
    assert info.value.message.endswith("(+2 more)")


def test_webhook_message_model_direct() -> None:
    message = WebhookMessage.model_validate(json.loads(body(commonLabels={"a": "b"})))
    assert message.common_labels == {"a": "b"}
    assert message.truncated_alerts == 0


@pytest.mark.parametrize(
    "header", ["Bearer s3cret", "bearer s3cret", "BEARER s3cret", "Bearer  s3cret "]
)
def test_bearer_accepted(header: str) -> None:
    check_bearer(header, "s3cret")


@pytest.mark.parametrize("header", [None, "", "anything", "Bearer wrong"])
def test_no_token_configured_means_no_auth(header: str | None) -> None:
    check_bearer(header, None)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing bearer token"),
        ("", "missing bearer token"),
        ("Bearer", "missing bearer token"),
        ("Bearer ", "missing bearer token"),
        ("s3cret", "missing bearer token"),
        ("Basic s3cret", "missing bearer token"),
        ("Token s3cret", "missing bearer token"),
        ("Bearer wrong", "wrong bearer token"),
        ("Bearer s3cre", "wrong bearer token"),
        ("Bearer s3cret2", "wrong bearer token"),
        ("Bearer S3CRET", "wrong bearer token"),
    ],
)
def test_bearer_rejected_with_401(header: str | None, reason: str) -> None:
    with pytest.raises(IntakeError) as info:
        check_bearer(header, "s3cret")
    assert (info.value.status, info.value.reason, info.value.message) == (
        401,
        "unauthorized",
        reason,
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("250ms", 0.25),
        ("1m30s", 90.0),
        (" 10s ", 10.0),
        (90, 90.0),
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value", ["", "soon", "5 m", "5min", "m5", "-5s", "1h-30m", -1, True, None, [], "5mm"]
)
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def proc(
    pid: str, error: str | None, started: str | None = "2026-11-27T11:00:00Z"
) -> dict[str, Any]:
    return {
        "processId": pid,
        "processType": "Ingest",
        "status": "Failed",
        "errorMessage": error,
        "startedAt": started,
        "secret": "not copied",
    }


PROCS = [
    proc("p1", "429 Too Many Requests"),
    proc("p2", "Redis connection failed", "2026-11-27T11:55:00Z"),
    proc("p3", "429 Too Many Requests", "2026-11-27T09:00:00Z"),
    proc("p4", "429 Too Many Requests", "2026-11-27T11:59:00+00:00"),
    proc("p5", None, None),
]


def test_summarise_groups_and_top() -> None:
    result = summarise(PROCS, ProcessList(group_by="errorMessage", top=2, sample=2), NOW)
    assert result["count"] == 5
    assert result["top"] == {
        "key": "429 Too Many Requests",
        "message": "429 Too Many Requests",
        "count": 3,
    }
    assert [(g["key"], g["count"]) for g in result["groups"]] == [
        ("429 Too Many Requests", 3),
        ("Redis connection failed", 1),
    ]
    assert [p["processId"] for p in result["processes"]] == ["p1", "p2"]
    assert "secret" not in result["processes"][0]


def test_summarise_without_group_by_has_no_top() -> None:
    result = summarise(PROCS, ProcessList(), NOW)
    assert result["count"] == 5
    assert "top" not in result and "groups" not in result


@pytest.mark.parametrize(
    ("older_than", "ids"),
    [
        ("30m", ["p1", "p3"]),
        ("2h", ["p3"]),
        ("1m", ["p1", "p2", "p3"]),  # p4 started 60 s ago: not strictly older
        ("1d", []),
    ],
)
def test_summarise_older_than(older_than: str, ids: list[str]) -> None:
    params = ProcessList.model_validate({"older_than": older_than, "group_by": "errorMessage"})
    result = summarise(PROCS, params, NOW)
    assert [p["processId"] for p in result["processes"]] == ids
    assert result["count"] == len(ids)
    assert sum(g["count"] for g in result["groups"]) == len(ids)


def test_summarise_empty() -> None:
    result = summarise([], ProcessList(group_by="errorMessage"), NOW)
    assert result == {
        "count": 0,
        "processes": [],
        "groups": [],
        "top": {"key": "", "message": "", "count": 0},
    }


def test_one_instant_written_with_two_offsets_is_one_incident() -> None:
    from bot.models import Alert

    utc = Alert.model_validate(
        {"status": "firing", "labels": {"a": "b"}, "startsAt": "2026-11-27T03:00:00Z"}
    )
    cest = Alert.model_validate(
        {"status": "firing", "labels": {"a": "b"}, "startsAt": "2026-11-27T05:00:00+02:00"}
    )
    assert utc.incident_id == cest.incident_id
