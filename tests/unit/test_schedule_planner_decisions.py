"""The schedule engine's decisions word for word, one cluster at a time: the row ``ops
schedule`` shows (desired and current state, action, reason, node-hours saved) and every
action's target, service, parameters and key.

Cases, cluster mode: the fallback restores the pools still not back, system pools first
(a mode in any case), otherwise by name, starting only a pool that is not running, and
counts the pools that wait; a refused start falls back at once ("1 time", "refused with the
control plane already up"); a fallback with no last known pools fails with its reason;
every pool back (a saved pool since deleted does not count) with the cluster still Failed
updates the cluster, and a failed update is made again; a Failed cluster the schedule did
not start is only reported; a still-stopped cluster past the fallback threshold is started
again; a start before the threshold is started again; retries: a succeeded attempt whose
state differs again, backing off until its retry time, the next attempt, and a failure in
another window or of another kind starting again at attempt 1, a success whose end is not
known; a record of another purpose is not a last known scale. Node-pool mode: the first
pool that can go goes while an earlier one backs off, and when all back off the first's
holdup is reported; pending operations are waited for, each named; a busy pool
and a pool at zero without a record are skipped (and named when nothing else happens); a
stopped cluster is started in on-hours and left at night; restores name the scale; a pool
Failed at its saved scale is restored; a deleted pool is not recreated; a running pool
saves the scale it runs, not an older record. Node-hours count pools at zero by their
saved scale (last known in cluster mode, restore in node-pool mode). Also: a held cluster's
guard names the held keys and the kinds it would have done; the window id and the
explanation when no on-hours were seen, and on a holiday; hours rounded to 0.1; a start given
up on its row and as skipped; actions paced by the subscription id in lower case. The grace
period of a cluster started by hand after this window's stop finished: from the first tick
that saw it running (now, or as recorded for this stop), up to an instant before its end and
not at it; none after a failed stop, a stop in another window, or with a grace period of 0.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from ops.plan import make_key
from ops.schedule.clusters import ObservedPool, PoolScale
from ops.schedule.planner import ScheduleReport, _window_id, hold_clusters
from ops.schedule.policy import load_policy
from ops.schedule.records import Kind, OpStatus, Purpose
from ops.schedule.windows import DesiredState
from tests.unit.test_schedule_engine import (
    FRI_MORNING,
    MORNING_WINDOW,
    POOLS_TAGS,
    STAGING_POOLS,
    THU_EVENING,
    cluster,
    operation,
    plan,
    pool,
    saved,
    staging,
    state_of,
)

LATER = FRI_MORNING + timedelta(hours=1)
SUBSCRIPTION = "arm:00000000-0000-0000-0000-000000000001"


def down(name: str, mode: str = "User") -> ObservedPool:
    return ObservedPool(name, mode, PoolScale(0), power_state="Stopped", provisioning_state="Failed")


def to_zero(pool: str, count: int, *, attempt: int) -> tuple[str, str, dict[str, Any]]:
    """The action scaling aks-staging's User pool ``pool`` (``count`` nodes, no autoscaler) to zero."""
    save = {
        "name": pool,
        "mode": "User",
        "scale": {"count": count, "enableAutoScaling": False, "minCount": None, "maxCount": None},
    }
    return (
        "scale_pool_to_zero",
        f"aks-staging/agentPools/{pool}",
        {"attempt": attempt, "pool": pool, "save": save},
    )


def scenarios() -> dict[str, tuple[Any, Any, Any]]:
    found: dict[str, tuple[Any, Any, Any]] = {}
    # fallback: two user pools to restore (system is back), by name; one running at the wrong scale
    c = cluster(
        "aks-dev",
        provisioning="Failed",
        pools=(
            pool("system", 2, mode="System"),
            down("zeta"),
            ObservedPool(
                "alpha", "User", PoolScale(1), power_state="Running", provisioning_state="Succeeded"
            ),
        ),
    )
    f = operation(c, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=3)
    known = (
        saved(c, "system", PoolScale(2), Purpose.LAST_KNOWN),
        saved(c, "zeta", PoolScale(3), Purpose.LAST_KNOWN),
        saved(c, "alpha", PoolScale(2), Purpose.LAST_KNOWN),
        # a node-pool-mode record of the same pool is not a last known scale
        saved(c, "zeta", PoolScale(9), Purpose.RESTORE),
    )
    found["fallback-user-pools-by-name"] = (c, LATER, state_of(f, pools=known))
    # fallback with mixed-case system mode and observed pool names in another case
    # (the user pool's name sorts first: system pools go first all the same)
    c2 = cluster("aks-dev", provisioning="Failed", pools=(down("System1", mode="System"), down("apps")))
    known2 = (
        replace(saved(c2, "system1", PoolScale(2), Purpose.LAST_KNOWN), mode="SYSTEM"),
        saved(c2, "apps", PoolScale(3), Purpose.LAST_KNOWN),
    )
    f2 = replace(operation(c2, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=1), refused=True)
    found["refused-start-falls-back-at-once"] = (c2, LATER, state_of(f2, pools=known2))
    found["fallback-without-records"] = (c2, LATER, state_of(f))
    allback = cluster(
        "aks-dev", provisioning="Failed", pools=(pool("system", 2, mode="System"), pool("user", 3))
    )
    known3 = (
        saved(allback, "system", PoolScale(2), Purpose.LAST_KNOWN),
        saved(allback, "user", PoolScale(3), Purpose.LAST_KNOWN),
        saved(allback, "gone", PoolScale(3), Purpose.LAST_KNOWN),
    )
    found["fallback-done-reconcile"] = (allback, LATER, state_of(f, pools=known3))
    rec = operation(
        allback, Kind.RECONCILE, OpStatus.FAILED, window=MORNING_WINDOW, attempt=1, retry_at=LATER
    )
    found["reconcile-again"] = (allback, LATER, state_of(rec))
    found["failed-not-from-schedule"] = (allback, LATER, state_of())
    stopped = cluster("aks-dev", power="Stopped")
    found["stopped-after-fallback-threshold"] = (
        stopped,
        LATER,
        state_of(operation(stopped, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=3)),
    )
    found["start-again-before-threshold"] = (
        allback,
        LATER,
        state_of(operation(allback, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=2)),
    )
    ok = replace(
        operation(stopped, Kind.START, OpStatus.SUCCEEDED, window=MORNING_WINDOW, attempt=1),
        finished=FRI_MORNING,
    )
    found["succeeded-but-differs"] = (stopped, LATER, state_of(ok))
    found["backing-off"] = (
        stopped,
        FRI_MORNING,
        state_of(
            operation(
                stopped,
                Kind.START,
                OpStatus.FAILED,
                window=MORNING_WINDOW,
                retry_at=FRI_MORNING + timedelta(minutes=5),
            )
        ),
    )
    found["retry"] = (
        stopped,
        LATER,
        state_of(
            operation(
                stopped, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=2, retry_at=FRI_MORNING
            )
        ),
    )
    found["other-window-starts-at-1"] = (
        stopped,
        LATER,
        state_of(
            operation(stopped, Kind.START, OpStatus.FAILED, window="2026-11-20T06:30:00+00:00", attempt=4)
        ),
    )
    found["other-kind-starts-at-1"] = (
        stopped,
        LATER,
        state_of(operation(stopped, Kind.STOP, OpStatus.FAILED, window=MORNING_WINDOW, attempt=4)),
    )
    # node-pool mode
    busy = staging(
        (
            pool("system", 2, mode="System"),
            ObservedPool("apps", "User", PoolScale(3), provisioning_state="Scaling"),
            pool("batch", 4),
            pool("zero", 0),
        )
    )
    found["pools-busy-and-zero-at-night"] = (busy, THU_EVENING, state_of())
    found["pools-busy-and-zero-in-the-morning"] = (busy, FRI_MORNING, state_of())
    st = cluster("aks-staging", POOLS_TAGS, power="Stopped", pools=STAGING_POOLS)
    found["pools-stopped-at-night"] = (st, THU_EVENING, state_of())
    found["pools-stopped-in-the-morning"] = (st, FRI_MORNING, state_of())
    dn = staging((pool("system", 2, mode="System"), pool("apps", 0), pool("batch", 0)))
    found["pools-restore"] = (
        dn,
        FRI_MORNING,
        state_of(pools=(saved(dn, "apps", PoolScale(3, True, 2, 6)), saved(dn, "batch", PoolScale(4)))),
    )
    found["pools-up"] = (staging(), FRI_MORNING, state_of())
    fp = staging(
        (
            pool("system", 2, mode="System"),
            ObservedPool(
                "apps", "User", PoolScale(3, True, 2, 6), power_state="Running", provisioning_state="FAILED"
            ),
        )
    )
    found["pool-failed-is-restored"] = (
        fp,
        FRI_MORNING,
        state_of(pools=(saved(fp, "apps", PoolScale(3, True, 2, 6)),)),
    )
    gone = staging((pool("system", 2, mode="System"),))
    found["pools-all-zero-at-night"] = (
        staging((pool("system", 2, mode="System"), pool("apps", 0), pool("batch", 0))),
        THU_EVENING,
        state_of(),
    )
    rs = staging((pool("system", 2, mode="System"), pool("apps", 3)))
    found["pools-a-running-pool-saves-what-it-runs"] = (
        rs,
        THU_EVENING,
        state_of(pools=(saved(rs, "apps", PoolScale(5)),)),
    )
    found["pool-deleted-is-not-recreated"] = (
        gone,
        FRI_MORNING,
        state_of(pools=(saved(gone, "apps", PoolScale(3)),)),
    )
    ok2 = replace(
        operation(stopped, Kind.START, OpStatus.SUCCEEDED, window=MORNING_WINDOW, attempt=1), finished=None
    )
    found["succeeded-at-an-unknown-time"] = (stopped, LATER, state_of(ok2))
    night = staging((pool("system", 2, mode="System"), pool("apps", 3), pool("batch", 4)))
    night_window = "2026-11-26T18:00:00+00:00"

    def backing_off(name: str, hours: int = 1) -> Any:
        failed = operation(
            night,
            Kind.SCALE_DOWN,
            OpStatus.FAILED,
            window=night_window,
            retry_at=THU_EVENING + timedelta(hours=hours),
        )
        return replace(failed, target=night.pool_id(name))

    found["pools-the-first-backing-off"] = (night, THU_EVENING, state_of(backing_off("apps")))
    found["pools-all-backing-off"] = (
        night,
        THU_EVENING,
        state_of(backing_off("apps"), backing_off("batch", 2)),
    )
    pending = replace(
        operation(night, Kind.SCALE_DOWN, OpStatus.PENDING, window=night_window), target=night.pool_id("apps")
    )
    stopping = operation(night, Kind.STOP, OpStatus.PENDING, window=night_window)
    found["pending-pool-operation"] = (night, THU_EVENING, state_of(pending, stopping))
    return found


EXPECTED: dict[str, dict[str, Any]] = {
    "fallback-user-pools-by-name": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "restore_pool",
            "reason": "fallback: start failed 3 times "
            "(OverconstrainedAllocationRequest); starting "
            "user pool alpha with its last known scale; 1 "
            "more pool(s) wait their turn",
            "nodeHoursSavedPerWeek": 663.0,
        },
        "actions": [
            (
                "restore_pool",
                "aks-dev/agentPools/alpha",
                {
                    "attempt": 1,
                    "pool": "alpha",
                    "scale": {"count": 2, "enableAutoScaling": False, "minCount": None, "maxCount": None},
                    "purpose": "last-known",
                    "start": False,
                },
            )
        ],
        "skipped": [],
    },
    "refused-start-falls-back-at-once": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "restore_pool",
            "reason": "fallback: start failed 1 time, the last "
            "refused with the control plane already up "
            "(OverconstrainedAllocationRequest); "
            "starting system pool system1 with its "
            "last known scale; 1 more pool(s) wait "
            "their turn",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [
            (
                "restore_pool",
                "aks-dev/agentPools/system1",
                {
                    "attempt": 1,
                    "pool": "system1",
                    "scale": {"count": 2, "enableAutoScaling": False, "minCount": None, "maxCount": None},
                    "purpose": "last-known",
                    "start": True,
                },
            )
        ],
        "skipped": [],
    },
    "fallback-without-records": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "none",
            "reason": "failed: start failed 3 times "
            "(OverconstrainedAllocationRequest) and no last "
            "known pools were recorded to fall back to",
            "nodeHoursSavedPerWeek": 0.0,
        },
        "actions": [],
        "skipped": [],
    },
    "fallback-done-reconcile": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "reconcile_cluster",
            "reason": "fallback: start failed 3 times "
            "(OverconstrainedAllocationRequest); every pool is "
            "back at its last known scale, so the cluster is "
            "updated for AKS to reconcile it and clear "
            "provisioningState=Failed",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("reconcile_cluster", "aks-dev", {"attempt": 1})],
        "skipped": [],
    },
    "reconcile-again": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "reconcile_cluster",
            "reason": "fallback: every pool is back; updating the cluster again "
            "(attempt 2, after: OverconstrainedAllocationRequest)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("reconcile_cluster", "aks-dev", {"attempt": 2})],
        "skipped": [],
    },
    "failed-not-from-schedule": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "none",
            "reason": "running as scheduled, but provisioningState=Failed (not from a schedule start)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [],
        "skipped": [],
    },
    "stopped-after-fallback-threshold": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start again: the fallback needs the "
            "control plane running, and the cluster is "
            "still stopped (attempt 4, after: "
            "OverconstrainedAllocationRequest)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 4})],
        "skipped": [],
    },
    "start-again-before-threshold": {
        "row": {
            "desired": "on",
            "current": "running (Failed)",
            "action": "start_cluster",
            "reason": "start again: on-hours since 2026-11-27 07:30 "
            "CET (Mon-Fri 07:30-19:00 Europe/Berlin) "
            "(attempt 3, after: "
            "OverconstrainedAllocationRequest)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 3})],
        "skipped": [],
    },
    "succeeded-but-differs": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start: on-hours since 2026-11-27 07:30 CET (Mon-Fri "
            "07:30-19:00 Europe/Berlin) (start_cluster succeeded "
            "at 2026-11-27T07:00:00+00:00 but the state differs "
            "again)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 2})],
        "skipped": [],
    },
    "backing-off": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "none",
            "reason": "backing off: start_cluster attempt 1 failed "
            "(OverconstrainedAllocationRequest); next attempt at "
            "2026-11-27T07:05:00+00:00",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [],
        "skipped": [],
    },
    "retry": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start: on-hours since 2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 "
            "Europe/Berlin) (attempt 3, after: OverconstrainedAllocationRequest)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 3})],
        "skipped": [],
    },
    "other-window-starts-at-1": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start: on-hours since 2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 Europe/Berlin)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 1})],
        "skipped": [],
    },
    "other-kind-starts-at-1": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start: on-hours since 2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 Europe/Berlin)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 1})],
        "skipped": [],
    },
    "pools-busy-and-zero-at-night": {
        "row": {
            "desired": "off",
            "current": "running, 1 of 3 user pools at 0",
            "action": "scale_pool_to_zero",
            "reason": "scale pool batch to zero: off-hours since "
            "2026-11-26 19:00 CET (Mon-Fri 07:30-19:00 "
            "Europe/Berlin)",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [to_zero("batch", 4, attempt=1)],
        "skipped": [],
    },
    "pools-busy-and-zero-in-the-morning": {
        "row": {
            "desired": "on",
            "current": "running, 1 of 3 user pools at 0",
            "action": "none",
            "reason": "user pools up as scheduled: on-hours "
            "since 2026-11-27 07:30 CET (Mon-Fri "
            "07:30-19:00 Europe/Berlin) (pool apps "
            "busy (Scaling); pool zero is at 0 with "
            "no saved scale; left alone)",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [],
        "skipped": [],
    },
    "pools-stopped-at-night": {
        "row": {
            "desired": "off",
            "current": "stopped",
            "action": "none",
            "reason": "stopped (nothing to scale): off-hours since "
            "2026-11-26 19:00 CET (Mon-Fri 07:30-19:00 "
            "Europe/Berlin)",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [],
        "skipped": [],
    },
    "pools-stopped-in-the-morning": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start: cluster is stopped; on-hours since "
            "2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 "
            "Europe/Berlin)",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [("start_cluster", "aks-staging", {"attempt": 1})],
        "skipped": [],
    },
    "pools-restore": {
        "row": {
            "desired": "on",
            "current": "running, 2 of 2 user pools at 0",
            "action": "restore_pool",
            "reason": "restore pool apps to count 3, autoscaler 2-6: on-hours since "
            "2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 Europe/Berlin); 1 "
            "more pool(s) wait their turn",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [
            (
                "restore_pool",
                "aks-staging/agentPools/apps",
                {
                    "attempt": 1,
                    "pool": "apps",
                    "scale": {"count": 3, "enableAutoScaling": True, "minCount": 2, "maxCount": 6},
                    "purpose": "restore",
                },
            )
        ],
        "skipped": [],
    },
    "pools-up": {
        "row": {
            "desired": "on",
            "current": "running, 0 of 2 user pools at 0",
            "action": "none",
            "reason": "user pools up as scheduled: on-hours since 2026-11-27 07:30 CET "
            "(Mon-Fri 07:30-19:00 Europe/Berlin)",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [],
        "skipped": [],
    },
    "pool-failed-is-restored": {
        "row": {
            "desired": "on",
            "current": "running, 0 of 1 user pools at 0",
            "action": "restore_pool",
            "reason": "restore pool apps to count 3, autoscaler 2-6: "
            "on-hours since 2026-11-27 07:30 CET (Mon-Fri "
            "07:30-19:00 Europe/Berlin)",
            "nodeHoursSavedPerWeek": 331.5,
        },
        "actions": [
            (
                "restore_pool",
                "aks-staging/agentPools/apps",
                {
                    "attempt": 1,
                    "pool": "apps",
                    "scale": {"count": 3, "enableAutoScaling": True, "minCount": 2, "maxCount": 6},
                    "purpose": "restore",
                },
            )
        ],
        "skipped": [],
    },
    "pools-all-zero-at-night": {
        "row": {
            "desired": "off",
            "current": "running, 2 of 2 user pools at 0",
            "action": "none",
            "reason": "user pools at 0 as scheduled: off-hours since "
            "2026-11-26 19:00 CET (Mon-Fri 07:30-19:00 "
            "Europe/Berlin)",
            "nodeHoursSavedPerWeek": 0.0,
        },
        "actions": [],
        "skipped": [],
    },
    "pools-a-running-pool-saves-what-it-runs": {
        "row": {
            "desired": "off",
            "current": "running, 0 of 1 user pools at 0",
            "action": "scale_pool_to_zero",
            "reason": "scale pool apps to zero: off-hours "
            "since 2026-11-26 19:00 CET "
            "(Mon-Fri 07:30-19:00 "
            "Europe/Berlin)",
            "nodeHoursSavedPerWeek": 331.5,
        },
        "actions": [to_zero("apps", 3, attempt=1)],
        "skipped": [],
    },
    "pool-deleted-is-not-recreated": {
        "row": {
            "desired": "on",
            "current": "running, 0 of 0 user pools at 0",
            "action": "none",
            "reason": "user pools up as scheduled: on-hours since "
            "2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 "
            "Europe/Berlin)",
            "nodeHoursSavedPerWeek": 0.0,
        },
        "actions": [],
        "skipped": [],
    },
    "succeeded-at-an-unknown-time": {
        "row": {
            "desired": "on",
            "current": "stopped",
            "action": "start_cluster",
            "reason": "start: on-hours since 2026-11-27 07:30 CET (Mon-Fri 07:30-19:00 Europe/Berlin) "
            "(start_cluster succeeded at ? but the state differs again)",
            "nodeHoursSavedPerWeek": 552.5,
        },
        "actions": [("start_cluster", "aks-dev", {"attempt": 2})],
        "skipped": [],
    },
    "pools-the-first-backing-off": {
        "row": {
            "desired": "off",
            "current": "running, 0 of 2 user pools at 0",
            "action": "scale_pool_to_zero",
            "reason": "scale pool batch to zero: off-hours since 2026-11-26 19:00 CET (Mon-Fri "
            "07:30-19:00 Europe/Berlin); 1 more pool(s) wait their turn",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [to_zero("batch", 4, attempt=1)],
        "skipped": [],
    },
    "pools-all-backing-off": {
        "row": {
            "desired": "off",
            "current": "running, 0 of 2 user pools at 0",
            "action": "none",
            "reason": "backing off: scale_pool_to_zero attempt 1 failed "
            "(OverconstrainedAllocationRequest); next attempt at 2026-11-26T20:00:00+00:00",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [],
        "skipped": [],
    },
    "pending-pool-operation": {
        "row": {
            "desired": "off",
            "current": "running, 0 of 2 user pools at 0",
            "action": "none",
            "reason": "waiting: scale_pool_to_zero of aks-staging/agentPools/apps (attempt 1), "
            "stop_cluster of aks-staging (attempt 1) started by an earlier tick is still running",
            "nodeHoursSavedPerWeek": 773.5,
        },
        "actions": [],
        "skipped": [],
    },
}


def report_of(name: str) -> ScheduleReport:
    c, now, state = scenarios()[name]
    return plan(c, now=now, state=state)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_decision_word_for_word(name: str) -> None:
    report = report_of(name)
    (row,) = report.rows
    stored = row.to_dict()
    expected = EXPECTED[name]
    assert {k: stored[k] for k in expected["row"]} == expected["row"]
    assert [
        (
            a.kind,
            a.target.split("managedClusters/")[1],
            {k: v for k, v in a.params.items() if k not in ("cluster", "window")},
        )
        for a in report.plan.actions
    ] == [tuple(a) for a in expected["actions"]]
    assert [(g.target.split("managedClusters/")[1], g.reason) for g in report.plan.skipped] == [
        tuple(g) for g in expected["skipped"]
    ]
    for action in report.plan.actions:
        assert action.service == SUBSCRIPTION
        assert action.params["cluster"] == row.id
        assert action.reason == row.reason or row.reason.startswith(action.reason + "; ")
        window = action.params["window"]
        assert action.key == make_key(
            action.kind, action.target.lower(), {"window": window, "attempt": action.params["attempt"]}
        )


def test_a_held_cluster_names_the_held_keys_and_what_it_would_have_done() -> None:
    report = report_of("fallback-user-pools-by-name")
    (action,) = report.plan.actions
    held = hold_clusters(report, {report.rows[0].id.upper(): "the re-read failed"})
    assert held.plan.actions == ()
    (guard,) = held.plan.skipped
    assert (guard.target, guard.reason, dict(guard.detail)) == (
        report.rows[0].id,
        "skipped: the re-read failed; retry next tick",
        {"held": [action.key]},
    )
    assert held.rows[0].action == "none"
    assert (
        held.rows[0].reason == "skipped: the re-read failed; retry next tick (would have done: restore_pool)"
    )


def test_holding_no_cluster_or_another_changes_nothing() -> None:
    report = report_of("pools-restore")
    assert hold_clusters(report, {}) is report
    assert hold_clusters(report, {"/subscriptions/x/other": "why"}) is report


def test_node_hours_are_rounded_to_a_tenth() -> None:
    tags = {"ops-schedule": "Mon-Fri 07:20-19:00", "ops-timezone": "Europe/Berlin", "environment": "dev"}
    one = cluster("aks-dev", tags, pools=(pool("system", 1, mode="System"),))
    # off 168 - 5 * 11h40m = 109.666... hours a week
    assert plan(one, now=THU_EVENING).rows[0].node_hours_saved_per_week == 109.7


def test_a_holiday_is_named_in_the_explanation() -> None:
    tags = {**POOLS_TAGS, "ops-holidays": "DE-BY"}
    christmas = cluster("aks-staging", tags, pools=STAGING_POOLS)
    noon = THU_EVENING.replace(month=12, day=25, hour=11)
    assert (
        plan(christmas, now=noon)
        .rows[0]
        .reason.startswith(
            "scale pool apps to zero: off-hours since 2026-12-24 19:00 CET "
            "(Mon-Fri 07:30-19:00 Europe/Berlin, holidays DE-BY (today is a holiday))"
        )
    )


def test_a_given_up_start_is_reported_on_its_row_and_as_skipped() -> None:
    stopped = cluster("aks-dev", power="Stopped")
    failed = operation(stopped, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=6)
    report = plan(stopped, now=LATER, state=state_of(failed))
    reason = (
        "failed: start_cluster failed 6 times this window; giving up until the next one: "
        "OverconstrainedAllocationRequest"
    )
    assert (report.rows[0].action, report.rows[0].reason, report.rows[0].desired) == ("none", reason, "on")
    assert [(g.target, g.reason) for g in report.plan.skipped] == [(stopped.id, reason)]


def test_actions_are_paced_by_the_subscription_in_lower_case() -> None:
    upper = replace(cluster("aks-dev"), subscription="ABCDEF00-0000-0000-0000-00000000000A")
    (action,) = plan(upper, now=THU_EVENING).plan.actions
    assert action.service == "arm:abcdef00-0000-0000-0000-00000000000a"


@pytest.mark.parametrize(
    ("desired", "window"),
    [
        (DesiredState(on=False, since=THU_EVENING, until=FRI_MORNING), THU_EVENING.isoformat()),
        (DesiredState(on=False, since=None, until=FRI_MORNING), f"until:{FRI_MORNING.isoformat()}"),
        (DesiredState(on=False, since=None, until=None), "never-on"),
    ],
)
def test_a_window_is_named_by_its_first_instant_or_what_is_known(desired: DesiredState, window: str) -> None:
    assert _window_id(desired) == window


# -- grace period --------------------------------------------------------------------------

TONIGHT = "2026-11-26T18:00:00+00:00"  # the off-hours window that began at 19:00 in Berlin
STOPPED_AT = THU_EVENING + timedelta(minutes=5)  # THU_EVENING is 20:00 in Berlin


def stopped_by_schedule(c: Any, *, status: OpStatus = OpStatus.SUCCEEDED, window: str = TONIGHT) -> Any:
    return replace(operation(c, Kind.STOP, status, window=window), finished=STOPPED_AT)


def grace(now: Any, *, seen: Any = None, after: Any = STOPPED_AT, policy: Any = None, **kw: Any) -> Any:
    running = cluster("aks-dev")
    last = stopped_by_schedule(running, **kw)
    starts = {running.key: (after, seen)} if seen is not None else {}
    state = replace(state_of(last), manual_starts=starts)
    return plan(running, now=now, state=state, policy=policy)


OFF = "off-hours since 2026-11-26 19:00 CET (Mon-Fri 07:30-19:00 Europe/Berlin)"


def test_a_cluster_started_by_hand_keeps_its_grace_period_from_when_it_was_seen() -> None:
    now = THU_EVENING + timedelta(minutes=30)
    report = grace(now)
    assert report.plan.actions == ()
    row = report.rows[0]
    assert (row.action, row.next_change) == ("none", "2026-11-26 21:30 CET")
    assert row.reason == (
        "grace period: started by hand after the schedule stopped it at 2026-11-26 20:05 CET "
        f"(seen running at 2026-11-26 20:30 CET); stays up until 2026-11-26 21:30 CET, then {OFF}"
    )


@pytest.mark.parametrize(
    ("minutes", "stopped"),
    [pytest.param(79, False, id="an-instant-before-its-end"), pytest.param(80, True, id="at-its-end")],
)
def test_a_recorded_sighting_dates_the_grace_period(minutes: int, stopped: bool) -> None:
    seen = THU_EVENING + timedelta(minutes=20)
    now = (
        THU_EVENING
        + timedelta(minutes=minutes)
        - (timedelta(microseconds=1) if not stopped else timedelta(0))
    )
    report = grace(now, seen=seen)
    assert [a.kind for a in report.plan.actions] == (["stop_cluster"] if stopped else [])
    if not stopped:
        assert report.rows[0].reason.startswith(
            "grace period: started by hand after the schedule stopped it at 2026-11-26 20:05 CET "
            "(seen running at 2026-11-26 20:20 CET); stays up until 2026-11-26 21:20 CET"
        )


def test_a_sighting_after_an_earlier_stop_does_not_count() -> None:
    now = THU_EVENING + timedelta(minutes=30)
    report = grace(now, seen=THU_EVENING - timedelta(days=1), after=STOPPED_AT - timedelta(days=1))
    assert "(seen running at 2026-11-26 20:30 CET)" in report.rows[0].reason


@pytest.mark.parametrize(
    "why",
    ["the stop failed", "the stop was in another window", "no grace period"],
)
def test_no_grace_period_without_a_stop_that_finished_this_window(why: str) -> None:
    now = THU_EVENING + timedelta(minutes=30)
    if why == "the stop failed":
        report = grace(now, status=OpStatus.FAILED)
    elif why == "the stop was in another window":
        report = grace(now, window="2026-11-25T18:00:00+00:00")
    else:
        report = grace(now, policy=load_policy("schedule:\n  gracePeriod: 0s\n"))
    assert [a.kind for a in report.plan.actions] == ["stop_cluster"], why
