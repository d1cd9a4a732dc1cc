"""One schedule tick, and the ``ops schedule`` commands: orchestration around the pure engine.

A tick takes the ``schedule-tick`` lease (timer runs can overlap; one actor acts),
lists the clusters with one paged Resource Graph query, confirms the operations that
earlier ticks started, plans, re-reads the clusters it is about to change (Resource
Graph can lag ARM, and the design re-reads state before applying), plans again, and
applies through the executor. A cluster whose re-read fails is not acted on this tick
(reported as skipped): Resource Graph's view may predate, say, a new ``environment=prod``.
Stop, start and pool updates are started and recorded, never waited for: the next tick
confirms them.

Two clocks: ``clock`` is the schedule's "now" (the real time, or a pinned instant for
tests and demos, ``OPS_SCHEDULE_NOW``), used for every schedule decision, backoff and
timeout; ``wall_clock`` is always real and serves leases and executor claims, which
protect against concurrent processes in real time.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypeVar

from ops.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OpsError,
    PermanentError,
    TransientError,
    describe_error,
)
from ops.executor import (
    INTERRUPTED,
    ExecutionPolicy,
    RateLimit,
    apply_plan,
    describe_interruption,
    failed_transiently,
)
from ops.plan import Action, Outcome, Plan, Status, summarize_outcomes
from ops.schedule.clusters import ZERO, ObservedCluster, PoolScale
from ops.schedule.manual import SNOOZE, plan_manual
from ops.schedule.planner import CAPABILITY, ScheduleReport, ScheduleState, hold_clusters, plan_schedule
from ops.schedule.policy import (
    TAG_SNOOZE,
    SchedulePolicy,
    ScheduleTagError,
    format_local,
    lower_tags,
    parse_snooze_until,
    resolve_schedule,
)
from ops.schedule.preview import preview_clusters
from ops.schedule.protocols import (
    ClusterControl,
    ClusterInventory,
    OperationRef,
    OperationResult,
    OperationState,
)
from ops.schedule.records import (
    LEASE_NAME,
    MANUAL_STARTS_TABLE,
    OPERATIONS_TABLE,
    POOLS_TABLE,
    SNOOZES_TABLE,
    Kind,
    Operation,
    OpStatus,
    Purpose,
    SavedPool,
    fail_operation,
    saved_pool_key,
    settle_operation,
)
from ops.schedule.resuming import TICK_SCOPE, record_resumed, resume_tick, schedule_verifiers
from ops.state.leases import LEASE_DURATION, LeaseHeld, take_lease
from ops.state.store import AuditRecord, StateStore
from ops.suggestions import suggest
from ops.telemetry import record_schedule_clusters

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

#: Above this many clusters to re-read in one subscription, one paged ARM list is cheaper than GETs.
LIST_THRESHOLD = 3


@dataclass(frozen=True, slots=True)
class Pacing:
    """ARM write pacing per subscription: stay under its bucket (200, refilled 10/s; half
    of it is left to other writers) so that no write is throttled and retried; reads run
    ``concurrency`` at a time."""

    writes_per_second: float = 10.0
    write_burst: int = 100
    concurrency: int = 8


@dataclass(frozen=True, slots=True)
class Confirmation:
    """An operation an earlier tick started, as this tick found it."""

    operation: Operation
    previous: OpStatus

    @property
    def settled(self) -> bool:
        """True when this tick found the operation finished (it was pending before)."""
        return self.operation.status is not self.previous

    def to_dict(self) -> dict[str, Any]:
        op = self.operation
        return {
            "kind": str(op.kind),
            "target": op.target,
            "attempt": op.attempt,
            "status": str(op.status),
            "error": op.error,
            "retryAt": op.retry_at.isoformat() if op.retry_at else None,
        }


@dataclass(frozen=True, slots=True)
class TickResult:
    """What one tick did. ``skipped`` is set when another tick held the lease; ``resumed``
    lists what an interrupted tick had applied without recording it (recorded now);
    ``interrupted`` says how far a tick stopped by an operator (or a lost lease) got."""

    now: datetime
    report: ScheduleReport | None = None
    outcomes: Sequence[Outcome] = ()
    confirmations: Sequence[Confirmation] = ()
    skipped: str | None = None
    dry_run: bool = True
    resumed: Sequence[Outcome] = ()
    interrupted: str | None = None

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is Status.FAILED]

    @property
    def gave_up_transiently(self) -> bool:
        return failed_transiently(self.outcomes)

    def log_line(self) -> str:
        """One line for the Functions log: what was planned, done and confirmed."""
        if self.skipped:
            return f"skipped: {self.skipped}"
        assert self.report is not None
        summary = self.report.plan.summary()
        confirmed = summarize_confirmations(self.confirmations)
        return (
            f"now={self.now.isoformat()} clusters={len(self.report.rows)} actions={summary['by_kind']} "
            f"outcomes={summarize_outcomes(self.outcomes)} confirmed={confirmed} "
            f"protected={summary['protected']} skipped={summary['skipped']}"
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"capability": CAPABILITY, "now": self.now.isoformat(), "dryRun": self.dry_run}
        if self.skipped:
            out["skipped"] = self.skipped
            return out
        assert self.report is not None
        out["summary"] = self.report.plan.summary()
        out["outcomes"] = summarize_outcomes(self.outcomes)
        out["actions"] = [o.to_dict() for o in self.outcomes]
        out["confirmed"] = [c.to_dict() for c in self.confirmations if c.settled]
        out["resumed"] = [o.to_dict() for o in self.resumed]
        if self.interrupted:
            out["interrupted"] = self.interrupted
        out["clusters"] = [r.to_dict() for r in self.report.rows]
        return out


def summarize_confirmations(confirmations: Sequence[Confirmation]) -> dict[str, int]:
    """Counts of operations that settled this tick, by ``kind:status``."""
    counts: dict[str, int] = {}
    for confirmation in confirmations:
        if confirmation.settled:
            name = f"{confirmation.operation.kind}:{confirmation.operation.status}"
            counts[name] = counts.get(name, 0) + 1
    return counts


@dataclass(frozen=True, slots=True)
class _Unread:
    """A cluster ARM could not re-read before acting (a transient error): acting on
    Resource Graph's older view could stop a cluster just tagged prod, so it waits."""

    error: str


@dataclass(frozen=True, slots=True)
class _Prepared:
    report: ScheduleReport
    state: ScheduleState
    confirmations: list[Confirmation] = field(default_factory=list)


class ScheduleService:
    """Runs ticks and the CLI's plan and snooze. Collaborators are injected (see ops.services)."""

    def __init__(
        self,
        *,
        inventory: ClusterInventory,
        control: ClusterControl,
        store: StateStore,
        policy: SchedulePolicy,
        execution: ExecutionPolicy,
        cap: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], None] = time.sleep,
        pacing: Pacing | None = None,
        holder: str | None = None,
        lease: timedelta = LEASE_DURATION,
    ) -> None:
        self.inventory = inventory
        self.control = control
        self.store = store
        self.policy = policy
        self.execution = execution
        self.cap = cap
        self.clock = clock
        self.wall_clock = wall_clock
        self.sleep = sleep
        self.pacing = pacing or Pacing()
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease

    # -- the CLI's dry view ---------------------------------------------------------

    def plan(self, *, now: datetime | None = None) -> ScheduleReport:
        """What a tick would do at ``now``, from Resource Graph's view; changes nothing.

        Unlike a tick it does not re-read the clusters it would change (one ARM GET
        each), so that an operator sees a thousand clusters in a second or two; the
        tick re-reads them before acting.
        """
        return self._prepare(now or self.clock(), persist=False, reread=False).report

    # -- the tick ---------------------------------------------------------------------

    def tick(self, *, now: datetime | None = None, stop: Callable[[], bool] | None = None) -> TickResult:
        """One tick under the lease; returns what it did (``skipped`` without the lease).

        What a tick that died left open is verified against ARM first (ops.schedule.resuming).
        ``stop`` returning True (or the lease lost) starts no further action."""
        moment = now or self.clock()
        dry = self.execution.dry_run or self.execution.kill_switch
        try:
            lease = take_lease(
                self.store,
                LEASE_NAME,
                holder=self.holder,
                what="another schedule tick holds the lease",
                duration=self.lease,
                now=self.wall_clock,
            )
        except LeaseHeld as held:
            return TickResult(moment, skipped=str(held), dry_run=dry)
        verifiers = schedule_verifiers(self.control.get_cluster)
        try:
            resumed = []
            if not dry:
                resumed = resume_tick(self.store, verifiers, now=moment, wall_clock=self.wall_clock())
            prepared = self._prepare(moment, persist=not dry)
            plan = prepared.report.plan
            outcomes = apply_plan(
                plan,
                handlers=self._handlers(moment),
                store=self.store,
                policy=self.execution,
                limits=self._limits(plan.actions),
                sleep=self.sleep,
                now=self.wall_clock,
                verifiers=verifiers,
                scope=TICK_SCOPE,
                stop=lambda: lease.lost.is_set() or (stop is not None and stop()),
            )
            if not dry:
                record_resumed(self.store, outcomes, now=moment)
        finally:
            lease.release()
        record_schedule_clusters((row.desired, row.current) for row in prepared.report.rows)
        stopped = any(o.detail == INTERRUPTED for o in outcomes)
        return TickResult(
            moment,
            prepared.report,
            outcomes,
            prepared.confirmations,
            dry_run=dry,
            resumed=resumed,
            interrupted=describe_interruption(outcomes, lease=LEASE_NAME) if stopped else None,
        )

    def _prepare(self, now: datetime, *, persist: bool, reread: bool = True) -> _Prepared:
        clusters = list(self.inventory.list_clusters())
        state = self._load_state()
        if persist:  # snoozes kept in the store end like tags do: they simply lapse
            for key in [k for k, until in state.snoozes.items() if until <= now]:
                self.store.delete_record(SNOOZES_TABLE, key)
        confirmations = self._confirm(state, clusters, now, persist=persist)
        settled = {c.operation.key: c.operation for c in confirmations}
        state = replace(
            state,
            operations={**state.operations, **settled},
            saved_pools=self._forget_restored(state, confirmations, persist),
        )
        state = replace(state, manual_starts=self._note_manual_starts(state, clusters, now, persist=persist))
        first = plan_schedule(clusters, policy=self.policy, state=state, now=now, cap=self.cap)
        to_reread = {a.params["cluster"].lower() for a in first.plan.actions}
        if not to_reread or not reread:
            return _Prepared(first, state, confirmations)
        fresh = self._reread(c for c in clusters if c.key in to_reread)
        updated: list[ObservedCluster] = []
        unread: dict[str, str] = {}
        for cluster in clusters:
            current = fresh.get(cluster.key, cluster)
            if isinstance(current, _Unread):
                # Keep the stale view for the report, but never act on it (see hold_clusters).
                unread[cluster.key] = f"could not re-read the cluster before acting ({current.error})"
                updated.append(cluster)
            elif current is not None:  # None: deleted since Resource Graph listed it
                updated.append(current)
        report = plan_schedule(updated, policy=self.policy, state=state, now=now, cap=self.cap)
        return _Prepared(hold_clusters(report, unread), state, confirmations)

    def _note_manual_starts(
        self, state: ScheduleState, clusters: Sequence[ObservedCluster], now: datetime, *, persist: bool
    ) -> dict[str, tuple[datetime, datetime]]:
        """Clusters running again after the schedule's stop finished: someone started them.
        The first tick to see one records when (its grace period counts from then); a record
        whose stop is no longer the cluster's last operation is done with."""
        known = dict(state.manual_starts)
        for cluster in clusters:
            last = state.operations.get(cluster.key)
            stop = (
                last.finished
                if last is not None and last.kind is Kind.STOP and last.status is OpStatus.SUCCEEDED
                else None
            )
            recorded = known.get(cluster.key)
            if stop is None or cluster.is_stopped or cluster.power_state.lower() != "running":
                if recorded is not None and (stop is None or recorded[0] != stop):
                    known.pop(cluster.key)
                    if persist:
                        self.store.delete_record(MANUAL_STARTS_TABLE, cluster.key)
                continue
            if recorded is None or recorded[0] != stop:
                known[cluster.key] = (stop, now)
                if persist:
                    value = {"cluster": cluster.id, "after": stop.isoformat(), "seen": now.isoformat()}
                    self.store.put_record(MANUAL_STARTS_TABLE, cluster.key, value, etag="*")
        return known

    def _load_state(self) -> ScheduleState:
        operations: dict[str, Operation] = {}
        for record in self.store.list_records(OPERATIONS_TABLE):
            try:
                operations[record.key] = Operation.from_value(record.value)
            except (KeyError, ValueError) as exc:  # a record from a future version: leave it alone
                log.warning("ignoring unreadable schedule operation record %s: %s", record.key, exc)
        pools: dict[str, SavedPool] = {}
        for record in self.store.list_records(POOLS_TABLE):
            try:
                pools[record.key] = SavedPool.from_value(record.value)
            except (KeyError, ValueError) as exc:
                log.warning("ignoring unreadable saved pool record %s: %s", record.key, exc)
        snoozes: dict[str, datetime] = {}
        for record in self.store.list_records(SNOOZES_TABLE):
            try:
                snoozes[record.key] = datetime.fromisoformat(str(record.value["until"]))
            except (KeyError, ValueError) as exc:
                log.warning("ignoring unreadable snooze record %s: %s", record.key, exc)
        manual: dict[str, tuple[datetime, datetime]] = {}
        for record in self.store.list_records(MANUAL_STARTS_TABLE):
            try:
                after, seen = (datetime.fromisoformat(str(record.value[k])) for k in ("after", "seen"))
            except (KeyError, ValueError) as exc:
                log.warning("ignoring unreadable manual start record %s: %s", record.key, exc)
                continue
            manual[record.key] = (after, seen)
        return ScheduleState(operations, pools, snoozes, manual)

    # -- confirming earlier operations ------------------------------------------------

    def _confirm(
        self, state: ScheduleState, clusters: Sequence[ObservedCluster], now: datetime, *, persist: bool
    ) -> list[Confirmation]:
        pending = [op for op in state.operations.values() if op.status is OpStatus.PENDING]
        if not pending:
            return []
        results = self._parallel(pending, self._ask)
        confirmations = []
        for operation, result in zip(pending, results, strict=True):
            if result is None:
                confirmations.append(Confirmation(operation, operation.status))
                continue
            settled = settle_operation(operation, result, now=now, retry=self.policy.retry)
            confirmations.append(Confirmation(settled, operation.status))
            if persist and settled != operation:
                self._save_operation(settled)
                if settled.status is OpStatus.FAILED:
                    self._report_failure(settled)
        return confirmations

    def _ask(self, operation: Operation) -> OperationResult | None:
        """How the operation ended; None when ARM cannot say right now (asked again next tick)."""
        try:
            if operation.url:
                return self.control.get_operation(OperationRef(operation.url))
        except NotFound:
            pass  # ARM forgets finished operations after a while: judge by the resource
        except TransientError as exc:
            log.warning("cannot confirm %s of %s yet: %s", operation.kind, operation.target, exc)
            return None
        try:
            cluster = self.control.get_cluster(operation.cluster)
        except TransientError:
            return None
        except NotFound:
            return OperationResult(OperationState.FAILED, "the cluster no longer exists")
        return _judge_by_state(operation, cluster)

    def _forget_restored(
        self, state: ScheduleState, confirmations: Sequence[Confirmation], persist: bool
    ) -> dict[str, SavedPool]:
        """A pool restored from its saved scale no longer needs the record."""
        pools = dict(state.saved_pools)
        for confirmation in confirmations:
            op = confirmation.operation
            if op.kind is Kind.RESTORE and op.status is OpStatus.SUCCEEDED:
                key = saved_pool_key(Purpose.RESTORE, op.target)
                if key in pools:
                    pools.pop(key)
                    if persist:
                        self.store.delete_record(POOLS_TABLE, key)
        return pools

    def _report_failure(self, operation: Operation) -> None:
        self.store.append_audit(
            AuditRecord(
                key=f"{operation.key}|{operation.window}|{operation.attempt}|failed",
                capability=CAPABILITY,
                kind=str(operation.kind),
                target=operation.target,
                reason=f"failed: {operation.error}",
                status="failed",
                at=self.wall_clock(),
                detail={
                    "window": operation.window,
                    "attempt": operation.attempt,
                    "retryAt": operation.retry_at.isoformat() if operation.retry_at else None,
                },
            )
        )

    # -- re-reading before acting ------------------------------------------------------

    def _reread(self, clusters: Iterable[ObservedCluster]) -> dict[str, ObservedCluster | _Unread | None]:
        """Fresh ARM state of ``clusters``: one GET each, or, where a subscription has more
        than ``LIST_THRESHOLD`` of them, its paged managedClusters list (far fewer requests).
        None: the cluster is gone; :class:`_Unread`: ARM could not say right now."""
        targets = list(clusters)
        by_subscription: dict[str, list[ObservedCluster]] = {}
        for cluster in targets:
            by_subscription.setdefault(cluster.subscription.lower(), []).append(cluster)
        listed = [sub for sub, members in by_subscription.items() if len(members) > LIST_THRESHOLD]
        single = [c for c in targets if c.subscription.lower() not in listed]
        fresh: dict[str, ObservedCluster | _Unread | None] = {}
        for subscription, found in zip(listed, self._parallel(listed, self._list_fresh), strict=True):
            members = by_subscription[subscription]
            if found is None:  # could not list: fall back to single reads
                single.extend(members)
                continue
            current = {c.key: c for c in found}
            fresh.update({c.key: current.get(c.key) for c in members})
        fresh.update({c.key: f for c, f in zip(single, self._parallel(single, self._get_fresh), strict=True)})
        return fresh

    def _list_fresh(self, subscription: str) -> Sequence[ObservedCluster] | None:
        try:
            return self.control.list_subscription_clusters(subscription)
        except TransientError as exc:
            log.warning("could not list the clusters of %s (%s); reading them one by one", subscription, exc)
            return None

    def _get_fresh(self, cluster: ObservedCluster) -> ObservedCluster | _Unread | None:
        try:
            return self.control.get_cluster(cluster.id)
        except NotFound:
            return None  # deleted since Resource Graph saw it
        except TransientError as exc:
            log.warning("could not re-read %s (%s); not acting on it this tick", cluster.id, exc)
            return _Unread(str(exc) or type(exc).__name__)

    def _parallel(self, items: Sequence[T], work: Callable[[T], R]) -> list[R]:
        if len(items) <= 1:
            return [work(i) for i in items]
        with ThreadPoolExecutor(max_workers=min(self.pacing.concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    # -- applying ------------------------------------------------------------------------

    def _limits(self, actions: Iterable[Action]) -> dict[str, RateLimit]:
        limit = RateLimit(per_second=self.pacing.writes_per_second, burst=self.pacing.write_burst)
        return {a.service: limit for a in actions}

    def _handlers(self, now: datetime) -> dict[str, Callable[[Action], None]]:
        def stop(action: Action) -> None:
            for item in action.params.get("pools", ()):
                self._save_pool(action, item, Purpose.LAST_KNOWN, now)
            self._start(action, now, lambda: self.control.begin_stop(action.target))

        def start(action: Action) -> None:
            self._start(action, now, lambda: self.control.begin_start(action.target))

        def scale_down(action: Action) -> None:
            self._save_pool(action, action.params["save"], Purpose.RESTORE, now)
            self._start(
                action,
                now,
                lambda: self.control.begin_scale_pool(action.params["cluster"], action.params["pool"], ZERO),
            )

        def restore(action: Action) -> None:
            scale = PoolScale.from_dict(action.params["scale"])
            started = bool(action.params.get("start"))
            self._start(
                action,
                now,
                lambda: self.control.begin_scale_pool(
                    action.params["cluster"], action.params["pool"], scale, start=started
                ),
            )

        def reconcile(action: Action) -> None:
            self._start(action, now, lambda: self._update_cluster(action.target), judge_by_state=True)

        return {
            Kind.STOP: stop,
            Kind.START: start,
            Kind.SCALE_DOWN: scale_down,
            Kind.RESTORE: restore,
            Kind.RECONCILE: reconcile,
        }

    def _update_cluster(self, cluster_id: str) -> OperationRef:
        """An update of the cluster itself, changing nothing: its tags, written back as they
        are. AKS runs it as an operation on the cluster, and one that succeeds clears the
        ``Failed`` a failed start left. The tags update keeps no status URL, so a later tick
        judges it by the cluster's provisioningState."""
        self.control.update_tags(cluster_id, {})
        return OperationRef(url=None)

    def _start(
        self,
        action: Action,
        now: datetime,
        begin: Callable[[], OperationRef],
        *,
        judge_by_state: bool = False,
    ) -> None:
        """Start the operation and record it as pending; a refusal is recorded as a failed
        attempt (so the next tick backs off) and re-raised for the executor to report.

        Without a status URL the operation finished synchronously, unless
        ``judge_by_state`` says a later tick reads its outcome from the resource."""
        operation = Operation(
            target=action.target,
            cluster=str(action.params["cluster"]),
            kind=Kind(action.kind),
            window=str(action.params["window"]),
            attempt=int(action.params["attempt"]),
            status=OpStatus.PENDING,
            started=now,
        )
        try:
            ref = begin()
        except TransientError:
            raise  # the executor retries; if it gives up, the next tick plans the same attempt
        except OpsError as exc:
            failed = fail_operation(operation, describe_error(exc), now=now, retry=self.policy.retry)
            failed = replace(failed, refused=isinstance(exc, Conflict))
            self._save_operation(failed)
            self._report_failure(failed)
            raise
        if ref.url is None and not judge_by_state:  # ARM finished it synchronously
            operation = replace(operation, status=OpStatus.SUCCEEDED, finished=now)
        self._save_operation(replace(operation, url=ref.url))

    def _save_operation(self, operation: Operation) -> None:
        self.store.put_record(OPERATIONS_TABLE, operation.key, operation.to_value(), etag="*")

    def _save_pool(self, action: Action, item: Mapping[str, Any], purpose: Purpose, now: datetime) -> None:
        cluster = str(action.params["cluster"])
        saved = SavedPool(
            pool_id=f"{cluster}/agentPools/{item['name']}",
            cluster=cluster,
            name=str(item["name"]),
            mode=str(item.get("mode") or "User"),
            purpose=purpose,
            scale=PoolScale.from_dict(item["scale"]),
            saved_at=now,
        )
        self.store.put_record(POOLS_TABLE, saved.key, saved.to_value(), etag="*")

    # -- snooze ----------------------------------------------------------------------------

    def snooze(self, cluster: str, *, until: str | None, now: datetime | None = None) -> dict[str, Any]:
        """Set (or with ``until=None`` clear) the cluster's ``ops-snooze-until`` tag.

        ``until`` is an ISO time (without an offset: the cluster's time zone) or a
        duration from now such as ``3h``. The tag is written as an ISO time with offset.
        """
        target = self.find_cluster(cluster)
        moment = now or self.clock()
        value: str | None = None
        if until is not None:
            value = self._snooze_end(target, until, now=moment, field="--until").isoformat()
        result: dict[str, Any] = {"cluster": target.name, "id": target.id, TAG_SNOOZE: value}
        try:
            self.control.update_tags(target.id, {TAG_SNOOZE: value})
        except Conflict:
            if not self.control.get_cluster(target.id).is_stopped:
                raise  # busy with another operation: worth trying again in a minute
            # AKS lets a stopped cluster only start or be deleted, so its tags cannot
            # change: keep the snooze in the app's state, where the tick reads it too.
            if value is None:
                self.store.delete_record(SNOOZES_TABLE, target.key)
            else:
                self.store.put_record(
                    SNOOZES_TABLE, target.key, {"cluster": target.id, "until": value}, etag="*"
                )
            result["storedInState"] = True
            result["note"] = (
                "the cluster is stopped and AKS refuses tag changes on a stopped cluster; "
                "the snooze is kept in the app's state instead"
            )
            return result
        self.store.delete_record(SNOOZES_TABLE, target.key)  # the tag now says it all
        return result

    # -- manual runbooks -----------------------------------------------------------------

    def plan_manual(
        self,
        cluster: str,
        kind: str,
        *,
        until: str | None = None,
        clear: bool = False,
        until_field: str = "params.until",
    ) -> Plan:
        """The plan of a manual stop, start or snooze of one cluster (``ops.schedule.manual``),
        from a fresh ARM read of the cluster and the schedule's view of it now. ``until_field``
        names ``until`` in errors, as the caller's user wrote it."""
        found = self.find_cluster(cluster)
        fresh = self.control.get_cluster(found.id)
        moment = self.clock()
        instant = None
        if until is not None:
            instant = self._snooze_end(fresh, until, now=moment, field=until_field)
        row = None
        operations: list[Operation] = []
        if kind != SNOOZE:  # a snooze needs neither the schedule's view nor running operations
            report = self.plan(now=moment)
            row = next((r for r in report.rows if r.id.lower() == fresh.key), None)
            state = self._load_state()
            operations = [op for op in state.operations.values() if op.cluster.lower() == fresh.key]
        return plan_manual(
            fresh,
            kind,
            policy=self.policy,
            row=row,
            operations=operations,
            now=moment,
            until=instant,
            clear=clear,
        )

    def preview(self, *, days: int, now: datetime | None = None) -> list[dict[str, Any]]:
        """Every transition each cluster in scope will make in the next ``days`` days
        (``ops schedule preview``; see :mod:`ops.schedule.preview`)."""
        moment = now or self.clock()
        clusters = self.inventory.list_clusters()
        return preview_clusters(clusters, self.policy, start=moment, end=moment + timedelta(days=days))

    def cluster_zone(self, cluster: ObservedCluster) -> tzinfo:
        """The time zone the cluster's schedule runs in (UTC when no schedule covers it)."""
        try:
            schedule = resolve_schedule(lower_tags(cluster.tags), self.policy)
        except ScheduleTagError:
            schedule = None
        return schedule.zone if schedule is not None else UTC

    def _snooze_end(self, cluster: ObservedCluster, until: str, *, now: datetime, field: str) -> datetime:
        """A snooze end (a duration from now, or an ISO time read in the cluster's time zone
        when it has no offset) in the cluster's own time zone, so that the tag reads locally."""
        zone = self.cluster_zone(cluster)
        try:
            instant = parse_snooze_until(until, now=now, zone=zone)
        except ValueError as exc:
            raise InvalidInput(field, "an ISO 8601 time or a duration like 3h", until) from exc
        if instant <= now:
            raise InvalidInput(field, f"a time after now ({format_local(now, zone)})", until)
        return instant.astimezone(zone)

    def apply_manual(self, plan: Plan) -> list[Outcome]:
        """Apply a plan of :meth:`plan_manual`: stops and starts are recorded for the tick to
        confirm, as its own are; a snooze sets the tag (or the app's state, when stopped)."""
        moment = self.clock()
        handlers = dict(self._handlers(moment))
        handlers[SNOOZE] = lambda action: self._snooze_action(action)
        return apply_plan(
            plan,
            handlers=handlers,
            store=self.store,
            policy=self.execution,
            limits=self._limits(plan.actions),
            sleep=self.sleep,
            now=self.wall_clock,
        )

    def _snooze_action(self, action: Action) -> None:
        until = action.params.get("until")
        self.snooze(str(action.params["cluster"]), until=None if until is None else str(until))

    def find_cluster(self, name_or_id: str) -> ObservedCluster:
        """A cluster by ARM id or by name (which must then be unique across subscriptions)."""
        wanted = name_or_id.strip().lower()
        clusters = list(self.inventory.list_clusters())
        matches = [c for c in clusters if wanted in (c.key, c.name.lower())]
        if not matches:
            raise NotFound(
                f"no managed cluster named {name_or_id!r} in scope"
                + suggest(name_or_id, sorted({c.name for c in clusters}))
            )
        if len(matches) > 1:
            raise PermanentError(
                f"{len(matches)} clusters are named {name_or_id!r}; give the ARM id: "
                + ", ".join(c.id for c in matches)
            )
        return matches[0]


def _judge_by_state(operation: Operation, cluster: ObservedCluster) -> OperationResult:
    """An operation's outcome read from the resource, for operations without a status URL."""
    if operation.kind in (Kind.STOP, Kind.START, Kind.RECONCILE):
        provisioning = cluster.provisioning_state.lower()
        # A stop or start must reach its power state; a cluster update keeps the one it had.
        wanted = {Kind.STOP: "stopped", Kind.START: "running"}.get(operation.kind)
        if wanted is None:
            wanted = cluster.power_state.lower()
        if provisioning == "failed":
            return OperationResult(
                OperationState.FAILED, f"cluster provisioningState=Failed after {operation.kind}"
            )
        if provisioning == "succeeded" and cluster.power_state.lower() == wanted:
            return OperationResult(OperationState.SUCCEEDED)
        return OperationResult(OperationState.IN_PROGRESS)
    name = operation.target.rsplit("/", 1)[-1].lower()
    pool = next((p for p in cluster.pools if p.name.lower() == name), None)
    if pool is None:
        return OperationResult(OperationState.FAILED, "the pool no longer exists")
    if pool.provisioning_state.lower() == "failed":
        return OperationResult(OperationState.FAILED, f"pool provisioningState=Failed after {operation.kind}")
    if pool.provisioning_state.lower() == "succeeded":
        return OperationResult(OperationState.SUCCEEDED)
    return OperationResult(OperationState.IN_PROGRESS)
