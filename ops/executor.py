"""The one executor: applies a Plan's actions, safely and at most once each.

Planners decide *what*; this module decides *how*: bounded concurrency, a token
bucket per target service (so a purge stays under the registry's write limit),
retries that honour ``retry_after``, "already gone" counted as done, dry-run and
the kill switch, a cap that refuses oversized plans whole, and exactly one audit
record per effect, deduplicated by the action's idempotency key even when two
runs apply the same plan at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ops.errors import CapExceeded, Conflict, NotFound, OpsError, TransientError
from ops.plan import Action, Outcome, Plan, Status
from ops.state.store import AuditRecord, StateStore
from ops.telemetry import record_outcomes
from ops.telemetry.context import run_in_context

log = logging.getLogger(__name__)

#: Applies one action; raises ops.errors on failure. Adapters supply these.
Handler = Callable[[Action], None]

_CLAIMS = "action-claims"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket: ``per_second`` sustained, ``burst`` at once."""

    per_second: float
    burst: int = 1

    @classmethod
    def per_minute(cls, count: int, *, burst: int | None = None) -> RateLimit:
        return cls(per_second=count / 60.0, burst=burst or max(1, count // 60))


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How to apply: the switches an operator controls, and retry bounds."""

    dry_run: bool = True
    kill_switch: bool = False
    max_concurrency: int = 8
    max_attempts: int = 6
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    claim_timeout: timedelta = timedelta(minutes=15)


class TokenBucket:
    """Thread-safe token bucket; ``acquire`` blocks until a token is free."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = limit.per_second
        self._capacity = float(max(1, limit.burst))
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._stamp = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1.0 - 1e-9:  # tolerate float drift from refills
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return
                wait = (1.0 - self._tokens) / self._rate
            self._sleep(wait)


def check_cap(plan: Plan) -> None:
    """Refuse a plan over its cap as a whole: a truncated plan is not the reviewed plan."""
    if plan.over_cap:
        raise CapExceeded(
            f"{plan.capability} plan has {len(plan.actions)} actions, over its cap of {plan.cap}; "
            "nothing was applied. Narrow the policy, or raise the cap deliberately."
        )


def apply_plan(
    plan: Plan,
    *,
    handlers: Mapping[str, Handler],
    store: StateStore,
    policy: ExecutionPolicy,
    limits: Mapping[str, RateLimit] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Outcome]:
    """Apply ``plan`` and return one Outcome per action, in plan order.

    Raises CapExceeded before touching anything when the plan is over its cap, in
    dry runs too, so that a dry run predicts a real run faithfully. Every plan applied
    here, and each action's outcome, is recorded by ops.telemetry.
    """
    outcomes = _apply_plan(plan, handlers, store, policy, limits, clock, sleep, now)
    record_outcomes(plan, outcomes, dry_run=policy.dry_run)
    return outcomes


def _apply_plan(
    plan: Plan,
    handlers: Mapping[str, Handler],
    store: StateStore,
    policy: ExecutionPolicy,
    limits: Mapping[str, RateLimit] | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    now: Callable[[], datetime],
) -> list[Outcome]:
    check_cap(plan)
    missing = sorted({a.kind for a in plan.actions} - set(handlers))
    if missing and not (policy.dry_run or policy.kill_switch):
        raise OpsError(f"no handler for action kind(s): {', '.join(missing)}")
    if policy.kill_switch:
        log.warning(
            "kill switch is on: %d %s action(s) planned, none applied", len(plan.actions), plan.capability
        )
        return [Outcome(a, Status.HALTED, detail="kill switch is on") for a in plan.actions]
    if policy.dry_run:
        return [Outcome(a, Status.DRY_RUN, detail="dry run") for a in plan.actions]
    runner = _Runner(plan, handlers, store, policy, limits or {}, clock, sleep, now)
    first: dict[str, Action] = {}
    for action in plan.actions:
        first.setdefault(action.key, action)
    unique = list(first.values())  # plan order, first action of each key
    if len(unique) <= 1 or policy.max_concurrency == 1:
        results = [runner.run(a) for a in unique]
    else:
        with ThreadPoolExecutor(max_workers=min(policy.max_concurrency, len(unique))) as pool:
            # Each task runs in a copy of this context: its records and spans keep the invocation.
            context = run_in_context()
            results = list(pool.map(lambda a: context.copy().run(runner.run, a), unique))
    by_key = {o.action.key: o for o in results}
    return [
        by_key[a.key]
        if by_key[a.key].action is a
        else Outcome(a, Status.ALREADY_DONE, detail="duplicate in plan")
        for a in plan.actions
    ]


class _Runner:
    """Applies single actions: claim, pace, retry, audit."""

    def __init__(
        self,
        plan: Plan,
        handlers: Mapping[str, Handler],
        store: StateStore,
        policy: ExecutionPolicy,
        limits: Mapping[str, RateLimit],
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        now: Callable[[], datetime],
    ) -> None:
        self.plan = plan
        self.handlers = handlers
        self.store = store
        self.policy = policy
        self.sleep = sleep
        self.now = now
        self.buckets = {svc: TokenBucket(lim, clock=clock, sleep=sleep) for svc, lim in limits.items()}

    def run(self, action: Action) -> Outcome:
        try:
            claimed = self._claim(action)
        except OpsError as exc:  # the state store is unreachable: apply nothing, retry later
            return Outcome(action, Status.FAILED, 0, f"could not claim: {exc}", retryable=True)
        if claimed is not None:
            return claimed
        attempts = 0
        while True:
            attempts += 1
            bucket = self.buckets.get(action.service)
            if bucket is not None:
                bucket.acquire()
            try:
                self.handlers[action.kind](action)
            except NotFound as exc:
                if not action.missing_ok:
                    return self._fail(action, attempts, f"not found: {exc}")
                return self._done(action, Status.ALREADY_DONE, attempts, f"already gone: {exc}")
            except TransientError as exc:
                wait = self._delay(attempts, exc.retry_after)
                if attempts >= self.policy.max_attempts:
                    return self._fail(
                        action, attempts, f"gave up after {attempts} attempts: {exc}", retry=True
                    )
                if wait > self.policy.max_backoff_s:
                    # Sleeping that long would outlive the function's timeout with the claim held.
                    detail = f"asked to wait {wait:.0f}s, longer than {self.policy.max_backoff_s:.0f}s: {exc}"
                    return self._fail(action, attempts, detail, retry=True)
                self.sleep(wait)
            except Exception as exc:  # one action's failure must not sink the others
                return self._fail(action, attempts, f"{type(exc).__name__}: {exc}")
            else:
                return self._done(action, Status.APPLIED, attempts, "")

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        return float(min(self.policy.max_backoff_s, self.policy.backoff_s * 2 ** (attempts - 1)))

    def _claim(self, action: Action) -> Outcome | None:
        """Take the action's key so that no concurrent or later run applies it again."""
        stamp = self.now()
        value = {"status": "in_progress", "at": stamp.isoformat(), "capability": self.plan.capability}
        try:
            self.store.put_record(_CLAIMS, action.key, value, etag=None)
            return None
        except Conflict:
            pass
        record = self.store.get_record(_CLAIMS, action.key)
        if record is None:  # released between our write and read: try once more
            return self._claim(action)
        if record.value.get("status") == "done":
            return Outcome(action, Status.ALREADY_DONE, detail="applied before (same idempotency key)")
        started = datetime.fromisoformat(str(record.value.get("at")))
        busy = Outcome(action, Status.FAILED, detail="being applied by another run", retryable=True)
        if stamp - started < self.policy.claim_timeout:
            # Not done yet, and its holder may have died: a redelivery must come back for it.
            return busy
        try:  # a stale claim: its holder died mid-action
            self.store.put_record(_CLAIMS, action.key, value, etag=record.etag)
        except Conflict:
            return busy
        return None

    def _done(self, action: Action, status: Status, attempts: int, detail: str) -> Outcome:
        """Record the effect. It already happened, so a store failure here must not hide it."""
        stamp = self.now()
        record = AuditRecord(
            key=action.key,
            capability=self.plan.capability,
            kind=action.kind,
            target=action.target,
            reason=action.reason,
            status=str(status),
            at=stamp,
            detail={"params": dict(action.params), "attempts": attempts, "note": detail},
        )
        done = {"status": "done", "at": stamp.isoformat(), "capability": self.plan.capability}
        for attempt in range(1, 4):
            try:
                self.store.append_audit(record)
                self.store.put_record(_CLAIMS, action.key, done, etag="*")
                break
            except OpsError as exc:
                if attempt == 3:
                    # The claim stays in progress: after claim_timeout a later run re-applies,
                    # which idempotent effects (delete → 404, set → same) make harmless.
                    log.error("%s %s applied, but recording it failed: %s", action.kind, action.target, exc)
                    detail = f"{detail}; audit pending: {exc}".lstrip("; ")
                else:
                    self.sleep(self._delay(attempt, getattr(exc, "retry_after", None)))
        return Outcome(action, status, attempts, detail)

    def _fail(self, action: Action, attempts: int, detail: str, *, retry: bool = False) -> Outcome:
        log.error("%s %s failed: %s", action.kind, action.target, detail)
        with contextlib.suppress(OpsError):  # an unreleased claim only delays a retry
            self.store.delete_record(_CLAIMS, action.key)
        return Outcome(action, Status.FAILED, attempts, detail, retryable=retry)


def failed_transiently(outcomes: Sequence[Outcome]) -> bool:
    """True when some action may succeed on redelivery, so the trigger should raise."""
    return any(o.status is Status.FAILED and o.retryable for o in outcomes)


def prune_claims(store: StateStore, *, now: datetime, retention: timedelta) -> int:
    """Delete idempotency claims older than ``retention``; the number deleted.

    Claims would otherwise grow without bound. Past the retention an effect is safe to
    forget: a repeat is a new plan, and re-applying a delete or a set is harmless.
    """
    cutoff = now - retention
    pruned = 0
    for record in store.list_records(_CLAIMS):
        try:
            stamp = datetime.fromisoformat(str(record.value.get("at")))
        except ValueError:
            stamp = cutoff  # unreadable: old enough to go
        if stamp <= cutoff:
            with contextlib.suppress(Conflict, NotFound):
                store.delete_record(_CLAIMS, record.key, etag=record.etag)
                pruned += 1
    return pruned
