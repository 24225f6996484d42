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


def verify_adopt_lock(run_id: str) -> str:
    """One replica adopts a verification `act --no-wait` handed off."""
    return f"verify-adopt:{run_id}"


def restore_offers_lock() -> str:
    """One replica at a time looks for mitigations due a restore offer."""
    return "restore-offers"


def mitigations_index() -> str:
    """The incidents whose runs may leave a mitigation to offer restoring (a sorted
    set by the run's end): the restore scan reads only these, not every incident."""
    return "restore:incidents"


def restore_offers_backfilled() -> str:
    """Incidents recorded before the index existed were indexed once."""
    return "restore:backfilled"


def restore_offered(incident_id: str, run_id: str) -> str:
    """A mitigation's restore was offered in its incident's thread (once per run)."""
    return f"restore:offered:{incident_id}:{run_id}"


# -- Slack (bot/notify/slack) ----------------------------------------------------------
SLACK_GROUPS = "slack:groups"  # user-group membership, cached


def slack_sender_lock(channel: str) -> str:
    """The lease of the replica that posts a channel's outbox."""
    return f"slack-sender:{channel}"


def slack_channel_id(channel: str) -> str:
    """The id Slack answered for a configured channel name."""
    return f"slack:chan-id:{channel}"


# the outbox (bot/notify/slack/outbox.py, docs/slack-outbox.md)
def slack_outbox_head(channel: str) -> str:
    """The channel's last entry number."""
    return f"slack:ob:{channel}:head"


def slack_outbox_done(channel: str) -> str:
    """The sender's cursor (last entry handled)."""
    return f"slack:ob:{channel}:done"


def slack_outbox_entry(channel: str, number: int) -> str:
    """Entry ``number`` (JSON)."""
    return f"slack:ob:{channel}:{number}"


def slack_outbox_epoch(channel: str) -> str:
    """Set by the sender; gone means the store was emptied."""
    return f"slack:ob:{channel}:epoch"


def slack_wanted(incident_id: str) -> str:
    """The incident's message as it should look (JSON, latest wins)."""
    return f"slack:want:{incident_id}"


def slack_posted(outbox_key: str) -> str:
    """The message posted for an outbox key (MessageRef)."""
    return f"slack:posted:{outbox_key}"


def slack_attempted(outbox_key: str) -> str:
    """When a post of that outbox key was last attempted (unix seconds)."""
    return f"slack:try:{outbox_key}"


def slack_sent_hash(outbox_key: str) -> str:
    """Hash of the content Slack last accepted for that outbox key."""
    return f"slack:sent#:{outbox_key}"


def slack_activity(incident_id: str, index: int) -> str:
    """Timeline entry ``index`` was queued for the incident's thread."""
    return f"slack:activity:{incident_id}:{index}"


def slack_graph(incident_id: str, moment: str) -> str:
    """A graph posted (or being posted) for that moment of the incident."""
    return f"slack:graph:{incident_id}:{moment}"


def slack_verification(incident_id: str, run_id: str) -> str:
    """The thread reply showing a run's verification."""
    return f"slack:verify:{incident_id}:{run_id}"


# message state (bot/notify/slack/state.py)
def slack_message(incident_id: str) -> str:
    """The incident's message (MessageRef)."""
    return f"slack:msg:{incident_id}"


def slack_button_refs(incident_id: str) -> str:
    """Button key → the opaque reference handed out in its value."""
    return f"slack:btns:{incident_id}"


def slack_button(ref: str) -> str:
    """What a button reference stands for (ButtonRef JSON)."""
    return f"slack:btn:{ref}"


# storms (bot/notify/slack/storms.py, state.py)
def slack_opened(channel: str) -> str:
    """Incidents opened in the channel within the storm window."""
    return f"slack:opened:{channel}"


def slack_counted(incident_id: str) -> str:
    """The incident was counted once towards a storm."""
    return f"slack:counted:{incident_id}"


def slack_storm(channel: str) -> str:
    """The channel's current storm id."""
    return f"slack:storm:{channel}"


def slack_storm_last(channel: str) -> str:
    """The channel's last storm (even after it ended)."""
    return f"slack:storm-last:{channel}"


def slack_storm_member_of(incident_id: str) -> str:
    """The incident's place in a storm, claimed once (MemberRef JSON)."""
    return f"slack:member:{incident_id}"


def slack_storm_seq(storm: str) -> str:
    """The storm's last member number."""
    return f"slack:storm-seq:{storm}"


def slack_storm_member(storm: str, seq: int) -> str:
    """Member ``seq`` of the storm (StormMember JSON)."""
    return f"slack:storm-m:{storm}:{seq}"


def slack_storm_changes(storm: str) -> str:
    """How often the storm's members changed."""
    return f"slack:storm-gen:{storm}"


def slack_storm_flushed(storm: str) -> str:
    """The change count Slack shows."""
    return f"slack:storm-flushed:{storm}"


def slack_storm_posts(storm: str) -> str:
    """The storm's summary and digest messages (JSON)."""
    return f"slack:storm-posts:{storm}"


def slack_seen(signature: str) -> str:
    """A signed request already answered (replay protection)."""
    return f"slack:seen:{signature}"


def slack_click(value: str, user: str) -> str:
    """The same button pressed twice by the same person acts once."""
    return f"slack:once:{value}:{user}"
