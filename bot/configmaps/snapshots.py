"""Earlier versions of a ConfigMap's data, kept in the bot's store so a bad edit can
be undone (Runbook 1 scenario D: "restore the previous configuration").

Two records per ConfigMap:

* ``honua-bot:config:lkg:NS/NAME`` — the data the bot replaced with its last edit
  (saved before it writes);
* ``honua-bot:config:snap:NS/NAME`` — ``current`` and ``previous``: the versions the
  ``kubernetes.config_history`` probe (and the bot's own edits) last saw.

The earlier version to restore is the one live most recently before the current
data, among those whose entry differs from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.store import keys

if TYPE_CHECKING:
    from bot.store.base import Store

TTL_SECONDS = 30 * 86400
SAVED_BY_BOT = "the copy honua-bot saved before its last edit"
SEEN = "the version seen before the current one"


def lkg_key(namespace: str, name: str) -> str:
    return keys.config_last_known_good(namespace, name)


def snapshot_key(namespace: str, name: str) -> str:
    return keys.config_snapshot(namespace, name)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # fine enough to order edits


@dataclass(frozen=True)
class Version:
    data: dict[str, str]
    resource_version: str
    until: str  # when it stopped being live (ISO), for "most recent" ordering
    source: str


def _version(raw: Any) -> dict[str, Any] | None:
    """A stored version record, or None when absent or malformed."""
    if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
        return None
    return raw


async def _load(store: Store, key: str) -> dict[str, Any] | None:
    text = await store.get_value(key)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def choose_earlier(
    lkg: dict[str, Any] | None,
    snapshot: dict[str, Any] | None,
    live_rv: str,
    live_data: dict[str, str],
    entry: str,
    now: str,
) -> Version | None:
    """The most recently live earlier version whose ``entry`` differs from the live one."""
    candidates: list[Version] = []
    saved = _version(lkg)
    if saved is not None:
        candidates.append(
            Version(
                saved["data"],
                str(saved.get("resource_version", "")),
                str(saved.get("saved_at", "")),
                SAVED_BY_BOT,
            )
        )
    current = _version((snapshot or {}).get("current"))
    previous = _version((snapshot or {}).get("previous"))
    if current is not None and str(current.get("resource_version")) != live_rv:
        # live until some time after it was seen: the newest known before the live one
        candidates.append(
            Version(current["data"], str(current.get("resource_version", "")), now, SEEN)
        )
    if previous is not None:
        until = str((current or {}).get("seen_at", ""))
        candidates.append(
            Version(previous["data"], str(previous.get("resource_version", "")), until, SEEN)
        )
    differing = [c for c in candidates if c.data.get(entry) != live_data.get(entry)]
    return max(differing, key=lambda c: c.until) if differing else None


def next_snapshot(
    snapshot: dict[str, Any] | None, resource_version: str, data: dict[str, str], now: str
) -> dict[str, Any] | None:
    """The snapshot record after seeing ``data`` at ``resource_version`` (None: no change).
    A new resourceVersion with the same data (a label edit) keeps the previous version."""
    current = _version((snapshot or {}).get("current"))
    if current is not None and str(current.get("resource_version")) == resource_version:
        return None
    seen = {"resource_version": resource_version, "data": data, "seen_at": now}
    if current is not None and current["data"] == data:
        return {"current": seen, "previous": (snapshot or {}).get("previous")}
    return {"current": seen, "previous": current}


async def record_snapshot(
    store: Store, namespace: str, name: str, resource_version: str, data: dict[str, str]
) -> None:
    key = snapshot_key(namespace, name)
    updated = next_snapshot(await _load(store, key), resource_version, data, now_iso())
    if updated is not None:
        await store.set_value(key, json.dumps(updated), ttl_seconds=TTL_SECONDS)


async def save_last_known_good(
    store: Store, namespace: str, name: str, resource_version: str, data: dict[str, str]
) -> str | None:
    """Save the data about to be replaced; returns what the key held (to put back
    if the write then fails)."""
    key = lkg_key(namespace, name)
    before = await store.get_value(key)
    record = {"resource_version": resource_version, "data": data, "saved_at": now_iso()}
    await store.set_value(key, json.dumps(record), ttl_seconds=TTL_SECONDS)
    return before


async def put_back_last_known_good(
    store: Store, namespace: str, name: str, before: str | None
) -> None:
    key = lkg_key(namespace, name)
    if before is None:
        await store.delete_value(key)
    else:
        await store.set_value(key, before, ttl_seconds=TTL_SECONDS)


async def earlier_version(
    store: Store, namespace: str, name: str, live_rv: str, live_data: dict[str, str], entry: str
) -> Version | None:
    lkg = await _load(store, lkg_key(namespace, name))
    snapshot = await _load(store, snapshot_key(namespace, name))
    return choose_earlier(lkg, snapshot, live_rv, live_data, entry, now_iso())
