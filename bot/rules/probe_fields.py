"""The fields each bundled probe type returns, so ``rules check`` can reject a
display format that names a field the probe never gives (a typo would otherwise
show ``?`` at 3 a.m.). A probe type not listed here (a plug-in) is not checked.

Kept next to the rules, not in the probes, because only the display check needs
it; ``tests/unit/test_display.py`` checks it against every recorded fixture.
"""

from __future__ import annotations

# every finding has these, whatever its type (see Finding.as_cel_value)
COMMON = frozenset({"ok", "error", "configured"})

FIELDS: dict[str, frozenset[str]] = {
    k: frozenset(v.split())
    for k, v in {
        "http.json_field": "found matches status_code value",
        "kubernetes.config_history": "changed_keys history last_change_age_seconds "
        "last_change_at last_manager last_operation previous_available previous_source "
        "resource_version",
        "kubernetes.config_value": "annotations found resource_version value",
        "kubernetes.events": "count events reasons",
        "kubernetes.logs": "last_line lines matches pod pods tail",
        "kubernetes.pods": "count crashloop evicted image_pull not_ready oomkilled pending "
        "phases pods ready reasons restarts",
        "kubernetes.pvc": "capacity capacity_bytes name phase requested resizing storage_class",
        "kubernetes.rollout_history": "count image_changed images latest_age_seconds paused "
        "previous_images revision revisions",
        "kubernetes.workload": "available_replicas conditions containers healthy kind name "
        "paused ready_replicas replicas updated_replicas",
        "postgres.health": "available connections database database_connections "
        "max_connections reserved_connections total used_ratio version",
        "postgres.idle_connections": "count oldest_seconds sample",
        "processes.get": "completionPercentage createdResources created_resources currentStep "
        "errorMessage processId processType running_seconds since_progress_seconds startTime "
        "status user",
        "processes.list": "count groups moved_ids processes progressing stalled stalled_ids top "
        "unknown unknown_ids",
        "prometheus.query": "by_label empty series value",
        "prometheus.range": "series empty min max avg last samples",
        "redis.dbsize_vs": "dbsize expected missing ratio",
        "redis.health": "aof_enabled aof_last_write_status blocked_clients connected_clients "
        "dbsize last_save_age_seconds maxmemory memory_used_ratio ping_ms policy "
        "rdb_bgsave_in_progress rdb_changes_since_last_save rdb_last_bgsave_status "
        "rdb_last_save_time used_memory used_memory_human",
        "redis.keys": "count scanned truncated ttl_sample",
    }.items()
}


def known_fields(probe_type: str) -> frozenset[str] | None:
    """The names a format may use for this probe type; None when not catalogued."""
    fields = FIELDS.get(probe_type)
    return None if fields is None else fields | COMMON
