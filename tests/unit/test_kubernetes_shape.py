"""Kubernetes JSON → findings, without any API server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.probes import kubernetes_shape as shape

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def pod(
    name: str, phase: str = "Running", ready: bool = True, restarts: int = 0, **state: dict
) -> dict:
    status: dict = {
        "phase": phase,
        "containerStatuses": [
            {"name": "app", "ready": ready, "restartCount": restarts, "image": "honua:1", **state}
        ],
    }
    return {"metadata": {"name": name}, "spec": {"nodeName": "n1"}, "status": status}


def test_pod_problems_are_counted_by_reason() -> None:
    pods = [
        pod("a"),
        pod(
            "b",
            ready=False,
            restarts=7,
            state={"waiting": {"reason": "CrashLoopBackOff"}},
            lastState={"terminated": {"reason": "OOMKilled"}},
        ),
        pod("c", ready=False, state={"waiting": {"reason": "ImagePullBackOff"}}),
        {"metadata": {"name": "d"}, "status": {"phase": "Failed", "reason": "Evicted"}},
        {"metadata": {"name": "e"}, "status": {"phase": "Pending"}},
    ]
    s = shape.summarise_pods(pods)
    assert (s["count"], s["ready"], s["not_ready"], s["restarts"]) == (5, 1, 4, 7)
    assert (s["crashloop"], s["oomkilled"], s["image_pull"], s["evicted"], s["pending"]) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert s["phases"] == {"Running": 3, "Failed": 1, "Pending": 1}
    b = next(p for p in s["pods"] if p["name"] == "b")
    assert b["reasons"] == ["CrashLoopBackOff", "OOMKilled"]


def test_logs_counts_patterns_and_keeps_the_tail() -> None:
    text = "\n".join(
        [
            "start",
            "Redis connection failed",
            "x",
            "Redis connection failed",
            "Waiting for LLM response",
        ]
    )
    s = shape.summarise_logs(
        text, tail=2, patterns={"redis": "Redis connection", "llm": "Waiting for LLM"}
    )
    assert s["lines"] == 5 and s["matches"] == {"redis": 2, "llm": 1}
    assert s["tail"] == ["Redis connection failed", "Waiting for LLM response"]
    assert s["last_line"] == "Waiting for LLM response"


def _rs(
    name: str, rev: int, image: str, uid: str = "dep-uid", created: str = "2026-11-27T02:00:00Z"
) -> dict:
    return {
        "metadata": {
            "name": name,
            "annotations": {shape.REVISION: str(rev)},
            "ownerReferences": [{"uid": uid, "controller": True}],
            "creationTimestamp": created,
        },
        "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
        "status": {"replicas": 3 if rev == 10 else 0},
    }


def test_rollout_history_newest_first_and_image_change() -> None:
    deployment = {"metadata": {"uid": "dep-uid", "annotations": {shape.REVISION: "10"}}, "spec": {}}
    rss = [
        _rs("d-1", 9, "honua:1.4.1", created="2026-11-26T03:00:00Z"),
        _rs("d-2", 10, "honua:1.4.2", created="2026-11-27T02:30:00Z"),
        _rs("other", 11, "x", uid="someone-else"),
    ]
    h = shape.rollout_history(deployment, rss, NOW)
    assert h["revision"] == 10 and h["count"] == 2
    assert [r["revision"] for r in h["revisions"]] == [10, 9]
    assert h["images"] == ["honua:1.4.2"] and h["previous_images"] == ["honua:1.4.1"]
    assert h["image_changed"] and h["latest_age_seconds"] == 1800


@pytest.mark.parametrize(
    ("entry", "path", "expected"),
    [
        (
            "# comment\nProcessFramework:\n  MaxConcurrentProcesses: 20\n",
            "ProcessFramework.MaxConcurrentProcesses",
            (True, 20),
        ),
        (
            '{"LlmProvider": {"Azure": {"Enabled": true}}}',
            "LlmProvider.Azure.Enabled",
            (True, True),
        ),
        ("a: [1, 2, 3]\n", "a.1", (True, 2)),
        ("a: {b: 1}\n", "a.c", (False, None)),
    ],
)
def test_config_paths_in_yaml_and_json(entry: str, path: str, expected: tuple) -> None:
    assert shape.read_path(shape.parse_entry(entry), path) == expected


def test_unparsable_entry_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="neither YAML nor JSON"):
        shape.parse_entry("a: [unclosed")


@pytest.mark.parametrize(
    ("q", "n"),
    [
        ("10Gi", 10 * 2**30),
        ("500Mi", 500 * 2**20),
        ("1G", 10**9),
        ("1.5Gi", int(1.5 * 2**30)),
        ("bad", None),
    ],
)
def test_quantities(q: str, n: int | None) -> None:
    assert shape.quantity_bytes(q) == n


def test_workload_and_pvc() -> None:
    w = shape.workload_status(
        {
            "kind": "Deployment",
            "metadata": {"name": "honua"},
            "spec": {
                "replicas": 3,
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "app",
                                "image": "honua:1",
                                "resources": {"limits": {"memory": "1Gi"}},
                                "livenessProbe": {"httpGet": {"path": "/health"}},
                            }
                        ]
                    }
                },
            },
            "status": {
                "readyReplicas": 2,
                "conditions": [{"type": "Available", "status": "False"}],
            },
        }
    )
    assert w["replicas"] == 3 and w["ready_replicas"] == 2 and not w["healthy"]
    assert w["containers"][0]["limits"] == {"memory": "1Gi"} and w["conditions"] == {
        "Available": "False"
    }
    p = shape.pvc_status(
        {
            "metadata": {"name": "data"},
            "spec": {"resources": {"requests": {"storage": "10Gi"}}},
            "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}},
        }
    )
    assert p["phase"] == "Bound" and p["capacity_bytes"] == 10 * 2**30
