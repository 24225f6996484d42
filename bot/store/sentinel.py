"""The bot's own Redis behind Redis Sentinel: URL parsing and client construction.

    redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB][?OPTIONS]

- HOST:PORT are the Sentinels (port 26379 when omitted; IPv6 as ``[::1]:26379``).
- MASTER is the name the Sentinels monitor (``sentinel monitor MASTER …``).
- DB is the database number on the master (0 when omitted).
- USER:PASSWORD authenticate to the master and its replicas (``requirepass`` /
  ACL); percent-encode special characters.
- OPTIONS: ``sentinel_password`` and ``sentinel_username`` when the Sentinels
  themselves require auth (their own ``requirepass``); nothing else is accepted,
  so a misspelt option is an error rather than silently ignored.

The client asks the Sentinels for the current master before each new
connection; after a failover a write that lands on the demoted master
(READONLY) or a dropped connection makes redis-py reconnect to the new master
(its default retry), so the store follows the master without a restart.

A planned failover (``SENTINEL FAILOVER``) leaves the old master up and still
accepting writes until the Sentinels demote it, up to ~10 s later, and what is
written there meanwhile is lost when it resyncs as a replica. So the store also
asks where the master is every second (:func:`follow_master`) and drops every
connection to a master that is no longer the master.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.logs import get_logger, register_secret

log = get_logger("store")
SCHEME = "redis+sentinel"
FOLLOW_INTERVAL = 1.0  # seconds between checks of where the master is
DEFAULT_PORT = 26379
OPTIONS = {"sentinel_password", "sentinel_username"}
FORMAT = "redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]"


@dataclass(frozen=True)
class SentinelURL:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def is_sentinel_url(url: str) -> bool:
    return url.lower().startswith(SCHEME + "://")


def _host_port(item: str) -> tuple[str, int]:
    if item.startswith("["):  # [v6]:port
        host, sep, rest = item[1:].partition("]")
        if not sep or not host:
            raise ValueError(f"sentinel address {item!r}: unclosed '[' in an IPv6 address")
        port_text = rest[1:] if rest.startswith(":") else rest
        if rest and not rest.startswith(":"):
            raise ValueError(f"sentinel address {item!r}: expected ':port' after ']'")
    else:
        host, _, port_text = item.partition(":")
        if not host:
            raise ValueError(f"sentinel address {item!r} has no host")
    if not port_text:
        return host, DEFAULT_PORT
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"sentinel address {item!r}: port must be a number from 1 to 65535")
    return host, int(port_text)


def parse_sentinel_url(url: str) -> SentinelURL:
    """The parts of a ``redis+sentinel://`` URL; ValueError saying what is wrong."""
    if not is_sentinel_url(url):
        raise ValueError(f"not a {SCHEME}:// URL; expected {FORMAT}")
    rest = url[len(SCHEME) + 3 :]
    rest, _, query = rest.partition("?")
    rest, _, fragment = rest.partition("#")
    if fragment:
        raise ValueError("a sentinel URL takes no '#fragment'")
    netloc, _, path = rest.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        hosts, userinfo = netloc, ""
    username = password = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None  # as redis://: ":password@" is password-only
        password = unquote(secret) if colon and secret else None
    items = [h.strip() for h in hosts.split(",")]
    if not hosts or any(not h for h in items):
        raise ValueError(f"no sentinel host:port list; expected {FORMAT}")
    sentinels = tuple(_host_port(h) for h in items)
    parts = [p for p in path.split("/") if p != ""] if path else []
    if not parts:
        raise ValueError(f"no master name after the sentinel list; expected {FORMAT}")
    if len(parts) > 2:
        raise ValueError(f"too many path parts {path!r}; expected /master[/db]")
    master = unquote(parts[0])
    db = 0
    if len(parts) == 2:
        if not parts[1].isdigit():
            raise ValueError(f"database {parts[1]!r} must be a number")
        db = int(parts[1])
    options = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    unknown = sorted(set(options) - OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(OPTIONS))}"
        )
    return SentinelURL(
        sentinels,
        master,
        db,
        username,
        password,
        options.get("sentinel_username") or None,
        options.get("sentinel_password") or None,
    )


def sentinel_client(url: str, **connection: Any) -> tuple[aioredis.Redis, Sentinel]:
    """A client for the current master of ``url``, and the Sentinel manager behind it
    (the caller closes both). ``connection`` are redis-py connection options
    (timeouts, health checks) used for the master and the Sentinels alike."""
    parsed = parse_sentinel_url(url)
    # the whole URL is masked in logs already; the decoded passwords are not
    register_secret(parsed.password)
    register_secret(parsed.sentinel_password)
    socket_options = {k: v for k, v in connection.items() if k.startswith("socket_")}
    sentinel_auth = {
        k: v
        for k, v in {
            "username": parsed.sentinel_username,
            "password": parsed.sentinel_password,
        }.items()
        if v
    }
    # No retries per Sentinel: discovery already moves on to the next one, and
    # redis-py's default retry would spend seconds on every Sentinel that is down.
    manager = Sentinel(
        list(parsed.sentinels),
        sentinel_kwargs={**socket_options, **sentinel_auth, "retry": Retry(NoBackoff(), 0)},
    )
    client = manager.master_for(
        parsed.master,
        db=parsed.db,
        username=parsed.username,
        password=parsed.password,
        **connection,
    )
    return client, manager


async def follow_master(client: aioredis.Redis, interval: float = FOLLOW_INTERVAL) -> None:
    """Until cancelled: when the Sentinels name another master, close every
    connection of ``client`` (idle and in use) so the next command reconnects to it."""
    pool = client.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return
    while True:
        await asyncio.sleep(interval)
        previous = pool.master_address
        try:
            current = await pool.sentinel_manager.discover_master(pool.service_name)
        except (RedisError, OSError):
            continue  # no Sentinel answers: the connections themselves will say so
        if previous is None or current == previous:
            continue
        log.warning(
            "redis master moved (sentinel failover): reconnecting",
            master=pool.service_name,
            old=f"{previous[0]}:{previous[1]}",
            new=f"{current[0]}:{current[1]}",
        )
        pool.master_address = current
        try:
            await pool.disconnect(inuse_connections=True)
        except (RedisError, OSError) as exc:
            log.warning("closing connections to the old master failed", error=str(exc))
