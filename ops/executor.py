"""The one executor: applies a Plan's actions, safely and at most once each.

Planners decide *what*; this module decides *how*: bounded concurrency, a token
bucket per target service (so a purge stays under the registry's write limit),
retries that honour ``retry_after``, "already gone" counted as done, dry-run and
the kill switch, a cap that refuses oversized plans whole, and exactly one audit
record per effect, deduplicated by the action's idempotency key even when two
runs apply the same plan at once.

Crashes. Before an action runs, its claim is written twice: under its key (so no
other run applies it again) and in an *open* list under the run's ``scope`` (a
queue batch, or an inline run), with the whole action. A process that dies with
an action in flight leaves both behind, and the effect may or may not have
landed. Waiting for the claim to time out would stall every redelivery, and a
rerun would never meet the action again if the effect did land (the planner no
longer sees what was deleted), so its audit record would be lost. Instead, a
capability passes a *verifier* per action kind, which asks the target whether
the effect is in place (a deleted manifest is gone). :func:`resolve_open_claims`,
called when a scope starts again, and the claim path itself, when it meets
another run's unfinished claim, both verify: done means the audit record is
written now, once; not done means the action may be applied again, which
idempotent effects (delete → 404, set → same) make harmless. Action kinds without
a verifier still wait out ``claim_timeout``.

Stopping. ``stop`` (the argument, or the policy's) is polled before each action
starts: a SIGTERM'd CLI run finishes what is in flight and reports the rest as not
attempted (see ops.interrupts).
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
from typing import Any

from ops.errors import CapExceeded, Conflict, NotFound, OpsError, TransientError, describe_error
from ops.plan import Action, Outcome, Plan, Status
from ops.state.store import AuditRecord, StateStore
from ops.telemetry import record_outcomes
from ops.telemetry.context import run_in_context

log = logging.getLogger(__name__)

#: Applies one action; raises ops.errors on failure. Adapters supply these.
Handler = Callable[[Action], None]
#: Is the action's effect in place now? True (done), False (not done), None (cannot tell).
Verifier = Callable[[Action], bool | None]

_CLAIMS = "action-claims"
#: Claims not yet finished, by ``<capability>/<scope>/<key>``, each with its whole action.
_OPEN = "action-claims-open"
NOT_ATTEMPTED = "not attempted"
INTERRUPTED = f"{NOT_ATTEMPTED}: interrupted"
RESUMED = "applied by an interrupted attempt; recorded when resumed"
GONE = "already gone when an interrupted attempt was resumed"
#: An open entry whose action was in flight when its run died and was not in place when
#: resumed: that request may still land, so the entry is kept until the attempt ends.
UNCONFIRMED = "unconfirmed"


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
    # Who asked for this run (an HTTP runbook's caller: oid, appid, name, roles used);
    # kept in the audit record of every action it applies. None: the app itself.
    actor: Mapping[str, Any] | None = None
    # An operator's stop (a CLI run's SIGTERM or SIGINT): True starts no further action.
    stop: Callable[[], bool] | None = None


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
    verifiers: Mapping[str, Verifier] | None = None,
    scope: str = "",
    stop: Callable[[], bool] | None = None,
) -> list[Outcome]:
    """Apply ``plan`` and return one Outcome per action, in plan order.

    Raises CapExceeded before touching anything when the plan is over its cap, in
    dry runs too, so that a dry run predicts a real run faithfully. Every plan applied
    here, and each action's outcome, is recorded by ops.telemetry. ``scope`` names the
    unit of work that :func:`resolve_open_claims` resumes after a crash; ``stop``
    returning True starts no further action.
    """
    runner = _Runner(plan, handlers, store, policy, limits or {}, clock, sleep, now)
    runner.verifiers = verifiers or {}
    runner.scope = scope
    runner.stop = _either(stop, policy.stop)
    outcomes = _apply_plan(runner)
    record_outcomes(plan, outcomes, dry_run=policy.dry_run)
    return outcomes


def _either(first: Callable[[], bool] | None, second: Callable[[], bool] | None) -> Callable[[], bool] | None:
    if first is None or second is None:
        return first or second
    return lambda: first() or second()


def _apply_plan(runner: _Runner) -> list[Outcome]:
    plan, handlers, policy = runner.plan, runner.handlers, runner.policy
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
        self.verifiers: Mapping[str, Verifier] = {}
        self.scope = ""
        self.stop: Callable[[], bool] | None = None

    def run(self, action: Action) -> Outcome:
        if self.stop is not None and self.stop():
            return Outcome(action, Status.FAILED, 0, INTERRUPTED, retryable=True)
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
                return self._fail(action, attempts, describe_error(exc))
            else:
                return self._done(action, Status.APPLIED, attempts, "")

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return max(0.0, retry_after)
        return float(min(self.policy.max_backoff_s, self.policy.backoff_s * 2 ** (attempts - 1)))

    def _claim(self, action: Action) -> Outcome | None:
        """Take the action's key so that no concurrent or later run applies it again."""
        stamp = self.now()
        value = claim_value(action, capability=self.plan.capability, scope=self.scope, at=stamp)
        mine = open_key(self.plan.capability, self.scope, action.key)
        # The open entry first: a crash after it, whatever else happened, leaves a trace.
        self.store.put_record(_OPEN, mine, value, etag="*")
        try:
            self.store.put_record(_CLAIMS, action.key, value, etag=None)
            return None
        except Conflict:
            pass
        record = self.store.get_record(_CLAIMS, action.key)
        if record is None:  # released between our write and read: try once more
            return self._claim(action)
        if record.value.get("status") == "done":
            _forget_open(self.store, mine)
            return Outcome(action, Status.ALREADY_DONE, detail="applied before (same idempotency key)")
        busy = Outcome(action, Status.FAILED, detail="being applied by another run", retryable=True)
        verify = self.verifiers.get(action.kind)
        if verify is None:
            started = datetime.fromisoformat(str(record.value.get("at")))
            if stamp - started < self.policy.claim_timeout:
                # Not done yet, and its holder may have died: a redelivery must come back for it.
                _forget_open(self.store, mine)
                return busy
        else:
            # Another run's unfinished claim: ask the target rather than wait for a timeout.
            try:
                landed = verify(action)
            except OpsError as exc:
                _forget_open(self.store, mine)
                return Outcome(action, Status.FAILED, 0, f"could not verify a claim: {exc}", retryable=True)
            if landed:
                done = self._done(action, Status.ALREADY_DONE, 0, RESUMED, audit_status=Status.APPLIED)
                if record.value.get("scope") != self.scope:
                    _forget_open(self.store, open_key_of(record.value, action.key))
                return done
            if landed is None:
                _forget_open(self.store, mine)
                return busy
        try:  # a stale claim, or one whose effect did not land: take it over
            self.store.put_record(_CLAIMS, action.key, value, etag=record.etag)
        except Conflict:
            _forget_open(self.store, mine)
            return busy
        if record.value.get("scope") != self.scope:
            _forget_open(self.store, open_key_of(record.value, action.key))
        return None

    def _done(
        self,
        action: Action,
        status: Status,
        attempts: int,
        detail: str,
        *,
        audit_status: Status | None = None,
    ) -> Outcome:
        """Record the effect. It already happened, so a store failure here must not hide it."""
        stamp = self.now()
        for attempt in range(1, 4):
            try:
                record_effect(
                    self.store,
                    action,
                    capability=self.plan.capability,
                    status=audit_status or status,
                    attempts=attempts,
                    note=detail,
                    at=stamp,
                    actor=self.policy.actor,
                )
                _forget_open(self.store, open_key(self.plan.capability, self.scope, action.key))
                break
            except OpsError as exc:
                if attempt == 3:
                    # The claim stays open: the next attempt of this scope verifies the
                    # effect and writes the record then (see resolve_open_claims).
                    log.error("%s %s applied, but recording it failed: %s", action.kind, action.target, exc)
                    detail = f"{detail}; audit pending: {exc}".lstrip("; ")
                else:
                    self.sleep(self._delay(attempt, getattr(exc, "retry_after", None)))
        return Outcome(action, status, attempts, detail)

    def _fail(self, action: Action, attempts: int, detail: str, *, retry: bool = False) -> Outcome:
        log.error("%s %s failed: %s", action.kind, action.target, detail)
        with contextlib.suppress(OpsError):  # an unreleased claim only delays a retry
            self.store.delete_record(_CLAIMS, action.key)
            _forget_open(self.store, open_key(self.plan.capability, self.scope, action.key))
        return Outcome(action, Status.FAILED, attempts, detail, retryable=retry)


# -- claims -------------------------------------------------------------------------------


def claim_value(action: Action, *, capability: str, scope: str, at: datetime) -> dict[str, Any]:
    """An in-progress claim: who holds it, since when, and enough to audit it later."""
    return {
        "status": "in_progress",
        "at": at.isoformat(),
        "capability": capability,
        "scope": scope,
        "action": {**action.to_dict(), "missing_ok": action.missing_ok},
    }


def open_key(capability: str, scope: str, key: str) -> str:
    return f"{capability}/{scope}/{key}"


def open_key_of(claim: Mapping[str, Any], key: str) -> str:
    return open_key(str(claim.get("capability", "")), str(claim.get("scope", "")), key)


def _forget_open(store: StateStore, key: str) -> None:
    with contextlib.suppress(OpsError):  # a leftover entry is resolved (or pruned) later
        store.delete_record(_OPEN, key)


def action_of(claim: Mapping[str, Any]) -> Action:
    """The action an open claim was taken for."""
    data = claim["action"]
    return Action(
        kind=data["kind"],
        target=data["target"],
        reason=data["reason"],
        service=data["service"],
        params=dict(data.get("params") or {}),
        key=data["key"],
        missing_ok=bool(data.get("missing_ok", False)),
    )


def record_effect(
    store: StateStore,
    action: Action,
    *,
    capability: str,
    status: Status,
    attempts: int,
    note: str,
    at: datetime,
    actor: Mapping[str, Any] | None = None,
) -> None:
    """The effect's one audit record (a repeat adds nothing), then its claim marked done.
    ``actor`` (who asked for the run: an HTTP runbook's caller) is kept in the record."""
    store.append_audit(
        AuditRecord(
            key=action.key,
            capability=capability,
            kind=action.kind,
            target=action.target,
            reason=action.reason,
            status=str(status),
            at=at,
            detail={
                "params": dict(action.params),
                "attempts": attempts,
                "note": note,
                **({"caller": dict(actor)} if actor else {}),
            },
        )
    )
    done = {"status": "done", "at": at.isoformat(), "capability": capability}
    store.put_record(_CLAIMS, action.key, done, etag="*")


def open_plan(store: StateStore, plan: Plan, *, scope: str, now: datetime) -> None:
    """Write an open entry (``planned``) for every action of ``plan`` before any is applied.

    A capability that applies a plan in several calls (purge's stages) calls this first,
    so that a crash leaves a trace of the actions not yet started too: an effect can
    remove more than its own target (ACR deletes a manifest's referrers with it), and
    the next attempt must still find and record those. Close it with :func:`close_plan`.
    """
    seen: set[str] = set()
    for action in plan.actions:
        if action.key in seen:
            continue
        seen.add(action.key)
        value = claim_value(action, capability=plan.capability, scope=scope, at=now)
        store.put_record(
            _OPEN, open_key(plan.capability, scope, action.key), {**value, "status": "planned"}, etag="*"
        )


def close_plan(store: StateStore, plan: Plan, outcomes: Sequence[Outcome], *, scope: str) -> None:
    """Forget the open entries of actions never started because something they depend on
    failed; the started ones were settled when they finished. Those a ``stop`` left
    unstarted stay open: an earlier effect may have removed their target too, and the
    next attempt records that when it verifies them."""
    for outcome in outcomes:
        if outcome.status is Status.FAILED and outcome.attempts == 0 and outcome.detail != INTERRUPTED:
            _forget_open(store, open_key(plan.capability, scope, outcome.action.key))


def resolve_open_claims(
    store: StateStore,
    *,
    capability: str,
    verifiers: Mapping[str, Verifier],
    scope: str | None = None,
    older_than: datetime | None = None,
    now: datetime,
) -> list[Outcome]:
    """Settle what a crashed attempt of ``scope`` left open (every scope of ``capability``
    when None, if opened before ``older_than``).

    Each entry is verified against its target. An action that was in flight and whose
    effect is in place gets its audit record now (``applied``, noted as resumed); one
    only planned whose target is gone too (removed with its parent, or by someone
    else) gets the record a run would have written for it (``already_done``); both are
    returned, ALREADY_DONE. An effect not in place is released, so that the next plan
    may apply it again. An entry that cannot be verified stays open. Call it when the
    scope starts again and before it plans, while no other attempt of it runs.
    Verifier errors propagate: the caller retries later.

    Actions that were in flight are verified before those only planned: a dead run's
    request may still land while this runs, and its effect can remove planned targets
    too (ACR deletes a manifest's referrers with it). Verified in that order, a planned
    target is never found present, forgotten, and then removed with a parent that is
    found gone a moment later, which would leave that removal without a record.

    For the same reason, an in-flight action found not in place is not forgotten when a
    ``scope`` is named: its claim is released, but its entry stays open, marked
    ``unconfirmed``, because the dead run's request may land after this check. Should it
    land before the attempt lists the target, the new plan no longer contains it and no
    run would record it; :func:`settle_unconfirmed`, called when the attempt has applied
    its plan, verifies the entry again and records it then.
    """
    prefix = f"{capability}/" if scope is None else open_key(capability, scope, "")
    resolved: list[Outcome] = []
    entries = []
    for entry in store.list_records(_OPEN, prefix=prefix):
        value = entry.value
        if older_than is not None and datetime.fromisoformat(str(value.get("at"))) >= older_than:
            continue
        action = action_of(value)
        claim = store.get_record(_CLAIMS, action.key)
        entries.append((value.get("status") == "planned" and claim is None, entry, action, claim))
    for planned, entry, action, claim in sorted(entries, key=lambda row: row[0]):
        unconfirmed = entry.value.get("status") == UNCONFIRMED and claim is None
        if not (planned or unconfirmed) and (
            claim is None
            or claim.value.get("status") == "done"
            or open_key_of(claim.value, action.key) != entry.key
        ):
            _forget_open(store, entry.key)  # finished, failed, or another run's now
            continue
        verify = verifiers.get(action.kind)
        landed = None if verify is None else verify(action)
        if landed is None:
            log.warning("%s %s: an interrupted action cannot be verified yet", action.kind, action.target)
            continue
        if landed:
            status, note = (Status.ALREADY_DONE, GONE) if planned else (Status.APPLIED, RESUMED)
            record_effect(store, action, capability=capability, status=status, attempts=0, note=note, at=now)
            resolved.append(Outcome(action, Status.ALREADY_DONE, 0, note))
            log.info("%s %s: %s", action.kind, action.target, note)
        elif not planned:
            try:
                if claim is not None:
                    store.delete_record(_CLAIMS, action.key, etag=claim.etag)
            except Conflict:  # taken over meanwhile: that run owns it now
                pass
            else:
                if scope is not None:  # its request may still land: see settle_unconfirmed
                    store.put_record(_OPEN, entry.key, {**entry.value, "status": UNCONFIRMED}, etag="*")
                    continue
        _forget_open(store, entry.key)
    return resolved


def settle_unconfirmed(
    store: StateStore, plan: Plan, *, scope: str, verifiers: Mapping[str, Verifier], now: datetime
) -> list[Outcome]:
    """Settle the ``unconfirmed`` entries :func:`resolve_open_claims` kept for ``scope``,
    once the attempt has applied ``plan``; those settled now (ALREADY_DONE, resumed).

    Such an entry's request, sent by a dead run, was not in place when the attempt began
    and may have landed since. If ``plan`` acts on the same target, the plan's own
    outcome is that target's record, so the entry is forgotten. Otherwise (the target was
    already gone when the attempt listed it, so nothing else will record it) it is
    verified: in place means the dead run's effect, recorded now as applied; not in place
    means it never landed, and the entry is forgotten. "Cannot tell" stays open.
    Verifier errors propagate: the caller retries later.
    """
    targets = {(a.kind, a.target) for a in plan.actions}
    settled: list[Outcome] = []
    for entry in store.list_records(_OPEN, prefix=open_key(plan.capability, scope, "")):
        if entry.value.get("status") != UNCONFIRMED:
            continue
        action = action_of(entry.value)
        if (action.kind, action.target) not in targets:
            verify = verifiers.get(action.kind)
            landed = None if verify is None else verify(action)
            if landed is None:
                continue
            if landed:
                record_effect(
                    store,
                    action,
                    capability=plan.capability,
                    status=Status.APPLIED,
                    attempts=0,
                    note=RESUMED,
                    at=now,
                )
                settled.append(Outcome(action, Status.ALREADY_DONE, 0, RESUMED))
                log.info("%s %s: %s", action.kind, action.target, RESUMED)
        _forget_open(store, entry.key)
    return settled


def describe_interruption(
    outcomes: Sequence[Outcome] | Sequence[Mapping[str, Any]], *, lease: str | None = None
) -> str:
    """What an operator sees when a run was stopped: how far it got, and what happens next.
    ``outcomes`` may also be outcomes as a run record keeps them (``Outcome.to_dict``)."""
    rows = [o.to_dict() if isinstance(o, Outcome) else o for o in outcomes]
    started = [o for o in rows if not (o["attempts"] == 0 and str(o["detail"]).startswith(NOT_ATTEMPTED))]
    done = sum(1 for o in started if o["status"] in (Status.APPLIED, Status.ALREADY_DONE))
    released = f"the {lease} lease is released: " if lease else ""
    return (
        f"interrupted after {len(started)} of {len(outcomes)} action(s) ({done} done, "
        f"{len(started) - done} failed); {released}run it again to finish"
    )


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
    for table in (_CLAIMS, _OPEN):  # open entries too: one a scope never resumed
        for record in store.list_records(table):
            try:
                stamp = datetime.fromisoformat(str(record.value.get("at")))
            except ValueError:
                stamp = cutoff  # unreadable: old enough to go
            if stamp <= cutoff:
                with contextlib.suppress(Conflict, NotFound):
                    store.delete_record(table, record.key, etag=record.etag)
                    pruned += 1
    return pruned
