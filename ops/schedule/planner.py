"""The schedule engine: observed clusters + policy + remembered operations + ``now`` → a plan.

Pure: it reads no clock and calls nothing. For each cluster it works out the schedule
(tags over policy defaults), the desired state at ``now`` (``windows``), the current
state, and acts only where the two differ and nothing is already under way:

- protected environments, excluded clusters and clusters with invalid tags appear in
  the plan as guards, with the reason; the others proceed;
- an operation still pending (started by an earlier tick) means "wait";
- a failed stop, start or pool update is retried with exponential backoff, up to
  ``retry.giveUpAfter`` attempts per window; each attempt has its own idempotency key
  (kind, target, window, attempt), so next week's stop is a new action while two
  ticks planning the same attempt apply it once;
- in cluster mode, once a start has failed ``retry.fallbackAfter`` times and left the
  control plane running, the fallback puts each pool back to its last known scale
  (recorded when the cluster was stopped), system pools first, so that one pool
  without capacity no longer holds back the others. It falls back sooner when AKS
  refused a start outright (409) with the control plane up: AKS starts no running
  cluster, so asking again could only be refused again. Once every pool is back, a
  cluster still reporting ``provisioningState: Failed`` (left by the failed start; each
  agent pool has its own state) is updated, so that AKS reconciles it and clears it;
- in node-pool mode, user pools are scaled to zero with their count and autoscaler
  bounds saved, and restored exactly; system pools are never scaled to zero.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ops.errors import InvalidInput
from ops.plan import Action, Guard, Plan, make_key
from ops.resource_ids import parse_resource_id
from ops.schedule.clusters import ObservedCluster, ObservedPool, PoolScale
from ops.schedule.policy import (
    ClusterSchedule,
    HolidayCalendar,
    Mode,
    SchedulePolicy,
    ScheduleTagError,
    lower_tags,
    resolve_schedule,
)
from ops.schedule.records import Kind, Operation, OpStatus, Purpose, SavedPool, saved_pool_key
from ops.schedule.windows import DesiredState, WeeklySchedule, desired_state, on_hours_between

CAPABILITY = "schedule"
POOL_BUSY = frozenset({"updating", "scaling", "creating", "deleting", "upgrading"})
WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ScheduleState:
    """What earlier ticks left in the store: operations by target key, saved pools by key,
    and snoozes kept in the store (by cluster key) for clusters whose tags AKS would not
    let ``ops schedule snooze`` write, because they were stopped."""

    operations: Mapping[str, Operation] = field(default_factory=dict)
    saved_pools: Mapping[str, SavedPool] = field(default_factory=dict)
    snoozes: Mapping[str, datetime] = field(default_factory=dict)
    #: cluster key → (the schedule's stop that finished, when a tick first saw it running again)
    manual_starts: Mapping[str, tuple[datetime, datetime]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ClusterRow:
    """One line of ``ops schedule``: a cluster, what it should be, what it is, and why."""

    cluster: str
    id: str
    schedule: str = ""
    timezone: str = ""
    mode: str = ""
    environment: str = ""
    desired: str = ""
    current: str = ""
    action: str = "none"
    reason: str = ""
    next_change: str = ""
    node_hours_saved_per_week: float | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "id": self.id,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "mode": self.mode,
            "environment": self.environment,
            "desired": self.desired,
            "current": self.current,
            "action": self.action,
            "reason": self.reason,
            "nextChange": self.next_change,
            "nodeHoursSavedPerWeek": self.node_hours_saved_per_week,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ScheduleReport:
    """The plan plus a row per cluster in scope (the plan alone omits clusters at rest)."""

    now: datetime
    plan: Plan
    rows: tuple[ClusterRow, ...]
    not_in_scope: int = 0

    def row(self, name_or_id: str) -> ClusterRow:
        wanted = name_or_id.lower()
        return next(r for r in self.rows if wanted in (r.cluster.lower(), r.id.lower()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "clusters": [r.to_dict() for r in self.rows],
            "notInScope": self.not_in_scope,
            "plan": self.plan.to_dict(),
        }


@dataclass
class _Decision:
    row: ClusterRow
    actions: list[Action] = field(default_factory=list)
    protected: Guard | None = None
    skipped: Guard | None = None


def plan_schedule(
    clusters: Iterable[ObservedCluster],
    *,
    policy: SchedulePolicy,
    state: ScheduleState,
    now: datetime,
    cap: int | None = None,
) -> ScheduleReport:
    """Decide every cluster; see the module docstring for the rules."""
    by_cluster: dict[str, list[Operation]] = defaultdict(list)
    for operation in state.operations.values():
        by_cluster[operation.cluster.lower()].append(operation)
    actions: list[Action] = []
    protected: list[Guard] = []
    skipped: list[Guard] = []
    rows: list[ClusterRow] = []
    outside = 0
    for cluster in sorted(clusters, key=lambda c: c.key):
        decision = _decide(cluster, policy, state, by_cluster.get(cluster.key, []), now)
        if decision is None:
            outside += 1
            continue
        rows.append(decision.row)
        actions.extend(decision.actions)
        if decision.protected is not None:
            protected.append(decision.protected)
        if decision.skipped is not None:
            skipped.append(decision.skipped)
    notes = [f"{outside} cluster(s) have no schedule tags and match no policy default"] if outside else []
    plan = Plan(
        CAPABILITY, _interleave(actions), tuple(protected), tuple(skipped), cap=cap, notes=tuple(notes)
    )
    return ScheduleReport(now=now, plan=plan, rows=tuple(rows), not_in_scope=outside)


def hold_clusters(report: ScheduleReport, held: Mapping[str, str]) -> ScheduleReport:
    """``report`` without any action on the clusters in ``held`` (cluster key → why).

    Each held cluster that had an action is reported as skipped with the reason instead:
    the tick re-reads a cluster before acting on it, and when that read fails the plan
    must not act on Resource Graph's possibly stale view (the cluster may just have been
    tagged a protected environment, or started by hand).
    """
    wanted = {key.lower(): reason for key, reason in held.items()}
    if not wanted:
        return report
    dropped: dict[str, list[Action]] = defaultdict(list)
    kept: list[Action] = []
    for action in report.plan.actions:
        key = str(action.params["cluster"]).lower()
        (dropped[key] if key in wanted else kept).append(action)
    if not dropped:
        return report
    skipped = list(report.plan.skipped)
    rows = []
    for row in report.rows:
        key = row.id.lower()
        if key in dropped:
            reason = f"skipped: {wanted[key]}; retry next tick"
            would = ", ".join(sorted({a.kind for a in dropped[key]}))
            skipped.append(Guard(row.id, reason, {"held": [a.key for a in dropped[key]]}))
            row = _with(row, action="none", reason=f"{reason} (would have done: {would})")
        rows.append(row)
    plan = replace(report.plan, actions=tuple(kept), skipped=tuple(skipped))
    return replace(report, plan=plan, rows=tuple(rows))


def _decide(
    cluster: ObservedCluster,
    policy: SchedulePolicy,
    state: ScheduleState,
    operations: Sequence[Operation],
    now: datetime,
) -> _Decision | None:
    base = ClusterRow(cluster=cluster.name, id=cluster.id, current=_describe_current(cluster, None))
    try:
        schedule = resolve_schedule(lower_tags(cluster.tags), policy)
    except ScheduleTagError as exc:
        reason = f"invalid: {exc}"
        row = _with(base, action="none", reason=reason, error=str(exc))
        return _Decision(row, skipped=Guard(cluster.id, reason, {"problems": list(exc.problems)}))
    if schedule is None:
        return None
    row = _with(
        base,
        schedule=schedule.schedule.text if schedule.schedule else "",
        timezone=schedule.zone.key,
        mode=str(schedule.mode),
        environment=schedule.environment or "",
        current=_describe_current(cluster, schedule.mode),
    )
    if schedule.exclude:
        reason = "excluded: tag ops-exclude=true"
        return _Decision(_with(row, reason=reason), skipped=Guard(cluster.id, reason))
    assert schedule.schedule is not None  # resolve_schedule guarantees it unless excluded
    evaluation = _evaluate(schedule.schedule, schedule.zone, schedule.holidays, now)
    row = _with(row, node_hours_saved_per_week=_node_hours_saved(cluster, schedule, state, evaluation))
    # Any environment tag naming a protected environment protects, read from the raw tags
    # (not only the first tag present): a wrong "stop prod" costs far more than a missed stop.
    protected_by = policy.protected_environment(cluster.tags)
    if protected_by is not None:
        reason = (
            f"protected: environment={protected_by} is a protected environment; the schedule never stops it"
        )
        return _Decision(
            _with(row, environment=protected_by, desired="on", reason=reason, node_hours_saved_per_week=None),
            protected=Guard(cluster.id, reason),
        )
    desired = evaluation.desired
    snooze = max(
        (s for s in (schedule.snooze_until, state.snoozes.get(cluster.key)) if s is not None), default=None
    )
    next_change: datetime | None
    if snooze is not None and now < snooze:
        on, window = True, f"snooze:{snooze.isoformat()}"
        why = f"snoozed until {_local(snooze, schedule.zone)}"
        next_change = snooze
    else:
        on, window = desired.on, _window_id(desired)
        why = _explain(desired, schedule, now)
        next_change = desired.until
    row = _with(
        row,
        desired="on" if on else "off",
        next_change=_local(next_change, schedule.zone) if next_change else "",
    )
    pending = [op for op in operations if op.status is OpStatus.PENDING]
    if pending:
        waiting = ", ".join(f"{op.kind} of {_short(op.target)} (attempt {op.attempt})" for op in pending)
        return _Decision(_with(row, reason=f"waiting: {waiting} started by an earlier tick is still running"))
    if cluster.is_busy:
        return _Decision(
            _with(row, reason=f"busy: provisioningState={cluster.provisioning_state}; acting later")
        )
    context = _Context(cluster, schedule, state, {op.key: op for op in operations}, policy, now, window, why)
    if schedule.mode is Mode.CLUSTER:
        return context.cluster_mode(row, on)
    return context.pool_mode(row, on)


@dataclass(frozen=True, slots=True)
class _Evaluation:
    desired: DesiredState
    on_hours_week: float
    hours_week: float


@functools.lru_cache(maxsize=4096)
def _evaluate(
    schedule: WeeklySchedule, zone: ZoneInfo, holidays: HolidayCalendar | None, now: datetime
) -> _Evaluation:
    """Clusters share a handful of schedules: evaluate each (schedule, zone, holidays) once per ``now``."""
    is_holiday = holidays.is_holiday if holidays else None
    return _Evaluation(
        desired=desired_state(schedule, zone, now, is_holiday=is_holiday),
        on_hours_week=on_hours_between(schedule, zone, start=now, end=now + WEEK, is_holiday=is_holiday),
        hours_week=WEEK / timedelta(hours=1),
    )


@dataclass(frozen=True, slots=True)
class _Context:
    """One cluster's decision inputs, so the mode-specific rules read plainly."""

    cluster: ObservedCluster
    schedule: ClusterSchedule
    state: ScheduleState
    operations: Mapping[str, Operation]
    policy: SchedulePolicy
    now: datetime
    window: str
    why: str

    # -- cluster mode ----------------------------------------------------------------

    def cluster_mode(self, row: ClusterRow, on: bool) -> _Decision:
        cluster = self.cluster
        last = self.operations.get(cluster.key)
        failed_start = (
            last is not None
            and last.kind is Kind.START
            and last.window == self.window
            and last.status is OpStatus.FAILED
        )
        if not on:
            if cluster.is_stopped:
                return _Decision(_with(row, reason=f"stopped as scheduled: {self.why}"))
            grace = self._grace(last)
            if grace is not None:
                ends, reason = grace
                return _Decision(_with(row, reason=reason, next_change=_local(ends, self.schedule.zone)))
            pools = [self._pool_params(p.name, p.mode, p.scale) for p in cluster.pools]
            return self._act(row, Kind.STOP, cluster.id, {"pools": pools}, f"stop: {self.why}")
        if cluster.is_stopped and not (failed_start and last is not None and last.attempt >= self._fallback):
            return self._act(row, Kind.START, cluster.id, {}, f"start: {self.why}")
        if failed_start and last is not None:
            if cluster.is_stopped:
                return self._act(
                    row,
                    Kind.START,
                    cluster.id,
                    {},
                    "start again: the fallback needs the control plane running, "
                    "and the cluster is still stopped",
                )
            if last.attempt < self._fallback and not last.refused:
                return self._act(row, Kind.START, cluster.id, {}, f"start again: {self.why}")
            return self._fallback_pools(row, last)
        reconciling = (
            last is not None
            and last.kind is Kind.RECONCILE
            and last.window == self.window
            and last.status is OpStatus.FAILED
        )
        if reconciling and cluster.is_failed:
            return self._reconcile(row, "fallback: every pool is back; updating the cluster again")
        if cluster.is_failed:
            return _Decision(
                _with(
                    row,
                    reason="running as scheduled, but provisioningState=Failed (not from a schedule start)",
                )
            )
        return _Decision(_with(row, reason=f"running as scheduled: {self.why}"))

    @property
    def _fallback(self) -> int:
        return self.policy.retry.fallback_after

    def _grace(self, last: Operation | None) -> tuple[datetime, str] | None:
        """(when the grace period ends, the reason) for a cluster someone started by hand
        after this window's stop had finished, while the grace period lasts; else None.

        The start is dated by the first tick that saw the cluster running again (the
        service records it); a plan without that record dates it now."""
        stopped = (
            last is not None
            and last.kind is Kind.STOP
            and last.window == self.window
            and last.status is OpStatus.SUCCEEDED
            and last.finished is not None
        )
        grace = self.policy.grace_period
        if not stopped or grace <= timedelta(0):
            return None
        assert last is not None and last.finished is not None
        after, seen = self.state.manual_starts.get(self.cluster.key, (None, self.now))
        if after != last.finished:
            seen = self.now
        ends = seen + grace
        if self.now >= ends:
            return None
        zone = self.schedule.zone
        return ends, (
            f"grace period: started by hand after the schedule stopped it at {_local(last.finished, zone)} "
            f"(seen running at {_local(seen, zone)}); stays up until {_local(ends, zone)}, then {self.why}"
        )

    def _fallback_pools(self, row: ClusterRow, failed: Operation) -> _Decision:
        """Start with the last known pools: each pool back to its recorded scale, system first."""
        saved = [
            s
            for s in self.state.saved_pools.values()
            if s.purpose is Purpose.LAST_KNOWN and s.cluster.lower() == self.cluster.key
        ]
        observed = {p.name.lower(): p for p in self.cluster.pools}
        todo = [s for s in saved if _needs_restore(observed.get(s.name.lower()), s.scale)]
        why = _why_fallback(failed)
        if not saved:
            return _Decision(
                _with(row, reason=f"failed: {why} and no last known pools were recorded to fall back to")
            )
        if not todo and self.cluster.is_failed:
            return self._reconcile(
                row,
                f"fallback: {why}; every pool is back at its last known scale, so the cluster is "
                "updated for AKS to reconcile it and clear provisioningState=Failed",
            )
        if not todo:
            return _Decision(
                _with(
                    row, reason=f"running after fallback: every pool is back at its last known scale ({why})"
                )
            )
        system = [s for s in todo if s.mode.lower() == "system"]
        decisions = []
        for item in sorted(system or todo, key=lambda s: s.name):  # system pools first
            pool = observed.get(item.name.lower())
            decisions.append(
                self._act(
                    row,
                    Kind.RESTORE,
                    self.cluster.pool_id(item.name),
                    {
                        "pool": item.name,
                        "scale": item.scale.to_dict(),
                        "purpose": str(Purpose.LAST_KNOWN),
                        "start": pool is None or pool.power_state.lower() != "running",
                    },
                    f"fallback: {why}; starting {item.mode.lower()} pool {item.name} with its last "
                    "known scale",
                )
            )
        waiting = len(todo) - len(decisions)
        return _one_at_a_time(decisions, also_waiting=waiting)

    def _reconcile(self, row: ClusterRow, reason: str) -> _Decision:
        """Update the cluster itself: AKS keeps a cluster ``Failed`` until an operation on
        the cluster (not on one of its pools) succeeds."""
        return self._act(row, Kind.RECONCILE, self.cluster.id, {}, reason)

    # -- node-pool mode -------------------------------------------------------------

    def pool_mode(self, row: ClusterRow, on: bool) -> _Decision:
        cluster = self.cluster
        if cluster.is_stopped:
            if on:
                return self._act(row, Kind.START, cluster.id, {}, f"start: cluster is stopped; {self.why}")
            return _Decision(_with(row, reason=f"stopped (nothing to scale): {self.why}"))
        users = sorted((p for p in cluster.pools if not p.is_system), key=lambda p: p.name)
        decisions: list[_Decision] = []
        notes: list[str] = []
        for pool in users:
            if pool.provisioning_state.lower() in POOL_BUSY:
                notes.append(f"pool {pool.name} busy ({pool.provisioning_state})")
                continue
            saved = self.state.saved_pools.get(saved_pool_key(Purpose.RESTORE, cluster.pool_id(pool.name)))
            if not on and not pool.scale.is_zero:
                # A pool already at zero nodes keeps its earlier record: that is the size to restore.
                keep = saved.scale if saved is not None and pool.scale.count == 0 else pool.scale
                decisions.append(
                    self._act(
                        row,
                        Kind.SCALE_DOWN,
                        cluster.pool_id(pool.name),
                        {"pool": pool.name, "save": self._pool_params(pool.name, pool.mode, keep)},
                        f"scale pool {pool.name} to zero: {self.why}",
                    )
                )
            elif on and saved is not None and _needs_restore(pool, saved.scale):
                decisions.append(
                    self._act(
                        row,
                        Kind.RESTORE,
                        cluster.pool_id(pool.name),
                        {"pool": pool.name, "scale": saved.scale.to_dict(), "purpose": str(Purpose.RESTORE)},
                        f"restore pool {pool.name} to {_describe_scale(saved.scale)}: {self.why}",
                    )
                )
            elif on and pool.scale.is_zero and saved is None:
                notes.append(f"pool {pool.name} is at 0 with no saved scale; left alone")
        if decisions:
            return _one_at_a_time(decisions)
        state = "user pools at 0" if not on else "user pools up"
        extra = f" ({'; '.join(notes)})" if notes else ""
        return _Decision(_with(row, reason=f"{state} as scheduled: {self.why}{extra}"))

    # -- shared -----------------------------------------------------------------------

    def _act(
        self, row: ClusterRow, kind: Kind, target: str, params: dict[str, Any], reason: str
    ) -> _Decision:
        """An action for this window's next attempt, unless backing off or given up."""
        last = self.operations.get(target.lower())
        attempt, holdup = _next_attempt(last, kind, self.window, self.now, self.policy.retry.give_up_after)
        if attempt is None:
            row = _with(row, reason=holdup)
            if holdup.startswith("failed"):
                return _Decision(row, skipped=Guard(target, holdup))
            return _Decision(row)
        if holdup:
            reason = f"{reason} ({holdup})"
        action = Action(
            kind=str(kind),
            target=target,
            reason=reason,
            service=f"arm:{self.cluster.subscription.lower()}",
            params={"cluster": self.cluster.id, "window": self.window, "attempt": attempt, **params},
            key=make_key(str(kind), target.lower(), {"window": self.window, "attempt": attempt}),
        )
        return _Decision(_with(row, action=str(kind), reason=reason), actions=[action])

    def _pool_params(self, name: str, mode: str, scale: PoolScale) -> dict[str, Any]:
        return {"name": name, "mode": mode, "scale": scale.to_dict()}


def _interleave(actions: Sequence[Action]) -> tuple[Action, ...]:
    """Alternate subscriptions: ARM writes are paced per subscription, so a plan sorted by
    cluster id would keep every worker waiting on one subscription's bucket at a time."""
    queues: dict[str, list[Action]] = defaultdict(list)
    for action in actions:
        queues[action.service].append(action)
    out: list[Action] = []
    for round_ in itertools.zip_longest(*queues.values()):
        out.extend(a for a in round_ if a is not None)
    return tuple(out)


def _one_at_a_time(decisions: Sequence[_Decision], *, also_waiting: int = 0) -> _Decision:
    """AKS runs one agent-pool operation per cluster at a time (409 OperationNotAllowed
    otherwise): act on the first pool that can go now; the others wait for later ticks."""
    ready = [d for d in decisions if d.actions]
    chosen = ready[0] if ready else decisions[0]  # nothing ready: report the first holdup
    waiting = len(decisions) - 1 + also_waiting
    if ready and waiting:
        chosen.row = _with(chosen.row, reason=f"{chosen.row.reason}; {waiting} more pool(s) wait their turn")
    return chosen


def _next_attempt(
    last: Operation | None, kind: Kind, window: str, now: datetime, give_up_after: int
) -> tuple[int | None, str]:
    """(the attempt number to make now, or None; a note on retries)."""
    if last is None or last.kind is not kind or last.window != window:
        return 1, ""
    if last.status is OpStatus.SUCCEEDED:
        return last.attempt + 1, f"{kind} succeeded at {_iso(last.finished)} but the state differs again"
    if last.attempt >= give_up_after:
        return (
            None,
            f"failed: {kind} failed {last.attempt} times this window; "
            f"giving up until the next one: {last.error}",
        )
    if last.retry_at is not None and now < last.retry_at:
        return None, (
            f"backing off: {kind} attempt {last.attempt} failed ({last.error}); "
            f"next attempt at {_iso(last.retry_at)}"
        )
    return last.attempt + 1, f"attempt {last.attempt + 1}, after: {last.error}"


def _why_fallback(failed: Operation) -> str:
    times = f"{failed.attempt} time{'' if failed.attempt == 1 else 's'}"
    if failed.refused:
        return f"start failed {times}, the last refused with the control plane already up ({failed.error})"
    return f"start failed {times} ({failed.error})"


def _needs_restore(pool: ObservedPool | None, scale: PoolScale) -> bool:
    if pool is None:
        return False  # a pool deleted since it was saved is not ours to recreate
    return (
        scale_differs(pool.scale, scale)
        or pool.power_state.lower() != "running"
        or pool.provisioning_state.lower() == "failed"
    )


def scale_differs(observed: PoolScale, saved: PoolScale) -> bool:
    """Whether the pool is not yet at its saved scale.

    With the autoscaler on, the count is the autoscaler's to move within the bounds:
    comparing it too would re-issue the restore every tick and fight the autoscaler.
    """
    if saved.enable_auto_scaling:
        wanted = (True, saved.min_count, saved.max_count)
        return (observed.enable_auto_scaling, observed.min_count, observed.max_count) != wanted
    return observed != saved


def _node_hours_saved(
    cluster: ObservedCluster, schedule: ClusterSchedule, state: ScheduleState, evaluation: _Evaluation
) -> float:
    """Nodes the schedule turns off, times the off-hours in the coming week."""
    nodes = 0
    for pool in cluster.pools:
        if schedule.mode is Mode.NODEPOOLS and pool.is_system:
            continue
        count = pool.scale.count
        if count == 0:
            purpose = Purpose.RESTORE if schedule.mode is Mode.NODEPOOLS else Purpose.LAST_KNOWN
            saved = state.saved_pools.get(saved_pool_key(purpose, cluster.pool_id(pool.name)))
            count = saved.scale.count if saved else 0
        nodes += count
    return round(nodes * (evaluation.hours_week - evaluation.on_hours_week), 1)


def _window_id(desired: DesiredState) -> str:
    """Names the stretch of on- or off-hours ``now`` falls in, by its first instant."""
    if desired.since is not None:
        return desired.since.isoformat()
    return f"until:{desired.until.isoformat()}" if desired.until else "never-on"


def _explain(desired: DesiredState, schedule: ClusterSchedule, now: datetime) -> str:
    assert schedule.schedule is not None
    what = f"{schedule.schedule.text} {schedule.zone.key}"
    if schedule.holidays is not None:
        what += f", holidays {schedule.holidays.code}"
        if schedule.holidays.is_holiday(now.astimezone(schedule.zone).date()):
            what += " (today is a holiday)"
    if desired.on:
        return f"on-hours since {_local(desired.since, schedule.zone)} ({what})"
    since = f" since {_local(desired.since, schedule.zone)}" if desired.since else ""
    return f"off-hours{since} ({what})"


def _describe_current(cluster: ObservedCluster, mode: Mode | None) -> str:
    state = cluster.power_state.lower()
    if cluster.provisioning_state.lower() != "succeeded":
        state += f" ({cluster.provisioning_state})"
    if mode is Mode.NODEPOOLS and not cluster.is_stopped:
        users = [p for p in cluster.pools if not p.is_system]
        zero = sum(p.scale.is_zero for p in users)
        state += f", {zero} of {len(users)} user pools at 0"
    return state


def _describe_scale(scale: PoolScale) -> str:
    if scale.enable_auto_scaling:
        return f"count {scale.count}, autoscaler {scale.min_count}-{scale.max_count}"
    return f"count {scale.count}"


def _local(moment: datetime | None, zone: ZoneInfo) -> str:
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else "?"


def _short(arm_id: str) -> str:
    """``aks-dev/agentPools/user`` rather than the whole ARM id, for reasons and tables."""
    try:
        parsed = parse_resource_id(arm_id)
    except InvalidInput:
        return arm_id
    return "/".join((parsed.name, *(part for pair in parsed.children for part in pair)))


def _with(row: ClusterRow, **changes: Any) -> ClusterRow:
    return replace(row, **changes)
