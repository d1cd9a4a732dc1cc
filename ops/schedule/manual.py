"""Manual stop, start and snooze of one cluster: the schedule's runbooks, as a pure planner.

An operator acts on one cluster by hand (``POST /api/runbooks/schedule-stop``), and
the same guards hold as for the tick:

- a cluster tagged with a protected environment is never stopped, started or snoozed
  by a runbook either: the plan holds it as protected and has no action;
- an operation still running, or a cluster busy in ARM, means "not now";
- a stop the schedule would undo at its next tick (the schedule wants the cluster on)
  is refused, with when the schedule turns it off; a start while the schedule wants
  the cluster off needs ``until``, which snoozes it (keeps it running) until then, so
  that the next tick does not stop it again.

Stops and starts are the tick's own actions (``stop_cluster``, ``start_cluster``) in a
window of their own (``manual:<minute>``), so that the tick confirms them and backs off
a failure exactly as it does for its own. A snooze is a ``snooze`` action whose ``until``
is an absolute time to the minute, so that a plan reviewed and applied within the same
minute is the same plan, and a replay applies it once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ops.plan import Action, Guard, Plan, make_key
from ops.schedule.clusters import ObservedCluster
from ops.schedule.planner import CAPABILITY, ClusterRow
from ops.schedule.policy import SchedulePolicy
from ops.schedule.records import Kind, Operation, OpStatus

SNOOZE = "snooze"
STOP = str(Kind.STOP)
START = str(Kind.START)


def plan_manual(
    cluster: ObservedCluster,
    kind: str,
    *,
    policy: SchedulePolicy,
    row: ClusterRow | None,
    operations: Sequence[Operation],
    now: datetime,
    until: datetime | None = None,
    clear: bool = False,
) -> Plan:
    """The plan of a manual ``stop``, ``start`` or ``snooze`` of ``cluster`` at ``now``.

    ``row`` is the schedule's view of the cluster (None: no schedule covers it);
    ``until`` the snooze end (snooze, or start while the schedule wants it off).
    """
    protected_by = policy.protected_environment(cluster.tags)
    if protected_by is not None:
        reason = (
            f"protected: environment={protected_by} is a protected environment; "
            "runbooks never stop, start or snooze it"
        )
        return Plan(CAPABILITY, protected=(Guard(cluster.id, reason),))
    if kind == SNOOZE:
        return Plan(CAPABILITY, actions=(_snooze(cluster, until, clear),))
    pending = [op for op in operations if op.status is OpStatus.PENDING and op.cluster.lower() == cluster.key]
    if pending:
        waiting = ", ".join(
            f"{op.kind} (started {op.started.isoformat(timespec='seconds')})" for op in pending
        )
        return _skip(cluster, f"waiting: {waiting} is still running; try again when it is done")
    if cluster.is_busy:
        return _skip(cluster, f"busy: provisioningState={cluster.provisioning_state}; try again later")
    scheduled_on = row is not None and row.desired == "on"
    scheduled_off = row is not None and row.desired == "off"
    if kind == STOP:
        if cluster.is_stopped:
            return _skip(cluster, "already stopped")
        if scheduled_on:
            assert row is not None
            return _skip(
                cluster,
                f"refused: its schedule ({row.schedule}, {row.timezone}) keeps it running"
                + (f" until {row.next_change}" if row.next_change else "")
                + "; the next tick would start it again. Change its schedule, or exclude it",
            )
        pools = [{"name": p.name, "mode": p.mode, "scale": p.scale.to_dict()} for p in cluster.pools]
        return Plan(CAPABILITY, actions=(_operation(cluster, Kind.STOP, now, "stop: by hand", pools=pools),))
    if kind != START:
        raise ValueError(f"unknown manual schedule action {kind!r}")
    if not cluster.is_stopped:
        return _skip(cluster, "already running")
    if scheduled_off and until is None:
        return _skip(
            cluster,
            "refused: its schedule wants it stopped now and the next tick would stop it again; "
            "give until (a time or a duration such as 3h) to keep it running until then",
        )
    actions = [_snooze(cluster, until, False)] if until is not None else []
    actions.append(_operation(cluster, Kind.START, now, "start: by hand"))
    return Plan(CAPABILITY, actions=tuple(actions))


def _operation(cluster: ObservedCluster, kind: Kind, now: datetime, reason: str, **params: Any) -> Action:
    window = f"manual:{now.replace(second=0, microsecond=0).isoformat()}"
    return Action(
        kind=str(kind),
        target=cluster.id,
        reason=reason,
        service=f"arm:{cluster.subscription.lower()}",
        params={"cluster": cluster.id, "window": window, "attempt": 1, **params},
        key=make_key(str(kind), cluster.key, {"window": window, "attempt": 1}),
    )


def _snooze(cluster: ObservedCluster, until: datetime | None, clear: bool) -> Action:
    value = None if clear or until is None else until.replace(second=0, microsecond=0).isoformat()
    reason = f"snooze: keep running until {value}" if value else "snooze: cleared"
    zone = None if value is None or until is None else str(until.tzinfo)
    return Action(
        kind=SNOOZE,
        target=cluster.id,
        reason=reason,
        service=f"arm:{cluster.subscription.lower()}",
        # The zone is for people reading the plan; the time itself carries its offset.
        params={"cluster": cluster.id, "until": value, "timezone": zone},
        key=make_key(SNOOZE, cluster.key, {"until": value}),
    )


def _skip(cluster: ObservedCluster, reason: str) -> Plan:
    return Plan(CAPABILITY, skipped=(Guard(cluster.id, reason),))
