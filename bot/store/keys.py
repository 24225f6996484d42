"""Every name the bot keeps in its store, in one place (as arq's ``constants.py``).

Two layers. The Redis store maps the logical names below onto real Redis keys
(``PREFIX`` + ``:lock:`` / ``:v:`` / ``:incident:``); the memory store keeps the
logical names as they are. Callers use only the logical names: a lock name for
:func:`bot.store.lease.leased`, a value key for ``get_value``/``set_value``.
"""

from __future__ import annotations

# -- physical Redis keys (bot/store/redis.py) ---------------------------------------
PREFIX = "honua-bot"
STREAM = f"{PREFIX}:alerts"  # the alert queue (a Stream with a consumer group)
DEAD = f"{PREFIX}:alerts:dead"  # entries delivered too often
AUDIT = f"{PREFIX}:audit"  # the audit Stream
INDEX = f"{PREFIX}:incidents"  # sorted set of incident ids by time


def redis_incident(incident_id: str) -> str:
    return f"{PREFIX}:incident:{incident_id}"


def redis_lock(name: str) -> str:
    return f"{PREFIX}:lock:{name}"


def redis_value(key: str) -> str:
    return f"{PREFIX}:v:{key}"


# -- lock names (leases) -------------------------------------------------------------
def incident_lock(incident_id: str) -> str:
    """Held by the worker handling an alert and by every change to the incident."""
    return f"incident:{incident_id}"


def action_lock(incident_id: str, action: str) -> str:
    """One run of an action per incident at a time (and the recovery check)."""
    return f"action:{incident_id}:{action}"


def approvals_lock(incident_id: str, action: str) -> str:
    return f"{action_lock(incident_id, action)}:approvals"


def target_lock(action_type: str, target: str) -> str:
    """One run per target at a time, across incidents and replicas."""
    return f"target:{action_type}:{target}"


# -- value keys ----------------------------------------------------------------------
def action_once(incident_id: str, action: str, nonce: str) -> str:
    """A button's nonce: the same click acts once."""
    return f"action:once:{incident_id}:{action}:{nonce}"


def incident_family(family: str) -> str:
    """The incident the variants of one alert (labels but ``severity``) share."""
    return f"incident:family:{family}"


def queue_waits(entry_id: str) -> str:
    """How often a queue entry found its incident busy."""
    return f"queue:waits:{entry_id}"


SAFETY = "safety"
PAUSED = f"{SAFETY}:paused"  # the kill switch set by `honua-bot pause` / /admin


def cooldown(action_type: str, target: str) -> str:
    return f"{SAFETY}:cooldown:{action_type}:{target}"


def hourly_runs(rule: str, action: str, hour: int) -> str:
    return f"{SAFETY}:rate:{rule}:{action}:{hour}"


def breaker(action_type: str, target: str) -> str:
    return f"{SAFETY}:breaker:{action_type}:{target}"


def approvals(incident_id: str, action: str) -> str:
    return f"{SAFETY}:approvals:{incident_id}:{action}"


def config_last_known_good(namespace: str, name: str) -> str:
    """The ConfigMap data the bot replaced with its last edit."""
    return f"honua-bot:config:lkg:{namespace}/{name}"


def config_snapshot(namespace: str, name: str) -> str:
    """The versions of a ConfigMap the probe (and the bot's edits) last saw."""
    return f"honua-bot:config:snap:{namespace}/{name}"


# Slack (bot/notify/slack): the keys of its message state and pacing are still
# spelled in state.py and notifier.py, which the outbox work (#14) rewrites.
SLACK_GROUPS = "slack:groups"  # user-group membership, cached


def slack_seen(signature: str) -> str:
    """A signed request already answered (replay protection)."""
    return f"slack:seen:{signature}"


def slack_click(value: str, user: str) -> str:
    """The same button pressed twice by the same person acts once."""
    return f"slack:once:{value}:{user}"
