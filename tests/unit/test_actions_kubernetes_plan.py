"""The pure parts of the Kubernetes actions: kubectl's rollback choice, replica caps,
quantities, params validation, last-known-good selection, config history shaping."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

import bot.actions  # noqa: F401  (registers the actions)
from bot.actions.kubernetes_logic import (
    PlanError,
    format_quantity,
    parse_quantity,
    plan_rollback,
    pod_condition_text,
    render_replicas,
    resolve_quantity,
    scale_refusal,
)
from bot.configmaps import snapshots as snaps
from bot.probes.kubernetes_config import changed_keys, last_change
from bot.registry import actions

REV = "deployment.kubernetes.io/revision"


def template(image: str, hash_: str | None = None) -> dict[str, Any]:
    labels = {"app": "web"} | ({"pod-template-hash": hash_} if hash_ else {})
    return {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": image}]},
    }


def deployment(image: str, revision: int, **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "uid": "d-1",
            "annotations": {REV: str(revision), **annotations},
        },
        "spec": {"template": template(image)},
    }


def rs(image: str, revision: int, owner: str = "d-1", **annotations: str) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"web-{revision}",
            "annotations": {
                REV: str(revision),
                "deployment.kubernetes.io/desired-replicas": "3",
                **annotations,
            },
            "ownerReferences": [{"uid": owner, "controller": True}],
        },
        "spec": {"template": template(image, f"h{revision}")},
    }


def test_rollback_to_the_previous_revision_like_kubectl() -> None:
    d = deployment("web:2", 2, **{"kubernetes.io/change-cause": "deploy 2"})
    rb = plan_rollback(
        d,
        [rs("web:1", 1, **{"kubernetes.io/change-cause": "deploy 1"}), rs("web:2", 2)],
        None,
    )
    assert (rb.current_revision, rb.target_revision) == (2, 1)
    assert rb.template == template("web:1")  # pod-template-hash dropped
    # the deployment keeps its own revision; the rest comes from the ReplicaSet
    assert rb.annotations == {REV: "2", "kubernetes.io/change-cause": "deploy 1"}
    assert (rb.images_before, rb.images_after) == ({"app": "web:2"}, {"app": "web:1"})
    assert rb.json_patch()[0] == {"op": "replace", "path": "/spec/template", "value": rb.template}


def test_rollback_ignores_foreign_replica_sets_and_refuses_clearly() -> None:
    d = deployment("web:3", 3)
    history = [rs("web:1", 1), rs("web:2", 2, owner="someone-else"), rs("web:3", 3)]
    assert plan_rollback(d, history, None).target_revision == 1
    assert plan_rollback(d, history, 1).target_revision == 1
    with pytest.raises(PlanError, match=r"unable to find revision 2 .* revisions kept: 1, 3"):
        plan_rollback(d, history, 2)
    with pytest.raises(PlanError, match="no rollout history found"):
        plan_rollback(d, [rs("web:3", 3)], None)
    with pytest.raises(PlanError, match="already matches revision 3"):
        plan_rollback(d, history, 3)


@pytest.mark.parametrize(
    ("source", "current", "expected"),
    [("0", 3, 0), ("5", 3, 5), ("{{ current + 1 }}", 3, 4), ("{{ current // 2 }}", 5, 2)],
)
def test_replicas_render_over_current(source: str, current: int, expected: int) -> None:
    assert render_replicas(source, current) == expected


@pytest.mark.parametrize("source", ["-1", "2.5", "many", "{{ current + }}"])
def test_bad_replica_counts_are_refused_with_the_field(source: str) -> None:
    with pytest.raises(PlanError, match="replicas"):
        render_replicas(source, 3)


def test_scale_caps() -> None:
    assert scale_refusal(3, 8, max_change=5, max_replicas=20) is None
    assert "max_replica_change" in str(scale_refusal(3, 9, max_change=5, max_replicas=20))
    assert "max_replicas" in str(scale_refusal(18, 21, max_change=5, max_replicas=20))
    assert scale_refusal(3, 0, max_change=5, max_replicas=20) is None


def test_quantities_and_factors() -> None:
    assert parse_quantity("2Gi") == 2 * 2**30 and parse_quantity("500m") == Decimal("0.5")
    assert resolve_quantity("x2", "2Gi", "memory") == ("4Gi", None)
    assert resolve_quantity("x1.5", "1Gi", "memory") == ("1536Mi", None)
    assert resolve_quantity("x8", "1Gi", "memory") == ("4Gi", "factor x8 capped at x4")
    assert resolve_quantity("x1.5", "500m", "cpu") == ("750m", None)
    assert resolve_quantity("x2", "1", "cpu") == ("2", None)
    assert resolve_quantity("3Gi", None, "memory") == ("3Gi", None)
    assert format_quantity(Decimal(1000), "memory") == "1000"
    with pytest.raises(PlanError, match="none is set"):
        resolve_quantity("x2", None, "memory")
    with pytest.raises(PlanError, match="not a Kubernetes quantity"):
        resolve_quantity("lots", "1Gi", "memory")


def test_params_are_checked_when_rules_load() -> None:
    def validate(name: str, params: dict[str, Any]) -> Any:
        entry = actions.get(name)
        assert entry is not None
        return entry.params_model.model_validate(params)

    with pytest.raises(ValidationError, match="give at least one of memory_limit"):
        validate("kubernetes.set_resources", {"name": "redis"})
    with pytest.raises(ValidationError, match="not a Kubernetes quantity"):
        validate("kubernetes.set_resources", {"name": "redis", "memory_limit": "big"})
    with pytest.raises(ValidationError, match="expected deployment/NAME or statefulset/NAME"):
        validate(
            "kubernetes.patch_config",
            {"configmap": "c", "key": "a", "value": "1", "restart": "pod/x"},
        )
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        validate("kubernetes.rollout_undo", {"name": "web", "to_revision": 0})
    # older rule files named the deployment `deployment:`
    assert validate("kubernetes.rollout_restart", {"deployment": "web"}).name == "web"
    assert validate("kubernetes.scale", {"name": "web", "replicas": 0}).replicas == "0"
    assert (
        validate("kubernetes.patch_config", {"configmap": "c", "key": "a", "value": 5}).value == "5"
    )
    assert validate("kubernetes.expand_pvc", {"name": "p", "size": "x1.5"}).size == "x1.5"


def test_descriptions_are_one_line() -> None:
    samples = {
        "kubernetes.rollout_restart": {"name": "web"},
        "kubernetes.rollout_undo": {"name": "web", "to_revision": 3},
        "kubernetes.scale": {"name": "web", "replicas": "{{ current + 1 }}"},
        "kubernetes.delete_pod": {"name": "redis-0", "wait_ready": "2m"},
        "kubernetes.patch_config": {
            "configmap": "process-config",
            "key": "ProcessFramework.MaxConcurrentProcesses",
            "value": "{{ current // 2 }}",
            "restart": "deployment/honua-process-framework",
        },
        "kubernetes.swap_llm_provider": {},
        "kubernetes.restore_config": {"configmap": "process-config"},
        "kubernetes.set_resources": {"name": "redis", "kind": "statefulset", "memory_limit": "x2"},
        "kubernetes.expand_pvc": {"name": "redis-data-redis-0", "size": "20Gi"},
    }
    texts = {}
    for name, params in samples.items():
        entry = actions.get(name)
        assert entry is not None
        texts[name] = entry.impl.describe(entry.params_model.model_validate(params))
    assert all("\n" not in t for t in texts.values())
    assert texts["kubernetes.delete_pod"] == (
        "delete pod honua-process-framework/redis-0, wait up to 120s for Ready"
    )
    assert texts["kubernetes.patch_config"].endswith(
        "then rollout restart deployment/honua-process-framework"
    )
    destructive = {n for n in samples if (actions.get(n) or pytest.fail()).extra.get("destructive")}
    assert destructive == set(samples) - {"kubernetes.rollout_restart"}


def test_pod_condition_text() -> None:
    ready = {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    crash = {
        "status": {
            "phase": "Running",
            "containerStatuses": [{"state": {"waiting": {"reason": "CrashLoopBackOff"}}}],
        }
    }
    assert pod_condition_text(ready) == "Running, Ready"
    assert pod_condition_text(crash) == "Running (CrashLoopBackOff)"


# --- last known good --------------------------------------------------------------

V1 = {"app.yaml": "a: 1\n", "LOG": "info"}
V2 = {"app.yaml": "a: 2\n", "LOG": "info"}
V3 = {"app.yaml": "a: 3\n", "LOG": "info"}


def seen(rv: str, data: dict[str, str], at: str) -> dict[str, Any]:
    return {"resource_version": rv, "data": data, "seen_at": at}


def test_snapshots_keep_the_version_before_the_current_one() -> None:
    first = snaps.next_snapshot(None, "1", V1, "t1")
    assert first == {"current": seen("1", V1, "t1"), "previous": None}
    assert snaps.next_snapshot(first, "1", V1, "t2") is None  # same resourceVersion
    second = snaps.next_snapshot(first, "2", V2, "t2")
    assert second == {"current": seen("2", V2, "t2"), "previous": seen("1", V1, "t1")}
    relabelled = snaps.next_snapshot(second, "3", copy.deepcopy(V2), "t3")
    assert relabelled is not None and relabelled["previous"] == seen("1", V1, "t1")


def test_the_earlier_version_is_the_most_recently_live_one_that_differs() -> None:
    snapshot = {"current": seen("2", V2, "t2"), "previous": seen("1", V1, "t1")}
    # the probe saw v2 at t2, so v1 was live until t2
    found = snaps.choose_earlier(None, snapshot, "2", V2, "app.yaml", "t9")
    assert found is not None and (found.data, found.until, found.source) == (V1, "t2", snaps.SEEN)
    # a version the probe has not seen yet: the snapshot's current one is the latest before it
    found = snaps.choose_earlier(None, snapshot, "3", V3, "app.yaml", "t9")
    assert found is not None and found.data == V2
    # the bot's own saved copy wins when it is newer
    lkg = {"resource_version": "7", "data": V3, "saved_at": "t5"}
    found = snaps.choose_earlier(lkg, snapshot, "2", V2, "app.yaml", "t9")
    assert found is not None and (found.data, found.source) == (V3, snaps.SAVED_BY_BOT)
    assert (
        snaps.choose_earlier(None, {"current": seen("2", V2, "t2")}, "2", V2, "app.yaml", "t9")
        is None
    )
    assert snaps.choose_earlier({"garbage": 1}, None, "2", V2, "app.yaml", "t9") is None


def test_last_change_and_changed_keys() -> None:
    meta = {
        "creationTimestamp": "2026-01-01T00:00:00Z",
        "managedFields": [
            {
                "manager": "kubectl-client-side-apply",
                "operation": "Update",
                "time": "2026-01-01T00:00:00Z",
            },
            {"manager": "kubectl-edit", "operation": "Update", "time": "2026-01-02T00:00:00Z"},
        ],
    }
    at, manager, operation = last_change(meta)
    assert (at is not None and at.day, manager, operation) == (2, "kubectl-edit", "Update")
    at, manager, _ = last_change({"creationTimestamp": "2026-01-01T00:00:00Z"})
    assert at is not None and manager is None
    assert changed_keys("app.yaml", V1, {**V2, "LOG": "debug"}) == ["a", "LOG"]
