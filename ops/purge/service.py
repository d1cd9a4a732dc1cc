"""Purge orchestration: observe through injected adapters → plan → apply → record.

Three entry points share one path:

- :meth:`PurgeService.schedule` (the ``purge_schedule`` timer) takes a lease,
  enumerates registries (ARM) and repositories (ACR catalog), computes the in-use
  set *once* for the run and stores it, records the run (policy, delete budget),
  enqueues batches of repositories, and prunes old runs' records;
- :meth:`PurgeService.process_batch` (the ``purge_repository`` queue trigger)
  plans and applies one batch against the run's stored in-use set and policy. A
  replayed message finds its batch record and does nothing; a message replayed
  after a crash re-plans, and the executor's idempotency keys stop any delete
  from being applied or audited twice. A batch delivered after the run's in-use
  set has aged past ``OPS_PURGE_SNAPSHOT_MAX_AGE`` is refused (recorded, counted in
  the run summary, acknowledged): an image deployed since would not be in it;
- :meth:`PurgeService.run_inline` (``ops purge``) does all of it in-process; when
  it applies, it takes the same lease and refuses while a scheduled run may still
  delete, so two runs never spend two delete budgets at once.

Deletes go through :func:`ops.executor.apply_plan` in stages (unlocks, then
top-level manifests, then their children and referrers), so that a failed parent
delete never leaves a dangling child or signature. Each registry's deletes are
paced under its SKU's write limit: a queue batch under its share of it
(``OPS_PURGE_CONCURRENCY`` batches may run at once, on as many instances).

A stopped cluster's API server does not answer; its last-known in-use set (see
:mod:`ops.purge.records`) stands in for it while it is young enough.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.distribution import is_repository_name
from ops.errors import Conflict, InvalidInput, NotFound, OpsError, TransientError, describe_error
from ops.executor import (
    NOT_ATTEMPTED,
    ExecutionPolicy,
    Handler,
    RateLimit,
    TokenBucket,
    Verifier,
    apply_plan,
    check_cap,
    close_plan,
    failed_transiently,
    open_plan,
    prune_claims,
    resolve_open_claims,
    settle_unconfirmed,
)
from ops.plan import Action, Outcome, Plan, Status
from ops.policies import format_duration
from ops.purge.batches import enqueued_record, load_in_use, verify_batch
from ops.purge.images import InUseIndex, build_in_use, endpoint_aliases, merge_in_use, split_parts
from ops.purge.inventory import INDEX_MEDIA_TYPES, ClusterRef, RegistryRef, RepositoryState
from ops.purge.messages import BatchMessage
from ops.purge.planner import CAPABILITY, DELETE, UNLOCK_MANIFEST, UNLOCK_TAG, deletes_wanted, plan_purge
from ops.purge.policy import PurgePolicy, load_policy, read_policy_setting
from ops.purge.protocols import ClusterReader, Directory, RegistryClient, RegistryClients, WorkQueue
from ops.purge.records import (
    BATCHES,
    ENQUEUED,
    GRANTS,
    IN_USE,
    LAST_KNOWN,
    LEASE,
    RUNS,
    load_last_known,
    new_run_id,
    prune_records,
    runs_in_flight,
    save_last_known_safely,
)
from ops.purge.summary import (
    LAYERS,
    NO_ESTIMATE,
    bytes_method,
    deleted_digests,
    listed_bytes,
    merge_summaries,
    reclaimed_bytes,
    refused_summary,
    summarize_batch,
)
from ops.rendering import format_bytes
from ops.state.leases import LEASE_DURATION, HeldLease, LeaseHeld, hold_lease
from ops.state.store import AuditRecord, StateStore
from ops.suggestions import suggest
from ops.telemetry import record_bytes_reclaimed

log = logging.getLogger(__name__)

__all__ = [
    "BATCHES",
    "GRANTS",
    "IN_USE",
    "LAST_KNOWN",
    "LEASE",
    "RUNS",
    "PurgeConfig",
    "PurgeResult",
    "PurgeService",
    "ScheduleResult",
    "batch_message",
    "new_run_id",
]

#: ACR writes and reads per minute by SKU (a delete and an attribute update are writes).
WRITE_LIMITS = {"Basic": 100, "Standard": 500, "Premium": 2000}
READ_LIMITS = {"Basic": 1000, "Standard": 3000, "Premium": 10000}

Progress = Callable[[str, int, int | None], None]
#: True once the run should start no further delete (SIGTERM, or the lease lost).
Stop = Callable[[], bool]
#: The executor scope of ``ops purge --apply`` (one at a time, under the purge lease).
INLINE_SCOPE = "inline"
_HELD = "another purge run holds the purge lease"


@dataclass(frozen=True, slots=True)
class PurgeConfig:
    """Settings the service needs (see ``ops.config.PurgeSettings``).

    ``concurrency`` is how many ``purge_repository`` batches may run at once (the
    function's scale-out): each paces its deletes under that share of the registry's
    write limit. ``retention`` is how long run records are kept.
    """

    policy: str | None = None
    batch_size: int = 20
    default_max_deletes: int = 200
    lease: timedelta = LEASE_DURATION
    estimate_bytes: bool = True
    exact_bytes: bool = False
    read_concurrency: int = 8
    snapshot_max_age: timedelta = timedelta(minutes=30)
    concurrency: int = 1
    stopped_cluster_max_age: timedelta = timedelta(days=14)
    retention: timedelta = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    status: str
    run: str = ""
    registries: int = 0
    repositories: int = 0
    batches: int = 0
    unreadable: Mapping[str, str] = field(default_factory=dict)
    detail: str = ""
    pruned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "run": self.run,
            "registries": self.registries,
            "repositories": self.repositories,
            "batches": self.batches,
            "unreadable": dict(self.unreadable),
            "detail": self.detail,
            "pruned": self.pruned,
            "reason": self.detail
            or f"run {self.run}: {self.batches} batch(es) of {self.repositories} repositories in "
            f"{self.registries} registries enqueued",
        }


@dataclass(frozen=True, slots=True)
class PurgeResult:
    """One batch's or one inline run's plan, outcomes and summary."""

    status: str
    run: str
    summary: Mapping[str, Any]
    plan: Plan | None = None
    outcomes: Sequence[Outcome] = ()
    timings: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "run": self.run,
            "summary": dict(self.summary),
            "timings": dict(self.timings),
        }

    @property
    def reason(self) -> str:
        """What the batch or run did, in words."""
        summary = self.summary
        if self.status == "refused":
            return f"refused: {summary.get('refused')}"
        if self.status == "already_done":
            return "this batch finished before: nothing to do"
        verb = "would be deleted" if summary.get("dry_run") else "deleted"
        text = (
            f"{summary.get('manifests_deleted', 0)} manifest(s) {verb}, "
            f"{summary.get('protected', 0)} protected, {summary.get('failed', 0)} failed"
        )
        if summary.get("resumed"):
            text += f"; {summary['resumed']} delete(s) of an interrupted attempt verified and recorded"
        return text


class PurgeService:
    """Purge over injected adapters; build it with ``ops.services.Services.purge``."""

    def __init__(
        self,
        *,
        directory: Directory,
        clusters: ClusterReader,
        registries: RegistryClients,
        store: StateStore,
        execution: ExecutionPolicy,
        config: PurgeConfig,
        queue: WorkQueue | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.directory = directory
        self.clusters = clusters
        self.registries = registries
        self.store = store
        self.execution = execution
        self.config = config
        self.queue = queue
        self.now = now

    # -- policy ------------------------------------------------------------------------

    def load_policy(self) -> PurgePolicy:
        """The configured policy; ConfigError (naming the rule) before anything is read."""
        return read_policy_setting(self.config.policy or "")

    def budget(self, policy: PurgePolicy) -> int:
        return policy.max_deletes_per_run or self.config.default_max_deletes

    # -- the timer ------------------------------------------------------------------------

    def schedule(self) -> ScheduleResult:
        """Enumerate, compute in-use once, record the run and enqueue its batches."""
        if self.queue is None:
            raise OpsError("purge_schedule needs a work queue (OPS_PURGE_QUEUE on the app's storage)")
        policy = self.load_policy()
        started = self.now()
        run = new_run_id(started)
        try:
            with self._lease(run):
                return self._schedule(run, policy, started)
        except LeaseHeld as held:
            return ScheduleResult(status="skipped", detail=str(held))

    def _schedule(self, run: str, policy: PurgePolicy, started: datetime) -> ScheduleResult:
        assert self.queue is not None
        busy = self._runs_still_deleting(started)
        if busy:
            return ScheduleResult(status="skipped", detail=busy)
        registries = self.list_registries(policy)
        # Batches that never came back (poisoned, or refused as stale) may have left
        # unfinished deletes behind: verify them, so each effect gets its record.
        self._resume(registries, scope=None, older_than=started - self.config.snapshot_max_age)
        in_use = self.observe_in_use(registries, now=started)
        messages: list[tuple[BatchMessage, RegistryRef]] = []
        repositories = 0
        for registry in registries:
            names = self.list_repositories(registry, policy)
            repositories += len(names)
            for start in range(0, len(names), self.config.batch_size):
                chunk = names[start : start + self.config.batch_size]
                messages.append((batch_message(run, len(messages), registry, chunk), registry))
        budget = self.budget(policy)
        parts = {r.name: split_parts(in_use.for_host(r.login_server)) for r in registries}
        record = {
            "created": started.isoformat(),
            # When the clusters were read: batches refuse a set older than snapshot_max_age.
            "in_use_at": started.isoformat(),
            "dry_run": self.execution.dry_run,
            "batches": len(messages),
            "budget": budget,
            "remaining": budget,
            "policy": dict(policy.document),
            "unreadable": dict(in_use.unreadable),
            "clusters": list(in_use.clusters),
            "last_seen": {c: t.isoformat() for c, t in in_use.last_seen.items()},
            "registries": [r.name for r in registries],
            # A batch refuses an in-use set with fewer parts than this (ops.purge.batches).
            "in_use_parts": {name: len(found) for name, found in parts.items()},
        }
        # The run first, so that pruning finds every record a crashed schedule left;
        # then the in-use set and what each batch holds, before any message is sent.
        self.store.put_record(RUNS, run, record, etag=None)
        for name, found in parts.items():
            for index, part in enumerate(found):
                self.store.put_record(IN_USE, f"{run}/{name}/{index:04d}", part, etag="*")
        for message, registry in messages:
            held = enqueued_record(registry, message.repositories)
            self.store.put_record(ENQUEUED, message.key, held, etag="*")
        for message, _ in messages:
            self.queue.send(message.to_json())
        if not messages:
            self._finish_run(run, 0)
        pruned = self._prune(started)
        log.info("purge run %s: %d batch(es) of %d repositories enqueued", run, len(messages), repositories)
        return ScheduleResult(
            status="scheduled",
            run=run,
            registries=len(registries),
            repositories=repositories,
            batches=len(messages),
            unreadable=in_use.unreadable,
            pruned=pruned,
        )

    # -- the queue ------------------------------------------------------------------------

    def process_batch(self, message: BatchMessage) -> PurgeResult:
        """Plan and apply one batch; a replay of a finished batch does nothing.

        The message is honoured only if it is exactly what its run enqueued
        (``ops.purge.batches``); the batch then runs with the registry the run recorded.
        """
        run = self.store.get_record(RUNS, message.run)
        if run is None:
            raise InvalidInput("run", "a run recorded by purge_schedule", message.run)
        registry = verify_batch(self.store, message, run.value)
        finished = self.store.get_record(BATCHES, message.key)
        if finished is not None:
            return PurgeResult("already_done", message.run, finished.value)
        # A redelivery after a crash: settle what the dead attempt left in flight first.
        resumed = self._resume([registry], scope=message.key)
        stale = self._stale_snapshot(run.value, self.now())
        if stale is not None:
            return self._refuse_batch(message, run.value, stale)
        found = load_in_use(self.store, message.run, run.value, registry)
        if isinstance(found, str):
            return self._refuse_batch(message, run.value, found)
        policy = load_policy(run.value["policy"], origin=f"run {message.run} policy")
        in_use = InUseIndex(
            registries={registry.login_server.lower(): found},
            unreadable=dict(run.value.get("unreadable") or {}),
            clusters=tuple(run.value.get("clusters") or ()),
            last_seen={
                cluster: datetime.fromisoformat(seen)
                for cluster, seen in (run.value.get("last_seen") or {}).items()
            },
        )
        client = self.registries(registry)
        states = list(self._read_repositories(client, message.repositories))
        now = self.now()

        wanted = deletes_wanted(states, policy=policy, in_use=in_use, now=now)
        granted = self._grant_budget(message, wanted)
        plan = plan_purge(
            states, policy=policy, in_use=in_use, now=now, run_id=message.run, max_deletes=granted
        )
        # Up to `concurrency` batches delete at once, each on its own instance: each takes its share.
        outcomes, summary = self._execute(
            plan,
            states,
            {registry.name: (registry, client)},
            share=self.config.concurrency,
            scope=message.key,
            resumed=resumed,
        )
        if failed_transiently(outcomes):
            raise TransientError(
                f"purge batch {message.key}: some deletes gave up on transient errors; the batch is retried"
            )
        try:
            self.store.put_record(BATCHES, message.key, summary, etag=None)
        except Conflict:
            return PurgeResult("already_done", message.run, summary, plan, outcomes)
        self._finish_run(message.run, int(run.value.get("batches", 0)))
        return PurgeResult("done", message.run, summary, plan, outcomes)

    # -- the CLI ------------------------------------------------------------------------

    def run_inline(
        self,
        *,
        policy: PurgePolicy | None = None,
        registry: str | None = None,
        progress: Progress | None = None,
        stop: Stop | None = None,
        repository: str | None = None,
        review: Callable[[Plan], None] | None = None,
    ) -> PurgeResult:
        """The whole purge in this process: one plan over every repository in scope.

        ``repository`` narrows it to one repository of ``registry``. ``review`` sees the
        plan before anything is applied and may refuse it by raising (an HTTP runbook
        refuses a plan that differs from the one its caller reviewed).

        Applying takes the purge lease, as ``purge_schedule`` does, and refuses while a
        scheduled run may still delete: each run has its own delete budget, and two at
        once would spend both. A plan (dry run) needs neither. The lease lasts a minute
        and is renewed while the run works, so a run that dies blocks the next for at
        most that long; deletes the dead run left in flight are verified and recorded
        first. ``stop`` (or losing the lease) starts no further delete: the result then
        says how many were done.
        """
        policy = policy or self.load_policy()
        started = self.now()
        run = new_run_id(started)
        within = _Scope(registry, repository, review)
        if self.execution.dry_run:
            return self._run_inline(run, policy, within, progress, stop)
        with self._lease(run, hint="; try again after that, or plan without --apply") as held:
            busy = self._runs_still_deleting(started)
            if busy:
                raise Conflict(f"{busy}; try again when it is done, or plan without --apply")

            def halted() -> bool:
                return held.lost.is_set() or (stop is not None and stop())

            return self._run_inline(run, policy, within, progress, halted)

    def _lease(self, run: str, *, hint: str = "") -> AbstractContextManager[HeldLease]:
        """The purge lease for ``run``, renewed while it works (``LeaseHeld`` if taken)."""
        return hold_lease(
            self.store, LEASE, holder=run, what=_HELD, duration=self.config.lease, now=self.now, hint=hint
        )

    def _resume(
        self,
        registries: Sequence[RegistryRef],
        *,
        scope: str | None,
        older_than: datetime | None = None,
    ) -> int:
        """Verify and record the deletes an interrupted attempt of ``scope`` left unfinished."""
        if self.execution.dry_run:
            return 0
        clients = {r.name: (r, self.registries(r)) for r in registries}
        resolved = resolve_open_claims(
            self.store,
            capability=CAPABILITY,
            verifiers=_verifiers(clients),
            scope=scope,
            older_than=older_than,
            now=self.now(),
        )
        return len(resolved)

    def _run_inline(
        self,
        run: str,
        policy: PurgePolicy,
        within: _Scope,
        progress: Progress | None,
        stop: Stop | None,
    ) -> PurgeResult:
        report = progress or (lambda _stage, _done, _total: None)
        clock = time.monotonic()
        registries = self.list_registries(policy)
        if within.registry is not None:
            registries = [r for r in registries if r.name == within.registry]
            if not registries:
                known = [r.name for r in self.directory.list_registries()]  # a misspelling covers none
                expected = "a registry in scope that a rule covers" + suggest(within.registry, known)
                raise InvalidInput("--registry", expected, within.registry)
        resumed = self._resume(registries, scope=INLINE_SCOPE)
        report("clusters", 0, None)
        in_use = self.observe_in_use(registries)
        clients = {r.name: (r, self.registries(r)) for r in registries}
        names = {r.name: self.list_repositories(r, policy) for r in registries}
        if within.repository is not None:
            names = {name: [n for n in found if n == within.repository] for name, found in names.items()}
            if not any(names.values()):
                raise InvalidInput(
                    "--repository", "a repository of the registry that a rule covers", within.repository
                )
        total = sum(len(n) for n in names.values())
        states: list[RepositoryState] = []
        for ref, client in clients.values():
            for state in self._read_repositories(client, names[ref.name]):
                states.append(state)
                report("repositories", len(states), total)
        plan = plan_purge(
            states, policy=policy, in_use=in_use, now=self.now(), run_id=run, max_deletes=self.budget(policy)
        )
        planned = time.monotonic()
        if within.review is not None:
            within.review(plan)
        outcomes, summary = self._execute(
            plan, states, clients, progress=report, scope=INLINE_SCOPE, stop=stop, resumed=resumed
        )
        self._record_run(run, [summary], dry_run=self.execution.dry_run)
        timings = {"plan_s": planned - clock, "apply_s": time.monotonic() - planned}
        return PurgeResult("done", run, summary, plan, outcomes, timings)

    # -- observing ------------------------------------------------------------------------

    def list_registries(self, policy: PurgePolicy) -> list[RegistryRef]:
        return sorted(
            (r for r in self.directory.list_registries() if policy.covers_registry(r.name)),
            key=lambda r: r.name,
        )

    def list_repositories(self, registry: RegistryRef, policy: PurgePolicy) -> list[str]:
        """The registry's repositories some rule covers. A name outside the OCI grammar (which
        ACR does not allow) is left alone: no batch message could carry it."""
        client = self.registries(registry)
        names = []
        for name in client.list_repositories():
            if not is_repository_name(name):
                log.warning("registry %s: repository %r is not a valid name; skipped", registry.name, name)
            elif policy.rules_for(registry.name, name):
                names.append(name)
        return sorted(names)

    def observe_in_use(self, registries: Sequence[RegistryRef], *, now: datetime | None = None) -> InUseIndex:
        """Every image any pod or pod template in any cluster names, for these registries.

        A cluster read in full has its set kept as its last-known one. A cluster ARM
        says is Stopped is answered by its last-known set, if it is younger than
        ``stopped_cluster_max_age`` (``last_seen`` says how old). A cluster that cannot
        be read otherwise (unreachable, forbidden, or stopped with no usable last-known
        set) is listed in ``unreadable`` with the reason, and the planner then deletes
        nothing unless the policy allows that cluster to be unreadable.
        """
        at = now or self.now()
        clusters = sorted(self.directory.list_clusters(), key=lambda c: c.name)
        hosts = [r.login_server for r in registries]
        aliases = endpoint_aliases(registries)

        def read(cluster: ClusterRef) -> tuple[InUseIndex, bool]:
            """The cluster's in-use set, and whether it was read from the cluster just now."""
            # Each cluster is indexed as it is read, so 100k pods never sit in memory at once.
            if cluster.power_state.lower() == "stopped":
                known = load_last_known(
                    self.store, cluster, hosts=hosts, now=at, max_age=self.config.stopped_cluster_max_age
                )
                if isinstance(known, str):
                    why = f"the cluster is stopped, so its API server does not answer, and {known}"
                    return InUseIndex(unreadable={cluster.name: why}), False
                log.info("cluster %s is stopped: using its in-use set of %s", cluster.name, known.seen)
                return known.as_index(cluster.name), False
            try:
                uses = self.clusters.list_image_uses(cluster)
                return build_in_use(uses, hosts=hosts, aliases=aliases), True
            except OpsError as exc:
                log.warning("cluster %s could not be read: %s", cluster.name, exc)
                return InUseIndex(unreadable={cluster.name: describe_error(exc)}), False

        index = build_in_use((), hosts=hosts, clusters=[c.name for c in clusters])
        with ThreadPoolExecutor(max_workers=max(1, min(self.config.read_concurrency, 4))) as pool:
            for cluster, (found, fresh) in zip(clusters, pool.map(read, clusters), strict=True):
                if fresh:
                    save_last_known_safely(self.store, cluster, found, hosts=hosts, seen=at)
                merge_in_use(index, found)
        return index

    def _read_repositories(self, client: RegistryClient, names: Sequence[str]) -> Iterator[RepositoryState]:
        """Every repository of ``names`` that still exists, in order, read a few at a time."""

        def read(name: str) -> RepositoryState | None:
            try:
                return client.read_repository(name)
            except NotFound:
                log.info("repository %s is gone; nothing to purge there", name)
                return None

        client.prepare(names)
        with ThreadPoolExecutor(max_workers=max(1, self.config.read_concurrency)) as pool:
            for state in pool.map(read, names):
                if state is not None:
                    yield state

    # -- applying ---------------------------------------------------------------------------

    def _execute(
        self,
        plan: Plan,
        states: Sequence[RepositoryState],
        clients: Mapping[str, tuple[RegistryRef, RegistryClient]],
        *,
        progress: Progress | None = None,
        share: int = 1,
        scope: str = "",
        stop: Stop | None = None,
        resumed: int = 0,
    ) -> tuple[list[Outcome], dict[str, Any]]:
        check_cap(plan)
        method = bytes_method(estimate=self.config.estimate_bytes, exact=self.config.exact_bytes)
        layers = self._read_layers(plan, states, clients) if method == LAYERS else {}
        outcomes = self._apply_in_stages(plan, clients, progress, share=share, scope=scope, stop=stop)
        gone = deleted_digests(outcomes)
        freed = 0
        for state in states:
            deleted = [
                m.digest for m in state.manifests if (state.registry, state.repository, m.digest) in gone
            ]
            if not deleted or method == NO_ESTIMATE:
                continue
            if method == LAYERS:
                kept = [
                    m.digest
                    for m in state.manifests
                    if (state.registry, state.repository, m.digest) not in gone
                ]
                freed += reclaimed_bytes(layers, deleted=deleted, kept=kept)
            else:
                freed += listed_bytes(state.manifests, deleted=deleted)
        summary = summarize_batch(
            plan,
            outcomes,
            repositories=len(states),
            bytes_reclaimed=freed,
            dry_run=self.execution.dry_run,
            resumed=resumed,
            bytes_estimate=method,
        )
        record_bytes_reclaimed(freed, capability=CAPABILITY, dry_run=self.execution.dry_run)
        return outcomes, summary

    def _read_layers(
        self,
        plan: Plan,
        states: Sequence[RepositoryState],
        clients: Mapping[str, tuple[RegistryRef, RegistryClient]],
    ) -> dict[str, Sequence[tuple[str, int]]]:
        """Blob lists of every image manifest in repositories that lose something.

        Read before deleting (afterwards they are gone), paced under half of each
        registry's read limit so that the estimate never starves pulls; a manifest
        that cannot be read only makes the estimate less exact.
        """
        touched = {(a.params["registry"], a.params["repository"]) for a in plan.actions if a.kind == DELETE}
        wanted = [
            (state.registry, state.repository, m.digest)
            for state in states
            if (state.registry, state.repository) in touched
            for m in state.manifests
            if m.media_type not in INDEX_MEDIA_TYPES and not m.children
        ]

        buckets = {
            name: TokenBucket(RateLimit.per_minute(READ_LIMITS.get(ref.sku, READ_LIMITS["Basic"]) // 2))
            for name, (ref, _) in clients.items()
        }

        def read(item: tuple[str, str, str]) -> tuple[str, Sequence[tuple[str, int]]]:
            registry, repository, digest = item
            buckets[registry].acquire()
            try:
                return digest, clients[registry][1].read_layers(repository, digest)
            except OpsError as exc:
                log.info("layers of %s/%s@%s unknown: %s", registry, repository, digest, exc)
                return digest, ()

        if not wanted:
            return {}
        with ThreadPoolExecutor(max_workers=max(1, self.config.read_concurrency)) as pool:
            return dict(pool.map(read, wanted))

    def _apply_in_stages(
        self,
        plan: Plan,
        clients: Mapping[str, tuple[RegistryRef, RegistryClient]],
        progress: Progress | None,
        *,
        share: int = 1,
        scope: str = "",
        stop: Stop | None = None,
    ) -> list[Outcome]:
        """Apply stage by stage; skip what depends on a delete or unlock that did not happen.

        Writes are paced under ``1/share`` of each registry's SKU write limit.
        """
        handlers = _handlers(clients)
        verifiers = _verifiers(clients)
        if not (self.execution.dry_run or self.execution.kill_switch):
            open_plan(self.store, plan, scope=scope, now=self.now())
        limits = {f"acr:{name}": write_limit(ref.sku, share) for name, (ref, _) in clients.items()}
        results: dict[str, Outcome] = {}
        blocked: set[tuple[str, str, str]] = set()
        stages = sorted({int(a.params["stage"]) for a in plan.actions})
        done = 0
        for stage in stages:
            ready: list[Action] = []
            for action in plan.actions:
                if int(action.params["stage"]) != stage:
                    continue
                reason = _blocked_by(action, blocked)
                if reason is None:
                    ready.append(action)
                else:
                    results[action.key] = Outcome(action, Status.FAILED, detail=f"{NOT_ATTEMPTED}: {reason}")
                    blocked.add(_subject(action))
            outcomes = apply_plan(
                Plan(capability=CAPABILITY, actions=tuple(ready)),
                handlers=handlers,
                store=self.store,
                policy=self.execution,
                limits=limits,
                verifiers=verifiers,
                scope=scope,
                stop=stop,
            )
            for outcome in outcomes:
                results[outcome.action.key] = outcome
                if not outcome.ok:
                    blocked.add(_subject(outcome.action))
            done += len(ready)
            if progress is not None:
                progress("deletes", done, len(plan.actions))
        outcomes = [results[a.key] for a in plan.actions]
        if not (self.execution.dry_run or self.execution.kill_switch):
            close_plan(self.store, plan, outcomes, scope=scope)
            # A dead attempt's delete that landed after this attempt resumed, and before it
            # listed the repository, is in no plan: record it now (see ops.executor).
            settle_unconfirmed(self.store, plan, scope=scope, verifiers=verifiers, now=self.now())
        return outcomes

    # -- budget and records -------------------------------------------------------------------

    def _grant_budget(self, message: BatchMessage, wanted: int) -> int:
        """This batch's share of the run's delete budget, granted once per batch.

        The grant is recorded, so a replayed batch plans with the same cap; the run's
        remaining budget is decremented under its ETag, so concurrent batches never
        grant more than the run allows.
        """
        existing = self.store.get_record(GRANTS, message.key)
        if existing is not None:
            return int(existing.value["granted"])
        granted = self._take_budget(message.run, wanted)
        try:
            self.store.put_record(GRANTS, message.key, {"granted": granted}, etag=None)
        except Conflict:  # a duplicate delivery of this message was granted first
            self._take_budget(message.run, -granted)
            again = self.store.get_record(GRANTS, message.key)
            return int(again.value["granted"]) if again is not None else 0
        return granted

    def _take_budget(self, run: str, amount: int) -> int:
        while True:
            record = self.store.get_record(RUNS, run)
            if record is None:
                return 0
            remaining = int(record.value.get("remaining", 0))
            take = min(amount, remaining) if amount >= 0 else amount
            if take == 0:
                return 0
            try:
                self.store.put_record(
                    RUNS, run, {**record.value, "remaining": remaining - take}, etag=record.etag
                )
                return take
            except Conflict:
                continue

    def _finish_run(self, run: str, batches: int) -> None:
        """Once every batch is recorded: the run summary, and the run marked finished."""
        records = self.store.list_records(BATCHES, prefix=f"{run}/")
        if len(records) < batches:
            return
        self._record_run(run, [r.value for r in records], dry_run=self.execution.dry_run)
        while (record := self.store.get_record(RUNS, run)) is not None and not record.value.get("finished"):
            try:
                finished = {**record.value, "finished": self.now().isoformat()}
                self.store.put_record(RUNS, run, finished, etag=record.etag)
            except Conflict:
                continue  # another batch's budget return or finish raced us: read again

    def _runs_still_deleting(self, now: datetime) -> str:
        """Why a new applying run must wait (a scheduled run that may still delete), or ""."""
        if self.execution.dry_run:
            return ""
        busy = runs_in_flight(self.store, now=now, within=self.config.snapshot_max_age)
        if not busy:
            return ""
        return (
            f"purge run(s) {', '.join(busy)} may still be deleting: their batches apply for up to "
            f"OPS_PURGE_SNAPSHOT_MAX_AGE ({format_duration(self.config.snapshot_max_age)}) "
            "after they are scheduled"
        )

    def _stale_snapshot(self, run: Mapping[str, Any], now: datetime) -> str | None:
        """Why a batch must not use its run's in-use set any more, or None."""
        read_at = run.get("in_use_at") or run.get("created")
        age = now - datetime.fromisoformat(read_at) if isinstance(read_at, str) else None
        limit = self.config.snapshot_max_age
        if age is not None and age <= limit:
            return None
        shown = "at an unknown time" if age is None else f"{format_duration(_whole_minutes(age))} ago"
        return (
            f"the run's in-use set was read {shown}, over OPS_PURGE_SNAPSHOT_MAX_AGE "
            f"({format_duration(limit)}): an image deployed since would not be in it; "
            "these repositories wait for the next run"
        )

    def _refuse_batch(self, message: BatchMessage, run: Mapping[str, Any], reason: str) -> PurgeResult:
        """Record the batch as refused (it counts as done for the run summary) and acknowledge it."""
        log.warning("purge batch %s refused: %s", message.key, reason)
        summary = refused_summary(len(message.repositories), reason, dry_run=self.execution.dry_run)
        try:
            self.store.put_record(BATCHES, message.key, summary, etag=None)
        except Conflict:
            return PurgeResult("already_done", message.run, summary)
        self._finish_run(message.run, int(run.get("batches", 0)))
        return PurgeResult("refused", message.run, summary)

    def _prune(self, now: datetime) -> int:
        """Delete runs older than the retention with their records, and old executor claims
        (housekeeping: a failure is logged, and the next run tries again)."""
        try:
            pruned = prune_records(self.store, now=now, retention=self.config.retention)
            # Every capability's executor claims share one table; the daily purge run is
            # where they are pruned too.
            pruned += prune_claims(self.store, now=now, retention=self.config.retention)
        except OpsError as exc:
            log.warning("pruning old purge records failed: %s", exc)
            return 0
        if pruned:
            log.info(
                "pruned %d purge record(s) older than %s", pruned, format_duration(self.config.retention)
            )
        return pruned

    def _record_run(self, run: str, parts: Sequence[Mapping[str, Any]], *, dry_run: bool) -> None:
        """One audit record per run with the summary; its key makes a second one impossible."""
        summary = merge_summaries(parts)
        summary["batches"] = len(parts)
        text = (
            f"{summary['manifests_deleted']} manifest(s) and {summary['tags_deleted']} tag(s) "
            f"{'would be ' if dry_run else ''}deleted, about {format_bytes(summary['bytes_reclaimed'])} "
            "reclaimed, "
            f"{summary['protected']} protected"
        )
        if summary["refused_batches"]:
            text += (
                f"; {summary['refused_batches']} batch(es) of {summary['refused_repositories']} "
                f"repositories refused: {'; '.join(summary['refused'])}"
            )
        self.store.append_audit(
            AuditRecord(
                key=f"purge-run:{run}",
                capability=CAPABILITY,
                kind="run_summary",
                target=run,
                reason=text,
                status="dry_run" if dry_run else "applied",
                at=self.now(),
                detail=summary,
            )
        )
        log.info("purge run %s: %s", run, text)


@dataclass(frozen=True, slots=True)
class _Scope:
    """What an inline run covers, and who reviews its plan before it is applied."""

    registry: str | None
    repository: str | None
    review: Callable[[Plan], None] | None


def batch_message(run: str, batch: int, registry: RegistryRef, repositories: Sequence[str]) -> BatchMessage:
    return BatchMessage.model_validate(
        {
            "run": run,
            "batch": batch,
            "registry": {
                "name": registry.name,
                "id": registry.id,
                "loginServer": registry.login_server,
                "sku": registry.sku,
            },
            "repositories": list(repositories),
        }
    )


def write_limit(sku: str, share: int = 1) -> RateLimit:
    """``1/share`` of a registry SKU's write limit (an unknown SKU is paced as Basic)."""
    per_minute = WRITE_LIMITS.get(sku, WRITE_LIMITS["Basic"])
    return RateLimit.per_minute(max(1, per_minute // max(1, share)))


def _whole_minutes(delta: timedelta) -> timedelta:
    return timedelta(minutes=max(1, int(delta.total_seconds() // 60)))


def _handlers(clients: Mapping[str, tuple[RegistryRef, RegistryClient]]) -> dict[str, Handler]:
    def client(action: Action) -> RegistryClient:
        return clients[action.params["registry"]][1]

    return {
        DELETE: lambda a: client(a).delete_manifest(a.params["repository"], a.params["digest"]),
        UNLOCK_MANIFEST: lambda a: client(a).unlock_manifest(a.params["repository"], a.params["digest"]),
        UNLOCK_TAG: lambda a: client(a).unlock_tag(a.params["repository"], a.params["tag"]),
    }


def _verifiers(clients: Mapping[str, tuple[RegistryRef, RegistryClient]]) -> dict[str, Verifier]:
    """Is an action's effect in place? Asked of the registry after a crash (see ops.executor).

    A deleted manifest is gone (gone means done); an unlocked manifest or tag has delete
    and write enabled. An unlocked manifest deleted since cannot tell: None.
    """

    def client(action: Action) -> RegistryClient | None:
        found = clients.get(action.params["registry"])
        return None if found is None else found[1]

    def deleted(action: Action) -> bool | None:
        registry = client(action)
        if registry is None:
            return None
        try:
            registry.read_manifest_flags(action.params["repository"], action.params["digest"])
        except NotFound:
            return True
        return False

    def unlocked(action: Action) -> bool | None:
        registry, params = client(action), action.params
        if registry is None:
            return None
        try:
            if action.kind == UNLOCK_TAG:
                return all(registry.read_tag_flags(params["repository"], params["tag"]))
            return all(registry.read_manifest_flags(params["repository"], params["digest"]))
        except NotFound:
            return None

    return {DELETE: deleted, UNLOCK_MANIFEST: unlocked, UNLOCK_TAG: unlocked}


def _subject(action: Action) -> tuple[str, str, str]:
    """The manifest an action is about: the one deleted, or the one an unlock is for."""
    params = action.params
    return (params["registry"], params["repository"], params.get("for") or params["digest"])


def _blocked_by(action: Action, blocked: set[tuple[str, str, str]]) -> str | None:
    if action.kind != DELETE:
        return None
    registry, repository, digest = _subject(action)
    if (registry, repository, digest) in blocked:
        return "its unlock did not succeed"
    parent = action.params.get("parent")
    if parent and (registry, repository, parent) in blocked:
        return f"its parent {parent} was not deleted"
    return None
