"""Mitigation debt paid back: Runbook 4 Scenario B's cut (MaxConcurrentProcesses
20 → 5) is offered for restoring once its incident has been resolved for
HONUA_BOT_MITIGATION_RESTORE_AFTER_SECONDS, once; the restore passes the
staleness check of a resolved incident (nothing else does), and an undo refuses
to overwrite a value someone changed since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ruamel.yaml import YAML

import bot.actions
import bot.probes  # noqa: F401  (fills the registries)
from bot.actions.base import Change, Outcome, Plan, UndoSpec
from bot.adapters import Adapters
from bot.alerts.pipeline import Pipeline, PipelineConfig
from bot.config import bundled_rules_dir
from bot.metrics import Metrics
from bot.models import ActionRun, Event, Incident, IncidentStatus, ProposedAction
from bot.notify import Recorder
from bot.registry import actions, probes
from bot.remediation.mitigations import due, in_place, restore_offer
from bot.remediation.requests import Decision
from bot.remediation.restore_offers import RestoreOffers
from bot.remediation.run_records import RunRecorder, jsonable
from bot.remediation.stages import Stale
from bot.remediation.unchanged import later_edits
from bot.rules import load_rules
from bot.store import MemoryStore, keys

RESOLVED_AT = datetime(2026, 11, 27, 4, tzinfo=UTC)
AFTER = 1800.0
CM = "configmap/honua-process-framework/process-config"
FIELD = "appsettings.yaml: ProcessFramework.MaxConcurrentProcesses"
RULES = load_rules(bundled_rules_dir(), probes, actions)


def cut_run(state: str = "verified", action: str = "reduce-load") -> ActionRun:
    return ActionRun(
        action=action,
        state=state,  # type: ignore[arg-type]
        run_id=f"run-{action}",
        target=CM,
        undo={
            "type": "kubernetes.set_config",
            "params": {
                "configmap": "process-config",
                "edits": [{"key": "ProcessFramework.MaxConcurrentProcesses", "value": "20"}],
            },
            "description": "set ProcessFramework.MaxConcurrentProcesses = 20",
            "changes": [{"field": FIELD, "before": 20, "after": 5}],
        },
        finished_at=RESOLVED_AT - timedelta(minutes=20),
    )


def incident(
    *runs: ActionRun, status: IncidentStatus = IncidentStatus.RESOLVED, iid: str = "inc-llm"
) -> Incident:
    return Incident(
        id=iid,
        key="fp|t",
        fingerprint="fp",
        alertname="LlmApiRateLimit",
        rule="llm-provider-failover",
        status=status,
        starts_at=RESOLVED_AT - timedelta(hours=1),
        ends_at=RESOLVED_AT if status is IncidentStatus.RESOLVED else None,
        runs=list(runs),
    )


# which mitigations are due ---------------------------------------------------------------
def test_a_mitigation_is_due_once_its_incident_has_been_resolved_long_enough() -> None:
    found = in_place([incident(cut_run())], RULES)
    assert [m.resolved_at for m in found] == [RESOLVED_AT]
    assert due(found, RESOLVED_AT + timedelta(seconds=AFTER - 1), AFTER) == []
    assert [m.action for m in due(found, RESOLVED_AT + timedelta(seconds=AFTER), AFTER)] == [
        "reduce-load"
    ]
    assert due(found, RESOLVED_AT + timedelta(days=3), 0) == []  # 0: never offered


def test_an_open_incident_an_undone_or_failed_mitigation_and_a_plain_action_are_never_due() -> None:
    later = RESOLVED_AT + timedelta(hours=2)
    still_open = in_place([incident(cut_run(), status=IncidentStatus.OPEN)], RULES)
    assert len(still_open) == 1 and due(still_open, later, AFTER) == []
    undone = incident(cut_run(), ActionRun(action="undo-reduce-load", state="done"))
    assert due(in_place([undone], RULES), later, AFTER) == []
    assert due(in_place([incident(cut_run(state="failed"))], RULES), later, AFTER) == []
    assert due(in_place([incident(cut_run(action="restart-app"))], RULES), later, AFTER) == []
    no_undo = cut_run()
    no_undo.undo = None
    assert due(in_place([incident(no_undo)], RULES), later, AFTER) == []


def test_the_offer_names_the_key_its_current_and_its_original_value() -> None:
    [m] = in_place([incident(cut_run())], RULES)
    offer = restore_offer(m)
    assert offer.text.startswith(
        "Mitigation still in place: ProcessFramework.MaxConcurrentProcesses is 5 (was 20)"
    )
    assert offer.text.endswith("Restore?")
    assert offer.label == "Restore MaxConcurrentProcesses to 20"


# an undo never overwrites a later edit ----------------------------------------------------
def test_an_undo_is_refused_when_the_value_changed_since_and_passes_when_it_did_not() -> None:
    left = [{"field": FIELD, "before": 20, "after": 5}]
    restart = Change("deployment/honua-process-framework/honua-process-framework", "restart", 1, 2)
    same = [Change(CM, FIELD, 5, 20), restart]
    assert later_edits("reduce-load", left, CM, same) == []
    edited = later_edits("reduce-load", left, CM, [Change(CM, FIELD, 8, 20)])
    assert edited == [f"{FIELD} is 8 now, not the 5 `reduce-load` left"]
    other = Change(CM, "appsettings.yaml: Database.MaxPoolSize", 50, 100)
    [extra] = later_edits("reduce-load", left, CM, [Change(CM, FIELD, 5, 20), other])
    assert "Database.MaxPoolSize is 50 now and `reduce-load` did not change it" in extra
    # not a value put back (a silence expired): nothing to compare
    assert later_edits("quiet", left, "silence/x", [Change("silence/x", "state", "a", "b")]) == []


# the staleness check of a resolved incident ------------------------------------------------
async def test_only_the_restore_of_a_mitigation_in_place_passes_on_a_resolved_incident() -> None:
    store = MemoryStore()
    stale = Stale(store, lambda: RULES)
    await store.save_incident(incident(cut_run(), cut_run(action="restart-app")), 3600)
    restore = await stale.resolve("inc-llm", "undo-reduce-load")
    assert not isinstance(restore, Decision), restore
    _, action = restore
    assert isinstance(action, ProposedAction) and action.type == "kubernetes.set_config"
    for other in ("reduce-load", "undo-restart-app", "silence-1h"):
        refused = await stale.resolve("inc-llm", other)
        assert isinstance(refused, Decision) and refused.gate == "stale", other
    done = incident(cut_run(), ActionRun(action="undo-reduce-load", state="done"))
    await store.save_incident(done, 3600)
    again = await stale.resolve("inc-llm", "undo-reduce-load")
    assert isinstance(again, Decision) and again.gate == "stale"
    assert "restored already" in again.message


# the scan: once per mitigation, across replicas and restarts --------------------------------
def offers_for(store: MemoryStore, now: datetime) -> tuple[RestoreOffers, Recorder]:
    recorder = Recorder()
    pipeline = Pipeline(
        store,
        lambda: RULES,
        probes,
        actions,
        Adapters(),
        recorder,
        Metrics(),
        PipelineConfig(),
        owner="replica",
    )
    return RestoreOffers(pipeline, "replica", AFTER, 3600, clock=lambda: now), recorder


async def test_the_scan_offers_each_due_mitigation_once_even_after_a_restart() -> None:
    store = MemoryStore()
    await store.save_incident(incident(cut_run()), 3600)
    early, _ = offers_for(store, RESOLVED_AT + timedelta(seconds=60))
    assert await early.scan() == []
    later = RESOLVED_AT + timedelta(seconds=AFTER + 60)
    first, shown = offers_for(store, later)
    assert [m.action for m in await first.scan()] == ["reduce-load"]
    [(event, seen)] = shown.events
    assert event is Event.UPDATED
    [offer] = [a for a in seen.activity if a.offer]
    assert (offer.offer, offer.offer_label) == (
        "undo-reduce-load",
        "Restore MaxConcurrentProcesses to 20",
    )
    assert await first.scan() == []
    restarted, shown_again = offers_for(store, later)  # another replica, or a restart
    assert await restarted.scan() == [] and shown_again.events == []
    # a replica that died after offering and before its marker: not offered twice
    await store.delete_value(keys.restore_offered("inc-llm", "run-reduce-load"))
    assert await restarted.scan() == []
    stored = await store.get_incident("inc-llm")
    assert stored is not None and len([a for a in stored.activity if a.offer]) == 1


async def test_a_scan_while_another_replica_scans_does_nothing() -> None:
    store = MemoryStore()
    await store.save_incident(incident(cut_run()), 3600)
    offers, shown = offers_for(store, RESOLVED_AT + timedelta(hours=1))
    assert await store.acquire(keys.restore_offers_lock(), "other-replica", 15)
    assert await offers.scan() == [] and shown.events == []
    await store.release(keys.restore_offers_lock(), "other-replica")
    assert len(await offers.scan()) == 1


# two runs of one mitigation: each undo reverses its own run ------------------------------
def halving(run_id: str, before: int, after: int, minutes: int) -> ActionRun:
    run = cut_run()
    assert run.undo is not None
    run.run_id = run_id
    edits = [{"key": "ProcessFramework.MaxConcurrentProcesses", "value": str(before)}]
    run.undo = {
        **run.undo,
        "params": {"configmap": "process-config", "edits": edits},
        "changes": [{"field": FIELD, "before": before, "after": after}],
    }
    run.finished_at = RESOLVED_AT - timedelta(minutes=minutes)
    return run


async def test_an_undo_of_the_second_halving_leaves_the_first_in_place_to_offer() -> None:
    first, second = halving("run-1", 20, 10, 30), halving("run-2", 10, 5, 20)
    store = MemoryStore()
    await store.save_incident(incident(first, second), 3600)
    stale = Stale(store, lambda: RULES)
    restore = await stale.resolve("inc-llm", "undo-reduce-load")
    assert not isinstance(restore, Decision), restore
    assert restore[1].params["edits"][0]["value"] == "10"
    # the restore offered now is of the second (5, was 10); then the undo ran
    later = RESOLVED_AT + timedelta(hours=1)
    [offered] = due(in_place([incident(first, second)], RULES), later, AFTER)
    assert "is 5 (was 10)" in restore_offer(offered).text
    undo = ActionRun(action="undo-reduce-load", state="done", run_id="u-2", undoes="run-2")
    back_to_10 = incident(first, second, undo)
    assert [m.run_id for m in in_place([back_to_10], RULES)] == ["run-1"]
    [next_offer] = due(in_place([back_to_10], RULES), later, AFTER)
    assert "is 10 (was 20)" in restore_offer(next_offer).text
    assert restore_offer(next_offer).label == "Restore MaxConcurrentProcesses to 20"
    await store.save_incident(back_to_10, 3600)
    again = await stale.resolve("inc-llm", "undo-reduce-load")
    assert not isinstance(again, Decision), again
    assert again[1].params["edits"][0]["value"] == "20"
    # an undo recorded before undos named their run reverses the last one not reversed
    legacy = ActionRun(action="undo-reduce-load", state="done", run_id="u-old")
    assert [m.run_id for m in in_place([incident(first, second, legacy)], RULES)] == ["run-1"]
    both = incident(first, second, legacy, legacy.model_copy(update={"run_id": "u-old-2"}))
    assert in_place([both], RULES) == []


async def test_the_undo_run_records_which_run_it_reverses() -> None:
    store = MemoryStore()
    first, second = halving("run-1", 20, 10, 30), halving("run-2", 10, 5, 20)
    undone = ActionRun(action="undo-reduce-load", state="done", run_id="u-2", undoes="run-2")
    await store.save_incident(incident(first, second, undone), 3600)
    offers, _ = offers_for(store, RESOLVED_AT + timedelta(hours=1))
    records = RunRecorder(offers.incidents, offers.incidents.notifier, store)
    await records.started("inc-llm", "undo-reduce-load", "cli:ann", "u-1", Plan("restore", CM))
    stored = await store.get_incident("inc-llm")
    assert stored is not None and stored.runs[-1].undoes == "run-1"


# an anchored YAML boolean stays a boolean ------------------------------------------------
def test_an_anchored_yaml_boolean_is_recorded_as_a_boolean_and_compares_equal() -> None:
    loaded = YAML().load("a: &x false\nb: *x\n")
    assert jsonable(loaded["a"]) is False and jsonable(loaded["b"]) is False
    left = [{"field": "f", "before": True, "after": False}]
    assert later_edits("flip", left, CM, [Change(CM, "f", loaded["a"], True)]) == []


# the scan reads only the incidents a run indexed ---------------------------------------
class CountingStore(MemoryStore):
    """Counts the incidents read, as the Redis store parses each one."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    async def get_incident(self, incident_id: str) -> Incident | None:
        self.read.append(incident_id)
        return await super().get_incident(incident_id)

    async def list_incidents(self, status: IncidentStatus | None, limit: int) -> list[Incident]:
        found = await super().list_incidents(status, limit)
        self.read += [i.id for i in found]
        return found


async def test_the_scan_reads_only_incidents_with_a_mitigation_not_every_resolved_one() -> None:
    store = CountingStore()
    for n in range(200):
        await store.save_incident(incident(iid=f"inc-plain-{n}"), 3600)
    await store.save_incident(incident(cut_run()), 3600)  # recorded before the index
    later = RESOLVED_AT + timedelta(hours=1)
    offers, _ = offers_for(store, later)
    assert [m.incident for m in await offers.scan()] == ["inc-llm"]  # the one-time backfill
    # a mitigation recorded now is indexed by its run
    records = RunRecorder(offers.incidents, offers.incidents.notifier, store)
    await store.save_incident(incident(status=IncidentStatus.OPEN, iid="inc-new"), 3600)
    await records.started("inc-new", "reduce-load", "auto", "run-new", Plan("cut", CM))
    undo = UndoSpec("kubernetes.set_config", {"configmap": "process-config"}, "back to 20")
    outcome = Outcome(True, "cut", [Change(CM, FIELD, 20, 5)], undo=undo)
    await records.finished("inc-new", "run-new", "done", outcome)
    new = await store.get_incident("inc-new")
    assert new is not None
    new.status, new.ends_at = IncidentStatus.RESOLVED, RESOLVED_AT
    await store.save_incident(new, 3600)
    store.read.clear()
    assert [m.incident for m in await offers.scan()] == ["inc-new"]
    assert set(store.read) == {"inc-new"}  # none of the 200, nor the one offered already
    store.read.clear()
    assert await offers.scan() == [] and store.read == []
    # an incident gone from the store leaves the index
    await store.index_add(keys.mitigations_index(), "inc-expired", 1.0)
    assert await offers.scan() == []
    assert await store.index_members(keys.mitigations_index()) == []


class BusyFor:
    """The pipeline, with one incident's lock held by someone else."""

    def __init__(self, pipeline: Pipeline, busy: str) -> None:
        self.pipeline, self.busy = pipeline, busy

    def __getattr__(self, name: str) -> object:
        return getattr(self.pipeline, name)

    async def change_incident(self, incident_id: str, change: object, wait: float) -> object:
        if incident_id == self.busy:
            raise TimeoutError(f"incident {incident_id} is locked")
        return await self.pipeline.change_incident(incident_id, change, wait)  # type: ignore[arg-type]


async def test_a_busy_incident_does_not_stop_the_scan_and_is_offered_next_time() -> None:
    store = MemoryStore()
    for iid in ("inc-a", "inc-b"):
        await store.save_incident(incident(cut_run(), iid=iid), 3600)
    later = RESOLVED_AT + timedelta(hours=1)
    offers, _ = offers_for(store, later)
    offers.incidents = BusyFor(offers.incidents, "inc-a")  # type: ignore[assignment]
    assert [m.incident for m in await offers.scan()] == ["inc-b"]
    assert await store.index_members(keys.mitigations_index()) == ["inc-a"]
    free, _ = offers_for(store, later)
    assert [m.incident for m in await free.scan()] == ["inc-a"]
