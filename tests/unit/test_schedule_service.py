"""The schedule service (ops.schedule.service) with fake ARM adapters and a real SQLite store.

Cases: a tick starts a stop, records it pending with the pools it stops with, and does
not wait; a later tick confirms it; a tick while it runs starts nothing new; a dry run
changes nothing anywhere; a failed operation is recorded with backoff and an audit
record, and retried as a new attempt after the backoff; a start refused by ARM is
recorded as a failed attempt; a tick without the lease does nothing; a stale inventory
is corrected by re-reading before acting (many clusters of one subscription with one
list); a cluster whose re-read fails transiently (one GET, or a failed list and then
its GETs) is not acted on this tick, even if the stale view says stop, and is reported
as skipped while the others proceed; node-pool mode saves pools before scaling them to
zero and forgets the record once restored; a plan over its cap is refused whole; snooze
writes the tag, falls back to the store for a stopped cluster and can be cleared;
cluster names must be unique. A cluster someone starts by hand after the evening's stop
finished keeps its grace period from the first tick that saw it running (recorded, so a
later tick counts from then, and a plan says so too), and is stopped again once it is
over; a grace period of 0s stops it at the next tick.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ops.errors import CapExceeded, Conflict, PermanentError, TransientError
from ops.executor import ExecutionPolicy
from ops.plan import Status
from ops.schedule.clusters import ObservedCluster, ObservedPool, PoolScale
from ops.schedule.policy import load_policy
from ops.schedule.protocols import OperationRef, OperationResult, OperationState
from ops.schedule.records import LEASE_NAME, OPERATIONS_TABLE, POOLS_TABLE, SNOOZES_TABLE
from ops.schedule.service import ScheduleService
from ops.state.sqlite import SqliteStateStore
from tests.unit.schedule_builders import SUB, observed_cluster

TAGS = {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin", "environment": "dev"}
EVENING = datetime(2026, 11, 26, 19, 5, tzinfo=UTC)  # 20:05 in Berlin, Thursday
MORNING = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 08:00 in Berlin, Friday


def make_cluster(name: str, tags: Mapping[str, str] = TAGS, **kwargs: object) -> ObservedCluster:
    return observed_cluster(
        name,
        tags=dict(tags),
        pools=(
            ObservedPool("system", "System", PoolScale(2)),
            ObservedPool("apps", "User", PoolScale(3, True, 2, 6)),
        ),
        **kwargs,
    )


class FakeArm:
    """Inventory and control over an in-memory estate; operations finish when told to."""

    def __init__(self, *clusters: ObservedCluster) -> None:
        self.clusters = {c.key: c for c in clusters}
        self.stale: dict[str, ObservedCluster] = {}  # what the inventory shows instead, if set
        self.operations: dict[str, tuple[str, str, object]] = {}
        self.writes: list[tuple[str, str]] = []
        self.refuse: str | None = None
        self.lists: list[str] = []
        self.unreadable: set[str] = set()  # keys whose GET (and list) fail transiently
        self._ids = itertools.count(1)

    # ClusterInventory
    def list_clusters(self) -> list[ObservedCluster]:
        return [self.stale.get(k, c) for k, c in self.clusters.items()]

    # ClusterControl
    def get_cluster(self, cluster_id: str) -> ObservedCluster:
        if cluster_id.lower() in self.unreadable:
            raise TransientError("(ServerBusy) try again later", retry_after=5)
        return self.clusters[cluster_id.lower()]

    def list_subscription_clusters(self, subscription: str) -> list[ObservedCluster]:
        self.lists.append(subscription)
        if self.unreadable:
            raise TransientError("(ServerBusy) try again later")
        return [c for c in self.clusters.values() if c.subscription == subscription]

    def _begin(self, kind: str, cluster_id: str, payload: object = None) -> OperationRef:
        if self.refuse:
            raise Conflict(self.refuse)
        self.writes.append((kind, cluster_id.rsplit("/", 1)[-1]))
        op = f"https://arm.test/operations/{next(self._ids)}"
        self.operations[op] = ("InProgress", kind, (cluster_id.lower(), payload))
        cluster = self.clusters[cluster_id.lower()]
        busy = {"stop": "Stopping", "start": "Starting"}.get(kind, "Updating")
        self.clusters[cluster.key] = replace(cluster, provisioning_state=busy)
        return OperationRef(op)

    def begin_stop(self, cluster_id: str) -> OperationRef:
        return self._begin("stop", cluster_id)

    def begin_start(self, cluster_id: str) -> OperationRef:
        return self._begin("start", cluster_id)

    def begin_scale_pool(
        self, cluster_id: str, pool: str, scale: PoolScale, *, start: bool = False
    ) -> OperationRef:
        return self._begin("scale", cluster_id, (pool, scale))

    def get_operation(self, ref: OperationRef) -> OperationResult:
        assert ref.url is not None
        status, _, _ = self.operations[ref.url]
        error = "(AllocationFailed) no capacity" if status == "Failed" else None
        return OperationResult(OperationState(status), error)

    def update_tags(self, cluster_id: str, changes: Mapping[str, str | None]) -> Mapping[str, str]:
        cluster = self.clusters[cluster_id.lower()]
        if cluster.is_stopped:
            raise Conflict("(OperationNotAllowed) A stopped cluster only allows start and delete.")
        tags = {k: v for k, v in {**cluster.tags, **changes}.items() if v is not None}
        self.clusters[cluster.key] = replace(cluster, tags=tags)
        return tags

    # test controls
    def finish_all(self, *, ok: bool = True) -> None:
        for url, (status, kind, (key, payload)) in list(self.operations.items()):
            if status != "InProgress":
                continue
            cluster = self.clusters[key]
            if not ok:
                self.operations[url] = ("Failed", kind, (key, payload))
                self.clusters[key] = replace(cluster, provisioning_state="Failed")
                continue
            self.operations[url] = ("Succeeded", kind, (key, payload))
            if kind in ("stop", "start"):
                power = "Stopped" if kind == "stop" else "Running"
                cluster = replace(cluster, power_state=power)
            else:
                name, scale = payload  # type: ignore[misc]
                pools = tuple(replace(p, scale=scale) if p.name == name else p for p in cluster.pools)
                cluster = replace(cluster, pools=pools)
            self.clusters[key] = replace(cluster, provisioning_state="Succeeded")


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.db")


def service(
    arm: FakeArm,
    store: SqliteStateStore,
    *,
    dry_run: bool = False,
    cap: int | None = None,
    policy: str | None = None,
) -> ScheduleService:
    return ScheduleService(
        inventory=arm,
        control=arm,
        store=store,
        policy=load_policy(policy),
        execution=ExecutionPolicy(dry_run=dry_run, max_concurrency=4),
        cap=cap,
        sleep=lambda _: None,
    )


def operations(store: SqliteStateStore) -> dict[str, dict[str, object]]:
    return {r.key.rsplit("/", 1)[-1]: dict(r.value) for r in store.list_records(OPERATIONS_TABLE)}


def test_a_stop_is_started_recorded_and_confirmed_on_a_later_tick(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    first = service(arm, store).tick(now=EVENING)
    assert [o.status for o in first.outcomes] == [Status.APPLIED]
    assert arm.writes == [("stop", "aks-dev")]
    recorded = operations(store)["aks-dev"]
    assert (recorded["status"], recorded["kind"], recorded["attempt"]) == ("pending", "stop_cluster", 1)
    last_known = {r.value["name"]: r.value["scale"] for r in store.list_records(POOLS_TABLE)}
    assert last_known == {"system": PoolScale(2).to_dict(), "apps": PoolScale(3, True, 2, 6).to_dict()}

    running = service(arm, store).tick(now=EVENING + timedelta(minutes=5))
    assert running.outcomes == [] and arm.writes == [("stop", "aks-dev")]
    assert running.report is not None and running.report.row("aks-dev").reason.startswith(
        "waiting: stop_cluster"
    )

    arm.finish_all()
    done = service(arm, store).tick(now=EVENING + timedelta(minutes=10))
    assert done.outcomes == []
    assert [(c.operation.status, c.previous) for c in done.confirmations] == [("succeeded", "pending")]
    assert operations(store)["aks-dev"]["status"] == "succeeded"
    assert done.report is not None and done.report.row("aks-dev").reason.startswith("stopped as scheduled")


def test_a_dry_run_changes_nothing(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    result = service(arm, store, dry_run=True).tick(now=EVENING)
    assert [o.status for o in result.outcomes] == [Status.DRY_RUN]
    assert arm.writes == [] and store.list_records(OPERATIONS_TABLE) == []
    assert store.query_audit() == []


def test_a_failed_start_is_recorded_reported_and_retried_after_backoff(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev", power_state="Stopped"))
    service(arm, store).tick(now=MORNING)
    arm.finish_all(ok=False)
    failed = service(arm, store).tick(now=MORNING + timedelta(minutes=1))
    assert failed.outcomes == []  # backing off
    record = operations(store)["aks-dev"]
    assert (record["status"], record["error"]) == ("failed", "(AllocationFailed) no capacity")
    assert record["retryAt"] == (MORNING + timedelta(minutes=6)).isoformat()
    (audit,) = [a for a in store.query_audit() if a.status == "failed"]
    assert audit.kind == "start_cluster" and "AllocationFailed" in audit.reason

    retry = service(arm, store).tick(now=MORNING + timedelta(minutes=6))
    (outcome,) = retry.outcomes
    assert (outcome.action.kind, outcome.action.params["attempt"], outcome.status) == (
        "start_cluster",
        2,
        Status.APPLIED,
    )
    assert arm.writes == [("start", "aks-dev"), ("start", "aks-dev")]


def test_a_start_refused_by_arm_is_a_failed_attempt(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev", power_state="Stopped"))
    arm.refuse = "(OperationNotAllowed) another operation is in progress"
    result = service(arm, store).tick(now=MORNING)
    (outcome,) = result.outcomes
    assert outcome.status is Status.FAILED and "OperationNotAllowed" in outcome.detail
    assert operations(store)["aks-dev"]["status"] == "failed"
    arm.refuse = None
    assert service(arm, store).tick(now=MORNING + timedelta(minutes=1)).outcomes == []  # backing off


def test_without_the_lease_a_tick_does_nothing(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    held = store.acquire_lease(
        LEASE_NAME, holder="other", duration=timedelta(minutes=10), now=datetime.now(UTC)
    )
    assert held is not None
    result = service(arm, store).tick(now=EVENING)
    assert (result.skipped or "").startswith("another schedule tick holds the lease: held by other until ")
    assert arm.writes == []


def test_a_stale_inventory_is_re_read_before_acting(store: SqliteStateStore) -> None:
    actual = make_cluster("aks-dev", power_state="Stopped")
    arm = FakeArm(actual)
    arm.stale[actual.key] = make_cluster("aks-dev")  # Resource Graph still says Running
    result = service(arm, store).tick(now=EVENING)
    assert result.outcomes == [] and arm.writes == []
    assert result.report is not None and result.report.row("aks-dev").current == "stopped"


def test_many_clusters_of_one_subscription_are_re_read_with_one_list(store: SqliteStateStore) -> None:
    actual = [make_cluster(f"aks-{n}", power_state="Stopped") for n in range(5)]
    arm = FakeArm(*actual)
    arm.stale = {c.key: make_cluster(c.name) for c in actual}
    result = service(arm, store).tick(now=EVENING)
    assert result.outcomes == [] and arm.writes == []
    assert arm.lists == [SUB.lower()]


@pytest.mark.parametrize("others", [0, 4], ids=["single-get", "failed-list-then-gets"])
def test_a_cluster_that_cannot_be_re_read_is_not_acted_on(store: SqliteStateStore, others: int) -> None:
    # ARM says prod (just tagged); Resource Graph still says dev, and ARM's GET fails.
    actual = make_cluster("aks-now-prod", {**TAGS, "environment": "prod"})
    fine = [make_cluster(f"aks-dev-{n}") for n in range(others)]
    arm = FakeArm(actual, *fine)
    arm.stale[actual.key] = make_cluster("aks-now-prod")
    arm.unreadable.add(actual.key)
    result = service(arm, store).tick(now=EVENING)
    assert ("stop", "aks-now-prod") not in arm.writes
    assert sorted(arm.writes) == sorted(("stop", c.name) for c in fine)  # the others proceed
    assert result.report is not None
    (guard,) = result.report.plan.skipped
    assert guard.target == actual.id
    assert guard.reason == (
        "skipped: could not re-read the cluster before acting ((ServerBusy) try again later); retry next tick"
    )
    row = result.report.row("aks-now-prod")
    assert (row.action, row.reason) == ("none", f"{guard.reason} (would have done: stop_cluster)")
    assert "aks-now-prod" not in operations(store)

    arm.unreadable.clear()  # next tick ARM answers: the fresh view (prod) protects it
    later = service(arm, store).tick(now=EVENING + timedelta(minutes=5))
    assert ("stop", "aks-now-prod") not in arm.writes
    assert later.report is not None and later.report.row("aks-now-prod").reason.startswith("protected:")


def test_node_pools_are_saved_scaled_to_zero_and_restored_exactly(store: SqliteStateStore) -> None:
    tags = {**TAGS, "environment": "staging", "ops-schedule-mode": "nodepools"}
    arm = FakeArm(make_cluster("aks-stg", tags))
    service(arm, store).tick(now=EVENING)
    assert arm.writes == [("scale", "aks-stg")]
    (saved,) = store.list_records(POOLS_TABLE)
    assert saved.value["scale"] == PoolScale(3, True, 2, 6).to_dict()
    arm.finish_all()
    service(arm, store).tick(now=EVENING + timedelta(minutes=5))
    assert arm.get_cluster(make_cluster("aks-stg").id).pools[1].scale == PoolScale(0)

    service(arm, store).tick(now=MORNING)
    assert arm.writes == [("scale", "aks-stg"), ("scale", "aks-stg")]
    arm.finish_all()
    assert arm.get_cluster(make_cluster("aks-stg").id).pools[1].scale == PoolScale(3, True, 2, 6)
    service(arm, store).tick(now=MORNING + timedelta(minutes=5))
    assert store.list_records(POOLS_TABLE) == []  # restored: the record is done with


def test_a_plan_over_its_cap_is_refused_whole(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("a"), make_cluster("b"))
    with pytest.raises(CapExceeded):
        service(arm, store, cap=1).tick(now=EVENING)
    assert arm.writes == []


def test_snooze_sets_the_tag(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    result = service(arm, store).snooze("AKS-DEV", until="2026-11-26T23:00", now=EVENING)
    assert result["ops-snooze-until"] == "2026-11-26T23:00:00+01:00"
    assert arm.get_cluster(make_cluster("aks-dev").id).tags["ops-snooze-until"] == "2026-11-26T23:00:00+01:00"
    assert service(arm, store).tick(now=EVENING).outcomes == []  # snoozed: keeps running


def test_snoozing_a_stopped_cluster_is_kept_in_the_store_and_wakes_it(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev", power_state="Stopped"))
    result = service(arm, store).snooze("aks-dev", until="3h", now=EVENING)
    assert result["storedInState"] is True
    # the end is written in the cluster's own zone (Berlin), the same instant as 3h from now
    assert [r.value["until"] for r in store.list_records(SNOOZES_TABLE)] == ["2026-11-26T23:05:00+01:00"]
    assert datetime.fromisoformat(result["ops-snooze-until"]) == EVENING + timedelta(hours=3)
    woken = service(arm, store).tick(now=EVENING)
    assert [o.action.kind for o in woken.outcomes] == ["start_cluster"]
    service(arm, store).snooze("aks-dev", until=None, now=EVENING)
    assert store.list_records(SNOOZES_TABLE) == []


@pytest.mark.parametrize("until", ["yesterday", "2026-11-26T18:00+00:00"])
def test_snooze_rejects_bad_or_past_times(store: SqliteStateStore, until: str) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    with pytest.raises(Exception, match="--until"):
        service(arm, store).snooze("aks-dev", until=until, now=EVENING)


def test_cluster_names_must_be_unique(store: SqliteStateStore) -> None:
    other = replace(make_cluster("aks-dev"), id=make_cluster("aks-dev").id.replace("/rg/", "/rg2/"))
    arm = FakeArm(make_cluster("aks-dev"), other)
    with pytest.raises(PermanentError, match="2 clusters are named"):
        service(arm, store).find_cluster("aks-dev")
    assert service(arm, store).find_cluster(other.id).id == other.id


def started_by_hand(arm: FakeArm, store: SqliteStateStore, policy: str | None = None) -> str:
    """Stop aks-dev in the evening, confirm it, then start it as a person would."""
    service(arm, store, policy=policy).tick(now=EVENING)
    arm.finish_all()
    service(arm, store, policy=policy).tick(now=EVENING + timedelta(minutes=5))
    key = make_cluster("aks-dev").key
    assert arm.clusters[key].is_stopped
    arm.clusters[key] = replace(arm.clusters[key], power_state="Running")
    arm.writes.clear()
    return key


def test_a_cluster_started_by_hand_keeps_its_grace_period(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    started_by_hand(arm, store)
    planned = service(arm, store).plan(now=EVENING + timedelta(minutes=20))
    assert planned.plan.actions == () and planned.rows[0].reason.startswith("grace period: started by hand")
    seen = service(arm, store).tick(now=EVENING + timedelta(minutes=30))  # 20:35 in Berlin
    (row,) = seen.report.rows
    assert arm.writes == [] and row.action == "none"
    assert (
        "seen running at 2026-11-26 20:35" in row.reason and "stays up until 2026-11-26 21:35" in row.reason
    )
    assert row.next_change.startswith("2026-11-26 21:35")
    held = service(arm, store).tick(now=EVENING + timedelta(minutes=80))
    assert (
        arm.writes == [] and "stays up until 2026-11-26 21:35" in held.report.rows[0].reason
    )  # from the record
    service(arm, store).tick(now=EVENING + timedelta(minutes=95))  # the grace period is over
    assert arm.writes == [("stop", "aks-dev")]


def test_no_grace_period_stops_at_the_next_tick(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    policy = "schedule:\n  gracePeriod: 0s\n"
    started_by_hand(arm, store, policy)
    service(arm, store, policy=policy).tick(now=EVENING + timedelta(minutes=30))
    assert arm.writes == [("stop", "aks-dev")]
