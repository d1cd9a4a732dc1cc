"""Resuming a tick that died mid-action: ask ARM whether each open action took effect.

A tick killed between starting a stop (or a start, or a pool update) and recording
it leaves the action's executor claim open. Waiting for the claim to time out would
hold that cluster for a quarter of an hour, and if the operation did start, the
planner of the next tick sees a cluster already stopping and never meets the action
again, so its audit record would be lost. So the next tick (and the claim path,
should it meet the claim) asks ARM, through the same ``get_cluster`` the tick
re-reads with, whether the cluster or pool is in the action's target state:

============================  ===========================================================
action                        in place when ARM reports
============================  ===========================================================
``stop_cluster``              ``powerState`` Stopped, or ``provisioningState`` Stopping
``start_cluster``             ``powerState`` Running, or ``provisioningState`` Starting
``scale_pool_to_zero``        the pool at 0 nodes with the autoscaler off
``restore_pool``              the pool at its saved count and autoscaler bounds (running,
                              when the action also starts it)
``reconcile_cluster``         a ``provisioningState`` other than Failed
============================  ===========================================================

A pool in the middle of an update (``Updating``, ``Scaling``…) cannot say which
update it is running: "cannot tell yet", the claim stays open and the next tick asks
again. So does a cluster or pool that is gone: re-applying a pool update would create
the pool again. An action not in place is released and planned again; an action in
place gets its one audit record, and an operation record (``pending``, without a
status URL) that the same tick confirms from the resource's state, as it confirms
every operation started earlier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from ops.errors import NotFound, TransientError
from ops.executor import RESUMED, Verifier, resolve_open_claims
from ops.plan import Action, Outcome
from ops.schedule.clusters import ObservedCluster, ObservedPool, PoolScale
from ops.schedule.planner import CAPABILITY, POOL_BUSY, scale_differs
from ops.schedule.records import OPERATIONS_TABLE, Kind, Operation, OpStatus
from ops.state.store import StateStore

log = logging.getLogger(__name__)

#: The executor scope of the tick's actions (one tick runs at a time: the lease).
TICK_SCOPE = "tick"


def is_in_place(action: Action, cluster: ObservedCluster) -> bool | None:
    """Whether ``cluster`` (read from ARM now) shows ``action``'s effect: True, False, or
    None when it cannot tell yet."""
    kind = Kind(action.kind)
    power = cluster.power_state.lower()
    provisioning = cluster.provisioning_state.lower()
    if kind is Kind.STOP:
        return power == "stopped" or provisioning == "stopping"
    if kind is Kind.START:
        return power == "running" or provisioning == "starting"
    if kind is Kind.RECONCILE:
        return None if provisioning == "updating" else provisioning != "failed"
    pool = _pool(cluster, str(action.params["pool"]))
    if pool is None or pool.provisioning_state.lower() in POOL_BUSY:
        return None
    if kind is Kind.SCALE_DOWN:
        return pool.scale.is_zero
    wanted = PoolScale.from_dict(action.params["scale"])
    started = not action.params.get("start") or pool.power_state.lower() == "running"
    return started and not scale_differs(pool.scale, wanted)


def schedule_verifiers(read: Callable[[str], ObservedCluster]) -> Mapping[str, Verifier]:
    """A verifier per schedule action kind; ``read`` is an ARM GET of a cluster by id."""

    def verify(action: Action) -> bool | None:
        try:
            cluster = read(str(action.params["cluster"]))
        except NotFound:
            return None  # gone: nothing to apply, nothing that can be said to have happened
        return is_in_place(action, cluster)

    return dict.fromkeys((str(kind) for kind in Kind), verify)


def resume_tick(
    store: StateStore,
    verifiers: Mapping[str, Verifier],
    *,
    now: datetime,
    wall_clock: datetime,
) -> list[Outcome]:
    """Settle the actions an interrupted tick left open (call it under the tick's lease,
    before planning). Those in place are audited and get an operation record; the rest
    are released for this tick to plan again. ARM unable to answer leaves them open."""
    try:
        resolved = resolve_open_claims(
            store, capability=CAPABILITY, verifiers=verifiers, scope=TICK_SCOPE, now=wall_clock
        )
    except TransientError as exc:
        log.warning("could not verify what an interrupted tick left open (%s); asked again next tick", exc)
        return []
    record_resumed(store, resolved, now=now)
    return resolved


def record_resumed(store: StateStore, outcomes: Sequence[Outcome], *, now: datetime) -> None:
    """An operation record (pending, judged by the resource's state) for each action an
    interrupted attempt applied without recording it; one it did record stays as it is."""
    for outcome in outcomes:
        if outcome.detail != RESUMED:
            continue
        action = outcome.action
        operation = Operation(
            target=action.target,
            cluster=str(action.params["cluster"]),
            kind=Kind(action.kind),
            window=str(action.params["window"]),
            attempt=int(action.params["attempt"]),
            status=OpStatus.PENDING,
            started=now,
        )
        current = store.get_record(OPERATIONS_TABLE, operation.key)
        if current is not None:
            known = Operation.from_value(current.value)
            same = (known.kind, known.window, known.attempt)
            if same == (operation.kind, operation.window, operation.attempt):
                continue
        store.put_record(OPERATIONS_TABLE, operation.key, operation.to_value(), etag="*")


def _pool(cluster: ObservedCluster, name: str) -> ObservedPool | None:
    return next((p for p in cluster.pools if p.name.lower() == name.lower()), None)
