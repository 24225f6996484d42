"""POST /alerts and the other HTTP endpoints, spoken to over real loopback HTTP.

Every test runs a whole bot (BotHarness: Service + aiohttp app on a free port)
and checks what Alertmanager, a load balancer or an operator would see: the
status code, the JSON error naming the field, and the metrics that count it.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import BotHarness, GatedNotifier, RedisServer, alert, notification, wait_for

TOKEN = "s3cret-webhook-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
MIB = 1024 * 1024
RULE_NAME = "high-process-failure-rate"  # the bundled Runbook 1 rule


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse a /metrics body into {(sample name, sorted labels): value}."""
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def sample(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


async def metrics_text(bot: BotHarness) -> str:
    resp = await bot.http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return resp.text


def assert_error(resp: Any, status: int, *fragments: str) -> str:
    """The answer is a JSON error with this status whose message holds every fragment."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == "error"
    message = body["error"]
    for fragment in fragments:
        assert fragment in message, message
    assert "Traceback" not in resp.text
    return message


async def oversized_chunks(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * chunk
        sent += chunk


# --- 200 ---------------------------------------------------------------------


async def test_valid_notification_is_queued_and_processed() -> None:
    async with BotHarness() as bot:
        resp = await bot.post(notification(alert(fingerprint="fp-valid")))
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"status": "queued", "alerts": 1}
        events = await wait_for(lambda: bot.recorder.events)
        assert events[0][1].fingerprint == "fp-valid"


async def test_200_with_the_redis_store_means_the_body_is_in_the_stream(
    private_redis: RedisServer,
) -> None:
    """A private redis-server: other suites flush the shared test database."""
    import redis.asyncio as aioredis

    from bot.store.redis import GROUP, STREAM

    gate = GatedNotifier()  # the worker holds the first entry: it stays pending, unacked
    bodies = [
        json.dumps(notification(alert(fingerprint=f"fp-redis-{i}"))).encode() for i in range(40)
    ]
    redis_url = private_redis.url
    client = aioredis.Redis.from_url(redis_url)
    try:
        async with BotHarness(notifier=gate, redis_url=redis_url, workers=1) as bot:
            try:
                assert (await bot.http.get("/readyz")).json()["store"] == "ResilientStore"
                answers = await asyncio.gather(
                    *(
                        bot.http.post(
                            "/alerts", content=b, headers={"Content-Type": "application/json"}
                        )
                        for b in bodies
                    )
                )
                assert [r.status_code for r in answers] == [200] * len(bodies)
                # every body answered 200 is in the stream, byte for byte, as its own entry
                stream = await client.xrange(STREAM)
                assert sorted(fields[b"payload"] for _, fields in stream) == sorted(bodies)
                groups = await client.xinfo_groups(STREAM)
                assert [g["name"] for g in groups] == [GROUP.encode()]
            finally:
                gate.release.set()
            await wait_for(lambda: len(gate.events) == len(bodies), timeout=15)
            assert bot.service.degraded_reasons == []
    finally:
        await client.aclose()


async def test_unknown_fields_are_accepted() -> None:
    """Newer Alertmanagers add fields (notification_reason since 0.32): never reject them."""
    a = alert(fingerprint="fp-extra")
    a["someFutureAlertField"] = {"nested": [1, 2, 3]}
    payload = notification(a)
    payload["notification_reason"] = "repeat_interval"
    payload["anotherNewTopLevelKey"] = None
    async with BotHarness() as bot:
        resp = await bot.post(payload)
        assert resp.status_code == 200, resp.text
        events = await wait_for(lambda: bot.recorder.events)
        assert events[0][1].fingerprint == "fp-extra"


# --- 400 ---------------------------------------------------------------------


async def test_invalid_json_is_400_saying_invalid_json() -> None:
    async with BotHarness() as bot:
        resp = await bot.http.post(
            "/alerts",
            content=b'{"status": "firing", ',
            headers={"Content-Type": "application/json"},
        )
        assert_error(resp, 400, "invalid JSON")


async def test_schema_errors_are_400_naming_the_field() -> None:
    bad_starts_at = notification(alert())
    bad_starts_at["alerts"][0]["startsAt"] = "yesterday at noon"
    missing_status = notification(alert())
    del missing_status["status"]
    empty_alerts = notification(alert())
    empty_alerts["alerts"] = []
    wrong_label_type = notification(alert())
    wrong_label_type["alerts"][0]["labels"]["replicas"] = 3
    bad_alert_status = notification(alert())
    bad_alert_status["alerts"][0]["status"] = "exploding"
    cases = [
        (bad_starts_at, "alerts.0.startsAt"),
        (missing_status, "status: Field required"),
        (empty_alerts, "alerts: List should have at least 1 item"),
        (wrong_label_type, "alerts.0.labels.replicas"),
        (bad_alert_status, "alerts.0.status"),
        ([notification(alert())], "(body): Input should be an object"),
    ]
    async with BotHarness() as bot:
        for payload, field in cases:
            assert_error(await bot.post(payload), 400, field)
        # nothing was queued for any of them
        assert await bot.service.store.queue_depth() == 0
        assert bot.recorder.events == []


async def test_garbage_bodies_never_reach_a_5xx_or_a_traceback() -> None:
    deep = 100_000
    garbage: list[bytes] = [
        b"",
        b"\x00\xff\xfe\x80binary\x01\x02",
        bytes(range(256)) * 8,
        b"[" * deep + b"]" * deep,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b"null",
        b"42",
        b'"a string"',
        b"true",
        b'{"status": 5, "alerts": "many"}',
        b'{"status": "firing", "alerts": [null, 1, "x", []]}',
        b'{"status": "firing", "alerts": {"0": {}}}',
        b'{"status": "firing", "alerts": [{"status": "firing", "labels": [], "startsAt": 1e999}]}',
        b'{"status": "firing", "truncatedAlerts": 1e400, "alerts": []}',
        b'{"status": "firing", "truncatedAlerts": 99999999999999999999999999999999, "alerts": []}',
        b'{"status": "\xff\xfe", "alerts": []}',
        b'{"status": "firing", "alerts": [{"status": "firing", "labels": {"a": "\\ud800"}}]}',
        json.dumps({"status": "firing", "alerts": [{"labels": {"x": {"y": {"z": 1}}}}]}).encode(),
        '{"status": "firing", "alerts": [{"startsAt": "\u2603"}]}'.encode(),
    ]
    async with BotHarness(webhook_token=TOKEN) as bot:
        for body in garbage:
            for content_type in ("application/json", "application/octet-stream"):
                resp = await bot.http.post(
                    "/alerts", content=body, headers={**AUTH, "Content-Type": content_type}
                )
                assert resp.status_code == 400, (body[:60], resp.status_code, resp.text)
                message = resp.json()["error"]
                assert message and "Traceback" not in resp.text and 'File "' not in message
        # a non-UTF-8 Authorization header is a wrong token (401), not a server error
        raw = json.dumps(notification(alert())).encode()
        for auth in (b"Bearer \xff\xfe\x80", "Bearer caf\u00e9".encode(), b"\xff\xff"):
            reader, writer = await asyncio.open_connection("127.0.0.1", bot.port)
            writer.write(
                b"POST /alerts HTTP/1.1\r\nHost: bot\r\nContent-Type: application/json\r\n"
                b"Authorization: " + auth + b"\r\n"
                b"Content-Length: "
                + str(len(raw)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + raw
            )
            await writer.drain()
            answer = await reader.read()
            writer.close()
            await writer.wait_closed()
            assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
            assert b"Traceback" not in answer
        # and the bot is still fine
        assert (await bot.http.get("/healthz")).status_code == 200
        assert (await bot.post(notification(alert()), token=TOKEN)).status_code == 200
        assert await bot.service.store.queue_depth() <= 1


# --- 401 ---------------------------------------------------------------------


async def test_bearer_token_required_when_configured() -> None:
    payload = notification(alert(fingerprint="fp-auth"))
    async with BotHarness(webhook_token=TOKEN) as bot:
        assert_error(await bot.post(payload), 401, "missing bearer token")
        assert_error(await bot.post(payload, token="not-the-token"), 401, "wrong bearer token")
        assert_error(await bot.post(payload, token=TOKEN + "x"), 401, "wrong bearer token")
        assert_error(await bot.post(payload, token=TOKEN[:-1]), 401, "wrong bearer token")
        # the right secret under another scheme is not accepted
        for header in (f"Basic {TOKEN}", f"Token {TOKEN}", TOKEN, "Bearer", f"Bearer  {TOKEN}x"):
            resp = await bot.post(payload, headers={"Authorization": header})
            assert_error(resp, 401)
        assert bot.recorder.events == []
        assert await bot.service.store.queue_depth() == 0

        # Alertmanager's http_config.authorization {type: Bearer, credentials: ...}
        resp = await bot.post(payload, token=TOKEN)
        assert resp.status_code == 200, resp.text
        # the scheme is case-insensitive (RFC 7235)
        resp = await bot.post(payload, headers={"Authorization": f"bearer {TOKEN}"})
        assert resp.status_code == 200, resp.text
        events = await wait_for(lambda: bot.recorder.events)
        assert events[0][1].fingerprint == "fp-auth"


# --- 413 ---------------------------------------------------------------------


async def test_body_over_one_mib_is_413_with_content_length_and_chunked() -> None:
    async with BotHarness() as bot:
        # declared size (Content-Length): refused before the body is read
        resp = await bot.http.post(
            "/alerts", content=b" " * (MIB + 1), headers={"Content-Type": "application/json"}
        )
        assert_error(resp, 413, "limit")

        # no Content-Length (chunked transfer encoding): refused while reading
        resp = await bot.http.post(
            "/alerts",
            content=oversized_chunks(2 * MIB),
            headers={"Content-Type": "application/json"},
        )
        assert resp.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in resp.request.headers
        assert_error(resp, 413, "exceeds the limit")

        # a body just under the limit is read (and judged on its content)
        padded = notification(alert(fingerprint="fp-big"))
        padded["commonAnnotations"] = {"padding": "p" * (MIB - 2048)}
        body = json.dumps(padded).encode()
        assert len(body) < MIB
        resp = await bot.http.post(
            "/alerts", content=body, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 200, resp.text

        # the bot keeps serving afterwards
        assert (await bot.http.get("/healthz")).status_code == 200
        resp = await bot.post(notification(alert(fingerprint="fp-after")))
        assert resp.status_code == 200, resp.text
        await wait_for(lambda: len(bot.recorder.events) == 2)
        assert {i.fingerprint for _, i in bot.recorder.events} == {"fp-big", "fp-after"}


# --- 503 ---------------------------------------------------------------------


async def test_full_memory_queue_is_503_so_alertmanager_retries() -> None:
    gate = GatedNotifier()
    async with BotHarness(notifier=gate, memory_queue_size=2, workers=1) as bot:
        try:
            first = await bot.post(notification(alert(fingerprint="fp-q1")))
            assert first.status_code == 200, first.text
            await asyncio.wait_for(gate.entered.wait(), 10)  # the worker is stuck in notify
            second = await bot.post(notification(alert(fingerprint="fp-q2")))
            assert second.status_code == 200, second.text

            # 5xx: Alertmanager retries it with backoff (a 4xx would be dropped for good)
            third = await bot.post(notification(alert(fingerprint="fp-q3")))
            assert_error(third, 503, "queue is full")
            assert await bot.service.store.queue_depth() == 2
        finally:
            gate.release.set()
        # once the queue drains, Alertmanager's retry of the same notification succeeds
        await wait_for(_drained(bot), timeout=10)
        retry = await bot.post(notification(alert(fingerprint="fp-q3")))
        assert retry.status_code == 200, retry.text
        await wait_for(lambda: len(gate.events) == 3)
        assert sorted(i.fingerprint for _, i in gate.events) == ["fp-q1", "fp-q2", "fp-q3"]


def _drained(bot: BotHarness) -> Any:
    async def check() -> bool:
        return await bot.service.store.queue_depth() == 0

    return check


async def test_intake_refuses_with_503_while_shutting_down() -> None:
    async with BotHarness() as bot:
        bot.service.stopping.set()
        resp = await bot.post(notification(alert()))
        assert_error(resp, 503, "shutting down")


# --- health, readiness, metrics ----------------------------------------------------


async def test_healthz_and_readyz() -> None:
    async with BotHarness() as bot:
        resp = await bot.http.get("/healthz")
        assert resp.status_code == 200
        assert resp.json() == {"status": "ok"}

        resp = await bot.http.get("/readyz")
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["ready"] is True
        assert body["problems"] == []
        assert body["degraded"] == []
        loaded = [r.name for r in bot.service.rulebook.current.rules]
        assert RULE_NAME in loaded
        assert body["rules"]["loaded"] == loaded
        assert body["rules"]["last_error"] is None
        assert body["store"] == "MemoryStore"

        bot.service.stopping.set()
        resp = await bot.http.get("/readyz")
        assert resp.status_code == 503, resp.text
        assert resp.json()["ready"] is False
        assert "shutting down" in resp.json()["problems"]
        # liveness is unaffected: the process is fine, it is just draining
        assert (await bot.http.get("/healthz")).status_code == 200


async def test_metrics_count_received_and_every_rejection_reason() -> None:
    gate = GatedNotifier()
    async with BotHarness(
        notifier=gate, webhook_token=TOKEN, memory_queue_size=1, workers=1
    ) as bot:
        try:
            text = await metrics_text(bot)
            for name in (
                "honua_bot_notifications_received_total",
                "honua_bot_notifications_rejected_total",
                "honua_bot_queue_depth",
                "honua_bot_incidents_total",
                "honua_bot_probe_duration_seconds",
            ):
                assert f"# TYPE {name.removesuffix('_total')}" in text, name

            ok = await bot.post(notification(alert(fingerprint="fp-m1")), token=TOKEN)
            assert ok.status_code == 200
            await asyncio.wait_for(gate.entered.wait(), 10)
            resolved = notification(alert(fingerprint="fp-m1", status="resolved"))
            full = await bot.post(resolved, token=TOKEN)
            assert full.status_code == 503  # queue_size 1, the first entry is still pending
            assert (await bot.post(notification(alert()), token=TOKEN)).status_code == 503
            assert (await bot.post(notification(alert()))).status_code == 401
            assert (await bot.post(notification(alert()), token="nope")).status_code == 401
            bad = await bot.http.post("/alerts", content=b"{", headers=AUTH)
            assert bad.status_code == 400
            empty = await bot.post({"status": "firing", "alerts": []}, token=TOKEN)
            assert empty.status_code == 400
            big = await bot.http.post("/alerts", content=b"x" * (MIB + 10), headers=AUTH)
            assert big.status_code == 413
            chunked = await bot.http.post(
                "/alerts", content=oversized_chunks(MIB * 2), headers=AUTH
            )
            assert chunked.status_code == 413

            text = await metrics_text(bot)
            rejected = "honua_bot_notifications_rejected_total"
            assert sample(text, rejected, reason="invalid") == 2
            assert sample(text, rejected, reason="unauthorized") == 2
            assert sample(text, rejected, reason="too_large") == 2
            assert sample(text, rejected, reason="queue_full") == 2
            received = "honua_bot_notifications_received_total"
            assert sample(text, received, status="firing") == 1
            assert sample(text, received, status="resolved") is None

            # the gauge is refreshed in the background: poll until it shows the pending entry
            async def depth_is_one() -> bool:
                return sample(await metrics_text(bot), "honua_bot_queue_depth") == 1

            await wait_for(depth_is_one, timeout=10, interval=0.2)
        finally:
            gate.release.set()


async def test_metrics_incidents_by_rule_and_scenario_and_probe_histograms() -> None:
    async with BotHarness() as bot:
        assert (await bot.post(notification(alert(fingerprint="fp-h1")))).status_code == 200
        assert (await bot.post(notification(alert(fingerprint="fp-h2")))).status_code == 200
        unmatched = alert(alertname="SomethingNoRuleKnows", fingerprint="fp-h3")
        assert (await bot.post(notification(unmatched))).status_code == 200
        await wait_for(lambda: len(bot.recorder.events) == 3)
        by_fp = {i.fingerprint: i for _, i in bot.recorder.events}
        diagnosis = by_fp["fp-h1"].diagnosis
        assert diagnosis is not None and diagnosis.rule == RULE_NAME
        scenario = diagnosis.scenario  # whatever the bundled rule makes of no targets at all

        text = await metrics_text(bot)
        incidents = "honua_bot_incidents_total"
        assert sample(text, incidents, rule=RULE_NAME, scenario=scenario) == 2
        assert sample(text, incidents, rule="", scenario="unclassified") == 1
        assert sample(text, "honua_bot_notifications_received_total", status="firing") == 3

        # one latency observation per probe run, labelled by probe type
        rule = bot.service.rulebook.current.get(RULE_NAME)
        assert rule is not None
        per_type = Counter(p.type for p in rule.probes)
        assert per_type["prometheus.query"] >= 2 and per_type["processes.list"] >= 1
        hist = "honua_bot_probe_duration_seconds"
        all_samples = samples(text)
        for probe_type, runs in per_type.items():
            counts = {
                dict(key)["outcome"]: value
                for (name, key), value in all_samples.items()
                if name == f"{hist}_count" and dict(key)["probe"] == probe_type
            }
            assert sum(counts.values()) == 2 * runs, (probe_type, counts)
            for outcome in counts:
                buckets = {
                    labels["le"]: value
                    for (name, key), value in all_samples.items()
                    if name == f"{hist}_bucket"
                    and (labels := dict(key))["probe"] == probe_type
                    and labels["outcome"] == outcome
                }
                assert {"0.01", "0.5", "5.0", "+Inf"} <= set(buckets), buckets
                assert buckets["+Inf"] == counts[outcome]
        # nothing is configured here, so the probes that need a target report errors
        assert sample(text, f"{hist}_count", probe="processes.list", outcome="error") == (
            2 * per_type["processes.list"]
        )


# --- incidents API -------------------------------------------------------------------


async def test_incidents_list_and_get() -> None:
    async with BotHarness() as bot:
        assert (await bot.post(notification(alert(fingerprint="fp-i1")))).status_code == 200
        events = await wait_for(lambda: bot.recorder.events)
        incident = events[0][1]

        resp = await bot.http.get("/incidents")
        assert resp.status_code == 200
        listed = resp.json()
        assert [i["id"] for i in listed] == [incident.id]
        assert listed[0]["fingerprint"] == "fp-i1"
        assert listed[0]["diagnosis"]["rule"] == RULE_NAME

        assert [i["id"] for i in (await bot.http.get("/incidents?status=open")).json()] == [
            incident.id
        ]
        assert (await bot.http.get("/incidents?status=resolved")).json() == []
        assert_error(await bot.http.get("/incidents?status=bogus"), 400, "status must be")
        assert_error(await bot.http.get("/incidents?limit=many"), 400, "limit must be")

        resp = await bot.http.get(f"/incidents/{incident.id}")
        assert resp.status_code == 200
        got = resp.json()
        assert got["id"] == incident.id
        assert got["diagnosis"]["rule"] == RULE_NAME
        assert got["diagnosis"]["scenario"] == incident.diagnosis.scenario  # type: ignore[union-attr]
        rule = bot.service.rulebook.current.get(RULE_NAME)
        assert rule is not None
        assert set(got["diagnosis"]["findings"]) == {p.name for p in rule.probes}

        assert_error(await bot.http.get("/incidents/inc-doesnotexist"), 404, "inc-doesnotexist")


async def test_incidents_need_the_token_when_one_is_set() -> None:
    async with BotHarness(webhook_token=TOKEN) as bot:
        assert (await bot.post(notification(alert()), token=TOKEN)).status_code == 200
        events = await wait_for(lambda: bot.recorder.events)
        incident_id = events[0][1].id
        for path in ("/incidents", f"/incidents/{incident_id}", "/incidents/inc-unknown"):
            assert_error(await bot.http.get(path), 401, "missing bearer token")
            assert_error(await bot.http.get(path, headers={"Authorization": "Bearer wrong"}), 401)
        assert (await bot.http.get("/incidents", headers=AUTH)).status_code == 200
        assert (await bot.http.get(f"/incidents/{incident_id}", headers=AUTH)).status_code == 200
        assert (await bot.http.get("/incidents/inc-unknown", headers=AUTH)).status_code == 404
        # health endpoints stay open for probes from the kubelet
        assert (await bot.http.get("/healthz")).status_code == 200
        assert (await bot.http.get("/readyz")).status_code == 200
        assert (await bot.http.get("/metrics")).status_code == 200
