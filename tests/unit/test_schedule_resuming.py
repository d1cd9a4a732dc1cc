"""Resuming a schedule tick that died mid-action (ops.schedule.resuming), with fake ARM and SQLite.

Cases:
- ``is_in_place`` as a table: a stop is in place once the cluster is Stopped or
  Stopping, a start once it is Running (a failed start too: the control plane is up) or
  Starting, a cluster update once the cluster is not Failed; a pool scaled to zero or
  restored is in place at its target scale (the autoscaler's bounds, when it is on; and
  running, when the restore starts it); a pool mid-update, a pool that is gone and a
  cluster mid-update cannot tell yet;
- a tick that died after ARM accepted its stop and before recording it: the next tick
  (at once, not after the claim timeout) sends no second stop, writes one audit record
  (noted as resumed), and records the operation pending, which a later tick confirms;
- a tick that died before its stop reached ARM: the next tick stops the cluster at once,
  with one audit record;
- a claim met by the executor itself (a tick in another scope died) is verified the same
  way and recorded once;
- a tick that cannot ask ARM (a transient error) leaves the claim for a later tick and
  acts on nothing it cannot verify.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.executor import RESUMED, ExecutionPolicy, apply_plan
from ops.plan import Action, Plan, Status
from ops.schedule.clusters import ObservedCluster, ObservedPool, PoolScale
from ops.schedule.records import OPERATIONS_TABLE, Kind
from ops.schedule.resuming import is_in_place, schedule_verifiers
from ops.state.sqlite import SqliteStateStore
from tests.unit.test_schedule_service import EVENING, FakeArm, make_cluster, service

AUTOSCALED = PoolScale(3, True, 2, 6)


def action(kind: Kind, **params: Any) -> Action:
    cluster = make_cluster("aks-dev")
    target = cluster.pool_id(params["pool"]) if "pool" in params else cluster.id
    return Action(
        str(kind), target, "test", "arm", {"cluster": cluster.id, "window": "w", "attempt": 1, **params}
    )


def cluster(
    power: str = "Running",
    provisioning: str = "Succeeded",
    *,
    scale: PoolScale = AUTOSCALED,
    pool_power: str = "Running",
    state: str = "Succeeded",
    gone: bool = False,
) -> ObservedCluster:
    """aks-dev as ARM reports it, with its user pool ``apps`` (absent when ``gone``)."""
    apps = ObservedPool("apps", "User", scale, power_state=pool_power, provisioning_state=state)
    pools = (ObservedPool("system", "System", PoolScale(2)), *(() if gone else (apps,)))
    return replace(make_cluster("aks-dev"), power_state=power, provisioning_state=provisioning, pools=pools)


@pytest.mark.parametrize(
    ("kind", "params", "observed", "expected"),
    [
        (Kind.STOP, {}, cluster("Running"), False),
        (Kind.STOP, {}, cluster("Running", "Stopping"), True),
        (Kind.STOP, {}, cluster("Stopped"), True),
        (Kind.START, {}, cluster("Stopped"), False),
        (Kind.START, {}, cluster("Stopped", "Starting"), True),
        (Kind.START, {}, cluster("Running"), True),
        (Kind.START, {}, cluster("Running", "Failed"), True),
        (Kind.RECONCILE, {}, cluster("Running", "Failed"), False),
        (Kind.RECONCILE, {}, cluster("Running", "Updating"), None),
        (Kind.RECONCILE, {}, cluster("Running"), True),
        (Kind.SCALE_DOWN, {"pool": "apps"}, cluster(), False),
        (Kind.SCALE_DOWN, {"pool": "apps"}, cluster(scale=PoolScale(0)), True),
        (Kind.SCALE_DOWN, {"pool": "apps"}, cluster(scale=PoolScale(0, True, 0, 3)), False),
        (Kind.SCALE_DOWN, {"pool": "apps"}, cluster(state="Updating"), None),
        (Kind.SCALE_DOWN, {"pool": "apps"}, cluster(gone=True), None),
        (Kind.RESTORE, {"pool": "apps", "scale": AUTOSCALED.to_dict()}, cluster(scale=PoolScale(0)), False),
        (
            Kind.RESTORE,
            {"pool": "apps", "scale": AUTOSCALED.to_dict()},
            cluster(scale=PoolScale(5, True, 2, 6)),
            True,
        ),
        (Kind.RESTORE, {"pool": "apps", "scale": PoolScale(4).to_dict()}, cluster(scale=PoolScale(3)), False),
        (
            Kind.RESTORE,
            {"pool": "apps", "scale": AUTOSCALED.to_dict(), "start": True},
            cluster(pool_power="Stopped"),
            False,
        ),
        (Kind.RESTORE, {"pool": "apps", "scale": AUTOSCALED.to_dict(), "start": True}, cluster(), True),
        (Kind.RESTORE, {"pool": "apps", "scale": AUTOSCALED.to_dict()}, cluster(state="Scaling"), None),
    ],
)
def test_is_in_place(
    kind: Kind, params: dict[str, Any], observed: ObservedCluster, expected: bool | None
) -> None:
    assert is_in_place(action(kind, **params), observed) is expected


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(tmp_path / "state.db")


class Died(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no ``except Exception`` catches it."""


class DyingArm(FakeArm):
    """ARM whose first stop kills the tick before (or after) ARM accepts it."""

    def __init__(self, *clusters: ObservedCluster, after: bool) -> None:
        super().__init__(*clusters)
        self.after = after
        self.dead = False

    def begin_stop(self, cluster_id: str) -> Any:
        if self.dead:
            return super().begin_stop(cluster_id)
        self.dead = True
        if self.after:
            super().begin_stop(cluster_id)
        raise Died


def stop_audits(store: SqliteStateStore) -> list[Any]:
    return [r for r in store.query_audit(capability="schedule") if r.kind == str(Kind.STOP)]


def test_a_stop_that_reached_arm_is_recorded_once_and_not_sent_again(store: SqliteStateStore) -> None:
    arm = DyingArm(make_cluster("aks-dev"), after=True)
    with pytest.raises(Died):
        service(arm, store).tick(now=EVENING)
    assert arm.writes == [("stop", "aks-dev")] and stop_audits(store) == []

    resumed = service(arm, store).tick(now=EVENING + timedelta(minutes=1))
    assert [(o.action.kind, o.detail) for o in resumed.resumed] == [(str(Kind.STOP), RESUMED)]
    assert resumed.outcomes == [] and arm.writes == [("stop", "aks-dev")]  # no second stop
    assert [a.status for a in stop_audits(store)] == ["applied"]
    (operation,) = [r.value for r in store.list_records(OPERATIONS_TABLE)]
    assert (operation["kind"], operation["status"], operation["url"]) == ("stop_cluster", "pending", None)

    arm.finish_all()
    later = service(arm, store).tick(now=EVENING + timedelta(minutes=10))
    assert [str(c.operation.status) for c in later.confirmations] == ["succeeded"]
    assert later.resumed == [] and len(stop_audits(store)) == 1


def test_a_stop_that_never_reached_arm_is_applied_by_the_next_tick(store: SqliteStateStore) -> None:
    arm = DyingArm(make_cluster("aks-dev"), after=False)
    with pytest.raises(Died):
        service(arm, store).tick(now=EVENING)
    assert arm.writes == []

    again = service(arm, store).tick(now=EVENING + timedelta(minutes=1))
    assert again.resumed == [] and [o.status for o in again.outcomes] == [Status.APPLIED]
    assert arm.writes == [("stop", "aks-dev")]
    assert [a.status for a in stop_audits(store)] == ["applied"]


def test_a_claim_met_by_the_executor_is_verified_and_recorded_once(store: SqliteStateStore) -> None:
    arm = FakeArm(make_cluster("aks-dev"))
    stop = action(Kind.STOP)
    dying = ExecutionPolicy(dry_run=False)

    def die(_: Action) -> None:
        arm.begin_stop(stop.target)
        raise Died

    with pytest.raises(Died):
        apply_plan(
            Plan("schedule", actions=[stop]),
            handlers={stop.kind: die},
            store=store,
            policy=dying,
            scope="elsewhere",
        )
    outcomes = apply_plan(
        Plan("schedule", actions=[stop]),
        handlers={stop.kind: lambda _: pytest.fail("applied twice")},
        store=store,
        policy=dying,
        verifiers=schedule_verifiers(arm.get_cluster),
        scope="tick",
    )
    assert [(o.status, o.detail) for o in outcomes] == [(Status.ALREADY_DONE, RESUMED)]
    assert len(stop_audits(store)) == 1


def test_a_claim_arm_cannot_verify_now_waits_for_a_later_tick(store: SqliteStateStore) -> None:
    arm = DyingArm(make_cluster("aks-dev"), after=True)
    with pytest.raises(Died):
        service(arm, store).tick(now=EVENING)
    arm.unreadable.add(make_cluster("aks-dev").key)
    blind = service(arm, store).tick(now=EVENING + timedelta(minutes=1))
    assert blind.resumed == [] and blind.outcomes == [] and stop_audits(store) == []
    arm.unreadable.clear()
    later = service(arm, store).tick(now=EVENING + timedelta(minutes=2))
    assert [o.detail for o in later.resumed] == [RESUMED] and len(stop_audits(store)) == 1
    assert arm.writes == [("stop", "aks-dev")]
