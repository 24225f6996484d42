"""The bot's own store behind Redis Sentinel (``redis+sentinel://`` URLs).

First the URL format (pure parsing, no I/O), then real processes: a password-
protected redis-server master and replica and a real ``redis-server --sentinel``
(with its own password) monitoring them, on free loopback ports. The bot's store
reaches the master only through the Sentinel URL; after ``SENTINEL FAILOVER`` it
follows the promoted replica without a restart.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import ValidationError

from bot.config import Settings
from bot.models import Incident
from bot.models.alertmanager import Alert
from bot.store import ResilientStore, build_store
from bot.store.redis import PREFIX, STREAM
from bot.store.sentinel import SentinelURL, parse_sentinel_url
from tests.helpers import alert, free_port, notification, wait_for, wait_for_sync
from tests.integration.serve_support import (  # noqa: F401 - `serve` is a fixture
    StartServe,
    serve,
    write_rules,
)

MASTER = "honua-bot-store"
DATA_PASSWORD = "data p@ss"  # a space and an '@': percent-encoded in the URL
SENTINEL_PASSWORD = "sentinel-secret"
RULE = """\
name: sentinel-check
match:
  alertname: SentinelCheck
diagnosis:
  - scenario: reached
    when: 'true'
"""

# --- the URL format -------------------------------------------------------------


def test_full_sentinel_url_is_parsed_into_its_parts() -> None:
    url = (
        "redis+sentinel://bot:p%40ss@10.0.0.1:26380,sentinel-b,[::1]:26381/mymaster/3"
        "?sentinel_password=s3cret&sentinel_username=watcher"
    )
    assert parse_sentinel_url(url) == SentinelURL(
        sentinels=(("10.0.0.1", 26380), ("sentinel-b", 26379), ("::1", 26381)),
        master="mymaster",
        db=3,
        username="bot",
        password="p@ss",
        sentinel_username="watcher",
        sentinel_password="s3cret",
    )


def test_minimal_sentinel_url_defaults_port_db_and_auth() -> None:
    assert parse_sentinel_url("redis+sentinel://s1/mymaster") == SentinelURL(
        sentinels=(("s1", 26379),), master="mymaster"
    )
    password_only = parse_sentinel_url("redis+sentinel://:pw@s1:1,s2:2/m/0")
    assert (password_only.username, password_only.password) == (None, "pw")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://s1:26379", "no master name"),
        ("redis+sentinel:///mymaster", "no sentinel host"),
        ("redis+sentinel://s1,,s2/mymaster", "no sentinel host"),
        ("redis+sentinel://s1:port/mymaster", "port must be a number"),
        ("redis+sentinel://s1:70000/mymaster", "port must be a number"),
        ("redis+sentinel://s1/mymaster/zero", "database 'zero' must be a number"),
        ("redis+sentinel://s1/mymaster/0/extra", "too many path parts"),
        ("redis+sentinel://s1/mymaster?sentinel_pasword=x", "unknown option(s) sentinel_pasword"),
        ("redis+sentinel://[::1/mymaster", "unclosed '['"),
    ],
)
def test_malformed_sentinel_url_is_refused_saying_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_sentinel_url(url)
    assert says in str(err.value)


def test_malformed_sentinel_url_in_settings_names_the_setting_and_hides_the_password() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(redis_url="redis+sentinel://:hunter2@s1:26379")
    text = str(err.value)
    assert "HONUA_BOT_REDIS_URL (redis_url)" in text and "no master name" in text
    assert "hunter2" not in text
    ok = Settings(redis_url="redis+sentinel://:hunter2@s1:26379/mymaster")
    assert ok.store.redis_url is not None


# --- real redis-server master, replica and sentinel ----------------------------------


class RedisProcess:
    """A redis-server (data node or ``--sentinel``) from a config file in ``workdir``
    (Sentinel rewrites its config file, so it must be writable)."""

    def __init__(self, workdir: Path, name: str, lines: list[str], sentinel: bool = False) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed"
        self.port = free_port()
        self.config = workdir / f"{name}.conf"
        self.config.write_text(
            "\n".join(
                [
                    f"port {self.port}",
                    "bind 127.0.0.1",
                    f"dir {workdir}",
                    *([] if sentinel else ['save ""', "appendonly no"]),
                    *lines,
                ]
            )
            + "\n"
        )
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [binary, str(self.config), *(["--sentinel"] if sentinel else [])],
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def client(self, password: str | None) -> redis.Redis:
        return redis.Redis(port=self.port, password=password, socket_timeout=2)

    def wait_up(self, password: str | None) -> None:
        client = self.client(password)

        def pings() -> bool:
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            wait_for_sync(pings, timeout=10)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class SentinelSetup:
    master: RedisProcess
    replica: RedisProcess
    sentinel: RedisProcess
    dead_sentinel_port: int  # listed first in the URL: nothing listens there

    @property
    def url(self) -> str:
        return (
            f"redis+sentinel://:{DATA_PASSWORD.replace(' ', '%20').replace('@', '%40')}@"
            f"127.0.0.1:{self.dead_sentinel_port},127.0.0.1:{self.sentinel.port}/{MASTER}/2"
            f"?sentinel_password={SENTINEL_PASSWORD}"
        )

    def sentinel_client(self) -> redis.Redis:
        return self.sentinel.client(SENTINEL_PASSWORD)

    def master_port(self) -> int:
        with self.sentinel_client() as s:
            _, port = s.sentinel_get_master_addr_by_name(MASTER)
        return int(port)


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[SentinelSetup]:
    auth = [
        f'requirepass "{DATA_PASSWORD}"',
        f'masterauth "{DATA_PASSWORD}"',
        "repl-diskless-sync-delay 0",  # the replica syncs at once, not after 5 s
    ]
    started: list[RedisProcess] = []
    try:
        master = RedisProcess(tmp_path, "master", auth)
        started.append(master)
        master.wait_up(DATA_PASSWORD)
        replica = RedisProcess(tmp_path, "replica", [*auth, f"replicaof 127.0.0.1 {master.port}"])
        started.append(replica)
        replica.wait_up(DATA_PASSWORD)

        # the Sentinel learns of replicas from the master's INFO, which it reads
        # at once and then every 10 s: start it once the replica is in sync
        def in_sync() -> bool:
            with replica.client(DATA_PASSWORD) as c:
                return c.info("replication").get("master_link_status") == "up"

        wait_for_sync(in_sync, timeout=10)
        sentinel = RedisProcess(
            tmp_path,
            "sentinel",
            [
                f'requirepass "{SENTINEL_PASSWORD}"',
                f"sentinel monitor {MASTER} 127.0.0.1 {master.port} 1",
                f'sentinel auth-pass {MASTER} "{DATA_PASSWORD}"',
                f"sentinel down-after-milliseconds {MASTER} 2000",
                f"sentinel failover-timeout {MASTER} 10000",
            ],
            sentinel=True,
        )
        started.append(sentinel)
        sentinel.wait_up(SENTINEL_PASSWORD)
        yield SentinelSetup(master, replica, sentinel, free_port())
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture
async def store(sentinel_setup: SentinelSetup) -> AsyncIterator[Any]:
    built = build_store(sentinel_setup.url, max_queue=100, check_interval=0.2)
    await built.start()
    yield built
    await built.close()


def _incident(fingerprint: str) -> Incident:
    return Incident.from_alert(Alert.model_validate(alert(fingerprint=fingerprint)))


async def _round_trip(store: Any, fingerprint: str) -> str:
    """Queue an entry, take it, store an incident, ack: the store's whole cycle."""
    entry_id = await store.enqueue(f'{{"fp": "{fingerprint}"}}'.encode())
    taken = await store.dequeue("consumer-1", 10, 1000)
    assert [(e.id, e.origin) for e in taken] == [(entry_id, "redis")]
    incident = _incident(fingerprint)
    await store.save_incident(incident, 3600)
    found = await store.get_incident(incident.id)
    assert found is not None and found.fingerprint == fingerprint
    await store.ack(taken[0])
    return incident.id


def _on_node(node: RedisProcess, incident_id: str) -> bool:
    with node.client(DATA_PASSWORD) as c:
        c.select(2)  # the URL's database
        return bool(c.exists(f"{PREFIX}:incident:{incident_id}"))


async def test_store_through_sentinel_url_queues_and_stores_on_the_master(
    sentinel_setup: SentinelSetup, store: Any
) -> None:
    assert isinstance(store, ResilientStore)
    incident_id = await _round_trip(store, "fp-sentinel-1")
    assert not store.degraded, store.degraded_reason
    # it really is the master, database 2, reached through the Sentinel
    assert _on_node(sentinel_setup.master, incident_id)
    with sentinel_setup.master.client(DATA_PASSWORD) as c:
        c.select(2)
        assert c.xlen(STREAM) == 0  # acked entries are deleted
        assert c.xinfo_groups(STREAM)[0]["name"] == b"workers"


async def test_wrong_data_password_leaves_the_store_degraded_saying_so(
    sentinel_setup: SentinelSetup,
) -> None:
    wrong = sentinel_setup.url.replace(
        DATA_PASSWORD.replace(" ", "%20").replace("@", "%40"), "wrong"
    )
    store = build_store(wrong, max_queue=10, check_interval=5)
    await store.start()
    try:
        assert isinstance(store, ResilientStore)
        assert store.degraded
        assert "WRONGPASS" in (store.degraded_reason or "") or "invalid" in (
            store.degraded_reason or ""
        ), store.degraded_reason
    finally:
        await store.close()


async def test_store_follows_the_master_across_a_sentinel_failover(
    sentinel_setup: SentinelSetup, store: Any
) -> None:
    setup = sentinel_setup
    before = await _round_trip(store, "fp-before-failover")

    # the replica has the data and the Sentinel knows it as a healthy replica
    wait_for_sync(lambda: _on_node(setup.replica, before), timeout=10)

    def replica_known() -> bool:
        with setup.sentinel_client() as s:
            replicas = s.sentinel_slaves(MASTER)
        return any(
            r["port"] == setup.replica.port
            and not r["is_sdown"]
            and r["master-link-status"] == "ok"
            for r in replicas
        )

    wait_for_sync(replica_known, timeout=15, interval=0.2)

    with setup.sentinel_client() as s:
        assert s.execute_command("SENTINEL", "FAILOVER", MASTER)
    wait_for_sync(lambda: setup.master_port() == setup.replica.port, timeout=20, interval=0.2)
    promoted = time.monotonic()

    # The old master is still up and still takes writes until the Sentinel demotes
    # it (up to ~10 s later); what lands there is lost when it resyncs. The same
    # store object (no restart) must move its writes to the new master at once.
    async def lands_on_new_master() -> bool:
        probe = _incident(f"fp-probe-{time.monotonic_ns()}")
        await store.save_incident(probe, 3600)
        return _on_node(setup.replica, probe.id)

    await wait_for(lands_on_new_master, timeout=5, interval=0.2)
    assert time.monotonic() - promoted < 5

    after = await _round_trip(store, "fp-after-failover")
    assert not store.degraded, store.degraded_reason
    assert _on_node(setup.replica, after)  # written on the new master
    assert _on_node(setup.replica, before)  # and what was there before survived
    found = await store.get_incident(before)
    assert found is not None and found.fingerprint == "fp-before-failover"


async def test_serve_with_a_sentinel_url_processes_an_alert_on_the_master(
    sentinel_setup: SentinelSetup,
    serve: StartServe,  # noqa: F811
    tmp_path: Path,
) -> None:
    rules = write_rules(tmp_path / "rules", RULE)
    bot = serve("sentinel-bot", HONUA_BOT_REDIS_URL=sentinel_setup.url, HONUA_BOT_RULES=str(rules))
    await bot.wait_ready()
    a = alert("SentinelCheck", fingerprint="fp-sentinel-serve")
    incident_id = Alert.model_validate(a).incident_id
    async with httpx.AsyncClient(base_url=bot.url, timeout=5) as http:
        ready = (await http.get("/readyz")).json()
        assert ready["degraded"] == [] and ready["store"] == "ResilientStore"
        assert (await http.post("/alerts", json=notification(a))).status_code == 200

    def notified() -> bool:
        with sentinel_setup.master.client(DATA_PASSWORD) as c:
            c.select(2)
            raw = c.get(f"{PREFIX}:incident:{incident_id}")
        return raw is not None and Incident.model_validate_json(raw).notified == ["diagnosed"]

    wait_for_sync(notified, timeout=10)
    assert bot.stop() == 0, bot.diagnostics()
    assert bot.stdout.count(incident_id) == 1
    # the password never reaches the logs
    assert DATA_PASSWORD not in bot.stderr and SENTINEL_PASSWORD not in bot.stderr
