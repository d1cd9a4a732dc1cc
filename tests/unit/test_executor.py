"""The executor.

Cases: a plan over its cap is refused whole (in dry runs too); the kill switch
applies nothing; dry-run applies nothing and reports every action; a transient
error is retried after its ``retry_after``; retries give up after max attempts;
a NotFound on a missing_ok action counts as done, on another action as failed;
the same idempotency key applied twice (sequentially, and by three runs held until
they provably overlap) gives one effect and one audit record; exactly max_concurrency
actions run at once (a barrier of that size); the token bucket paces a
service; one failing action does not stop the others; an action claimed by a run
that has not finished is a retryable failure, not "done"; a Retry-After longer than
the backoff bound gives up retryably instead of sleeping past the function timeout;
a store failure after the effect still reports the effect; old claims are pruned.

Crashes (the process dies inside a handler, before or after its effect lands):
resolving the scope's open claims writes the one audit record of an effect that
landed and releases a claim whose effect did not (keeping its entry open, unconfirmed,
until the next run applies it), so the next run applies it once;
another run's unfinished claim met while applying is verified at once (landed: done
and recorded; not landed: taken over and applied) instead of waiting for the claim
timeout; a claim that cannot be verified stays open; an effect whose audit write
failed is recorded when its scope resumes; a stop request starts no further action
and reports the rest as not attempted; open entries are pruned with old claims; a
plan opened whole (open_plan) leaves a trace of actions not yet started, so one whose
target went with an earlier action's effect is recorded as already gone on resume,
and close_plan forgets the actions blocked by a failure but keeps those a stop left
unstarted, for the next attempt to verify.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import CapExceeded, Conflict, NotFound, TransientError
from ops.executor import (
    GONE,
    INTERRUPTED,
    RESUMED,
    ExecutionPolicy,
    RateLimit,
    TokenBucket,
    apply_plan,
    close_plan,
    failed_transiently,
    open_plan,
    prune_claims,
    resolve_open_claims,
)
from ops.plan import Action, Outcome, Plan, Status
from ops.state.sqlite import SqliteStateStore
from ops.state.store import AuditRecord, Record

APPLY = ExecutionPolicy(dry_run=False, max_concurrency=4, backoff_s=0.0)
NOW = datetime(2030, 1, 1, tzinfo=UTC)


def delete(target: str) -> Action:
    return Action("delete", target, reason="expired", service="acr:reg", missing_ok=True)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(str(tmp_path / "state.db"))


class Recorder:
    """A handler that records calls and can fail on demand."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, action: Action) -> None:
        with self.lock:
            self.calls[action.target] += 1


def test_over_cap_is_refused_whole(store: SqliteStateStore) -> None:
    rec = Recorder()
    plan = Plan("purge", [delete(f"m{i}") for i in range(3)], cap=2)
    for policy in (APPLY, ExecutionPolicy(dry_run=True)):
        with pytest.raises(CapExceeded, match="3 actions, over its cap of 2; nothing was applied"):
            apply_plan(plan, handlers={"delete": rec}, store=store, policy=policy)
    assert rec.calls == Counter()
    assert store.query_audit() == []


def test_kill_switch_applies_nothing(store: SqliteStateStore) -> None:
    rec = Recorder()
    plan = Plan("purge", [delete("a"), delete("b")])
    policy = ExecutionPolicy(dry_run=False, kill_switch=True)
    outcomes = apply_plan(plan, handlers={"delete": rec}, store=store, policy=policy)
    assert [o.status for o in outcomes] == [Status.HALTED, Status.HALTED]
    assert rec.calls == Counter()
    assert store.query_audit() == []


def test_dry_run_reports_every_action_and_applies_none(store: SqliteStateStore) -> None:
    rec = Recorder()
    plan = Plan("purge", [delete("a"), delete("b")])
    outcomes = apply_plan(plan, handlers={"delete": rec}, store=store, policy=ExecutionPolicy())
    assert [(o.action.target, o.status) for o in outcomes] == [("a", Status.DRY_RUN), ("b", Status.DRY_RUN)]
    assert rec.calls == Counter()


def test_transient_error_is_retried_after_retry_after(store: SqliteStateStore) -> None:
    slept: list[float] = []
    attempts: list[int] = []

    def flaky(action: Action) -> None:
        attempts.append(1)
        if len(attempts) < 3:
            raise TransientError("429 Too Many Requests", retry_after=7.5)

    plan = Plan("purge", [delete("a")])
    (outcome,) = apply_plan(plan, handlers={"delete": flaky}, store=store, policy=APPLY, sleep=slept.append)
    assert outcome.status is Status.APPLIED
    assert outcome.attempts == 3
    assert slept == [7.5, 7.5]


def test_retries_give_up_after_max_attempts(store: SqliteStateStore) -> None:
    def always(action: Action) -> None:
        raise TransientError("503")

    policy = ExecutionPolicy(dry_run=False, max_attempts=3, backoff_s=0.0)
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]), handlers={"delete": always}, store=store, policy=policy
    )
    assert outcome.status is Status.FAILED
    assert outcome.attempts == 3
    assert "gave up after 3 attempts" in outcome.detail
    # a failed action releases its claim, so a later run may try again
    (again,) = apply_plan(
        Plan("purge", [delete("a")]), handlers={"delete": lambda a: None}, store=store, policy=policy
    )
    assert again.status is Status.APPLIED


def test_not_found_counts_as_done_only_when_missing_ok(store: SqliteStateStore) -> None:
    def gone(action: Action) -> None:
        raise NotFound("manifest unknown")

    plan = Plan(
        "purge",
        [delete("a"), Action("unlock", "b", reason="r", service="acr:reg", missing_ok=False)],
    )
    outcomes = apply_plan(plan, handlers={"delete": gone, "unlock": gone}, store=store, policy=APPLY)
    assert [o.status for o in outcomes] == [Status.ALREADY_DONE, Status.FAILED]
    assert [r.target for r in store.query_audit()] == ["a"]


def test_same_key_twice_gives_one_effect_and_one_audit_record(store: SqliteStateStore) -> None:
    rec = Recorder()
    plan = Plan("purge", [delete("a"), delete("a")])
    first = apply_plan(plan, handlers={"delete": rec}, store=store, policy=APPLY)
    second = apply_plan(plan, handlers={"delete": rec}, store=store, policy=APPLY)
    assert rec.calls == Counter({"a": 1})
    assert sorted(o.status for o in first) == sorted([Status.APPLIED, Status.ALREADY_DONE])
    assert [o.status for o in second] == [Status.ALREADY_DONE, Status.ALREADY_DONE]
    assert len(store.query_audit()) == 1


class ConflictCounter(SqliteStateStore):
    """Counts claims refused because another run holds them: proof that runs overlapped."""

    def __init__(self, path: str, overlapped: threading.Event, needed: int) -> None:
        super().__init__(path)
        self.overlapped = overlapped
        self.needed = needed
        self.conflicts = 0
        self.lock = threading.Lock()

    def put_record(self, table: str, key: str, value: Any, *, etag: str | None) -> Record:
        try:
            return super().put_record(table, key, value, etag=etag)
        except Conflict:
            with self.lock:
                self.conflicts += 1
                if self.conflicts >= self.needed:
                    self.overlapped.set()
            raise


def test_concurrent_runs_of_one_plan_apply_each_key_once(tmp_path: Path) -> None:
    overlapped = threading.Event()
    store = ConflictCounter(str(tmp_path / "s.db"), overlapped, needed=2)
    rec = Recorder()
    start = threading.Barrier(3, timeout=5)

    def held(action: Action) -> None:
        # No effect completes until two claims were refused to another run: the runs overlap.
        assert overlapped.wait(timeout=5), "the runs never overlapped"
        rec(action)

    def run() -> None:
        start.wait()
        apply_plan(plan, handlers={"delete": held}, store=store, policy=APPLY)

    plan = Plan("purge", [delete(f"m{i}") for i in range(20)])
    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlapped.is_set() and store.conflicts >= 2
    assert rec.calls == Counter({f"m{i}": 1 for i in range(20)})
    assert len(store.query_audit(limit=1000)) == 20


def test_concurrency_is_bounded(store: SqliteStateStore) -> None:
    live = 0
    peak = 0
    lock = threading.Lock()
    # Each action waits until max_concurrency of them run at once: fewer workers would
    # break the barrier, and more would show in the peak.
    together = threading.Barrier(APPLY.max_concurrency, timeout=5)

    def busy(action: Action) -> None:
        nonlocal live, peak
        with lock:
            live += 1
            peak = max(peak, live)
        together.wait()
        with lock:
            live -= 1

    plan = Plan("purge", [delete(f"m{i}") for i in range(16)])
    outcomes = apply_plan(plan, handlers={"delete": busy}, store=store, policy=APPLY)
    assert [o.status for o in outcomes] == [Status.APPLIED] * 16
    assert peak == APPLY.max_concurrency


def test_one_failure_does_not_stop_the_others(store: SqliteStateStore) -> None:
    def picky(action: Action) -> None:
        if action.target == "bad":
            raise RuntimeError("boom")

    plan = Plan("purge", [delete("ok1"), delete("bad"), delete("ok2")])
    outcomes = apply_plan(plan, handlers={"delete": picky}, store=store, policy=APPLY)
    assert [o.status for o in outcomes] == [Status.APPLIED, Status.FAILED, Status.APPLIED]
    assert outcomes[1].detail == "unexpected RuntimeError: boom"


def test_token_bucket_paces_to_its_rate() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(RateLimit(per_second=10, burst=5), clock=lambda: now[0], sleep=sleep)
    for _ in range(25):
        bucket.acquire()
    # 5 from the burst, then 20 more at 10/s
    assert now[0] == pytest.approx(2.0, abs=1e-6)


def test_rate_limit_is_applied_per_service(store: SqliteStateStore) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    plan = Plan("purge", [delete(f"m{i}") for i in range(11)])
    apply_plan(
        plan,
        handlers={"delete": lambda a: None},
        store=store,
        policy=ExecutionPolicy(dry_run=False, max_concurrency=1),
        limits={"acr:reg": RateLimit(per_second=10, burst=1)},
        clock=lambda: now[0],
        sleep=sleep,
    )
    assert now[0] == pytest.approx(1.0, abs=1e-6)


def test_unfinished_claim_of_another_run_is_retryable_not_done(store: SqliteStateStore) -> None:
    rec = Recorder()
    action = delete("a")
    store.put_record(
        "action-claims", action.key, {"status": "in_progress", "at": datetime.now(UTC).isoformat()}, etag=None
    )
    outcomes = apply_plan(Plan("purge", [action]), handlers={"delete": rec}, store=store, policy=APPLY)
    assert [o.status for o in outcomes] == [Status.FAILED]
    assert outcomes[0].retryable
    assert failed_transiently(outcomes)
    assert rec.calls == Counter()


def test_stale_claim_of_a_dead_run_is_taken_over(store: SqliteStateStore) -> None:
    rec = Recorder()
    action = delete("a")
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    store.put_record("action-claims", action.key, {"status": "in_progress", "at": old}, etag=None)
    (outcome,) = apply_plan(Plan("purge", [action]), handlers={"delete": rec}, store=store, policy=APPLY)
    assert outcome.status is Status.APPLIED
    assert rec.calls == Counter({"a": 1})


def test_long_retry_after_gives_up_retryably_without_sleeping(store: SqliteStateStore) -> None:
    slept: list[float] = []

    def throttled(action: Action) -> None:
        raise TransientError("429", retry_after=3600)

    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": throttled},
        store=store,
        policy=APPLY,
        sleep=slept.append,
    )
    assert outcome.status is Status.FAILED
    assert outcome.retryable
    assert slept == []
    assert "asked to wait 3600s" in outcome.detail


class FlakyAuditStore(SqliteStateStore):
    """Audit writes fail with a transient error: the store is down after the effect."""

    def append_audit(self, record: AuditRecord) -> bool:
        raise TransientError("table storage 503")


def test_store_failure_after_the_effect_still_reports_the_effect(tmp_path: Path) -> None:
    store = FlakyAuditStore(str(tmp_path / "s.db"))
    rec = Recorder()
    (outcome,) = apply_plan(Plan("purge", [delete("a")]), handlers={"delete": rec}, store=store, policy=APPLY)
    assert outcome.status is Status.APPLIED
    assert "audit pending" in outcome.detail
    assert rec.calls == Counter({"a": 1})


def test_old_claims_are_pruned_and_recent_ones_kept(store: SqliteStateStore) -> None:
    plan = Plan("purge", [delete("a"), delete("b")])
    apply_plan(plan, handlers={"delete": Recorder()}, store=store, policy=APPLY)
    now = datetime.now(UTC)
    old = delete("old")
    stamp = (now - timedelta(days=40)).isoformat()
    store.put_record("action-claims", old.key, {"status": "done", "at": stamp}, etag=None)
    assert prune_claims(store, now=now, retention=timedelta(days=30)) == 1
    assert {r.key for r in store.list_records("action-claims")} == {delete("a").key, delete("b").key}
    # a pruned key may be applied again: the retention bounds how long an effect is remembered
    (again,) = apply_plan(Plan("purge", [old]), handlers={"delete": Recorder()}, store=store, policy=APPLY)
    assert again.status is Status.APPLIED


# -- crashes ----------------------------------------------------------------------------


class Died(BaseException):
    """The process dying inside a handler: nothing after this line runs."""


class Target:
    """Manifests that exist until deleted; a delete can die before or after it lands."""

    def __init__(self, *names: str) -> None:
        self.present = set(names)
        self.deletes: Counter[str] = Counter()
        self.die: dict[str, str] = {}  # target -> "before" | "after"

    def delete(self, action: Action) -> None:
        when = self.die.pop(action.target, None)
        if when == "before":
            raise Died
        if action.target not in self.present:
            raise NotFound(action.target)
        self.present.discard(action.target)
        self.deletes[action.target] += 1
        if when == "after":
            raise Died

    def verify(self, action: Action) -> bool | None:
        return action.target not in self.present


def crash(store: SqliteStateStore, target: Target, plan: Plan, *, scope: str) -> None:
    with pytest.raises(Died):
        apply_plan(
            plan,
            handlers={"delete": target.delete},
            store=store,
            policy=ExecutionPolicy(dry_run=False, max_concurrency=1),
            verifiers={"delete": target.verify},
            scope=scope,
        )


def audit_keys(store: SqliteStateStore) -> Counter[str]:
    return Counter(r.key for r in store.query_audit(limit=1000))


def test_resuming_records_an_effect_that_landed_and_releases_one_that_did_not(
    store: SqliteStateStore,
) -> None:
    target = Target("a", "b")
    landed, lost = delete("a"), delete("b")
    target.die = {"a": "after"}
    crash(store, target, Plan("purge", [landed]), scope="run/0001")
    target.die = {"b": "before"}
    crash(store, target, Plan("purge", [lost]), scope="run/0001")
    assert audit_keys(store) == Counter()  # both died before recording anything

    resolved = resolve_open_claims(
        store, capability="purge", verifiers={"delete": target.verify}, scope="run/0001", now=NOW
    )
    assert [(o.action.key, o.status, o.detail) for o in resolved] == [
        (landed.key, Status.ALREADY_DONE, RESUMED)
    ]
    assert audit_keys(store) == Counter({landed.key: 1})
    (record,) = store.query_audit(limit=10)
    assert (record.target, record.status, record.detail["note"]) == ("a", "applied", RESUMED)
    # The one that did not land stays open, unconfirmed: the dead request may still land.
    assert [r.value["status"] for r in store.list_records("action-claims-open")] == ["unconfirmed"]
    # Resolving again changes nothing; the next run applies only what did not land.
    assert (
        resolve_open_claims(
            store, capability="purge", verifiers={"delete": target.verify}, scope="run/0001", now=NOW
        )
        == []
    )
    outcomes = apply_plan(
        Plan("purge", [landed, lost]),
        handlers={"delete": target.delete},
        store=store,
        policy=APPLY,
        verifiers={"delete": target.verify},
        scope="run/0001",
    )
    assert [o.status for o in outcomes] == [Status.ALREADY_DONE, Status.APPLIED]
    assert target.deletes == Counter({"a": 1, "b": 1})
    assert audit_keys(store) == Counter({landed.key: 1, lost.key: 1})
    assert store.list_records("action-claims-open") == []


def test_an_unfinished_claim_met_while_applying_is_verified_not_waited_for(store: SqliteStateStore) -> None:
    target = Target("a", "b")
    target.die = {"a": "after"}
    crash(store, target, Plan("purge", [delete("a")]), scope="run-1")
    target.die = {"b": "before"}
    crash(store, target, Plan("purge", [delete("b")]), scope="run-1")
    # Another run (another scope) meets both claims seconds later, far inside claim_timeout.
    outcomes = apply_plan(
        Plan("purge", [delete("a"), delete("b")]),
        handlers={"delete": target.delete},
        store=store,
        policy=APPLY,
        verifiers={"delete": target.verify},
        scope="run-2",
    )
    assert [(o.status, o.detail) for o in outcomes] == [(Status.ALREADY_DONE, RESUMED), (Status.APPLIED, "")]
    assert target.deletes == Counter({"a": 1, "b": 1})
    assert audit_keys(store) == Counter({delete("a").key: 1, delete("b").key: 1})
    assert store.list_records("action-claims-open") == []  # run-1's entries were settled too


def test_a_claim_that_cannot_be_verified_stays_open(store: SqliteStateStore) -> None:
    target = Target("a")
    target.die = {"a": "after"}
    crash(store, target, Plan("purge", [delete("a")]), scope="s")
    assert (
        resolve_open_claims(
            store, capability="purge", verifiers={"delete": lambda a: None}, scope="s", now=NOW
        )
        == []
    )
    assert len(store.list_records("action-claims-open")) == 1
    (busy,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": target.delete},
        store=store,
        policy=APPLY,
        verifiers={"delete": lambda a: None},
        scope="t",
    )
    assert busy.status is Status.FAILED and busy.retryable and busy.detail == "being applied by another run"


def test_an_effect_whose_audit_write_failed_is_recorded_when_its_scope_resumes(tmp_path: Path) -> None:
    flaky = FlakyAuditStore(str(tmp_path / "s.db"))
    target = Target("a")
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": target.delete},
        store=flaky,
        policy=APPLY,
        verifiers={"delete": target.verify},
        scope="s",
        sleep=lambda _s: None,
    )
    assert "audit pending" in outcome.detail
    store = SqliteStateStore(str(tmp_path / "s.db"))  # the store is back
    resolved = resolve_open_claims(
        store, capability="purge", verifiers={"delete": target.verify}, scope="s", now=NOW
    )
    assert len(resolved) == 1 and audit_keys(store) == Counter({delete("a").key: 1})


def test_stop_starts_no_further_action(store: SqliteStateStore) -> None:
    rec = Recorder()
    plan = Plan("purge", [delete("a"), delete("b"), delete("c")])
    outcomes = apply_plan(
        plan,
        handlers={"delete": rec},
        store=store,
        policy=ExecutionPolicy(dry_run=False, max_concurrency=1),
        stop=lambda: sum(rec.calls.values()) >= 1,
    )
    assert [o.status for o in outcomes] == [Status.APPLIED, Status.FAILED, Status.FAILED]
    assert [o.detail for o in outcomes[1:]] == [INTERRUPTED, INTERRUPTED]
    assert all(o.retryable for o in outcomes[1:]) and rec.calls == Counter({"a": 1})
    assert store.list_records("action-claims-open") == []


def test_open_entries_are_pruned_with_old_claims(store: SqliteStateStore) -> None:
    target = Target("a")
    target.die = {"a": "before"}
    crash(store, target, Plan("purge", [delete("a")]), scope="s")
    assert len(store.list_records("action-claims-open")) == 1
    later = datetime.now(UTC) + timedelta(days=31)
    assert prune_claims(store, now=later, retention=timedelta(days=30)) == 2
    assert store.list_records("action-claims-open") == [] and store.list_records("action-claims") == []


def test_a_target_removed_with_an_earlier_effect_is_recorded_as_gone(store: SqliteStateStore) -> None:
    target = Target("subject", "signature", "other")
    plan = Plan("purge", [delete("subject"), delete("signature"), delete("other")])
    open_plan(store, plan, scope="s", now=NOW)

    def cascade(action: Action) -> None:  # the registry deletes referrers with their subject
        target.present.discard("signature")
        target.delete(action)

    target.die = {"subject": "after"}
    with pytest.raises(Died):
        apply_plan(
            Plan("purge", plan.actions[:1]),
            handlers={"delete": cascade},
            store=store,
            policy=APPLY,
            verifiers={"delete": target.verify},
            scope="s",
        )
    resolved = resolve_open_claims(
        store, capability="purge", verifiers={"delete": target.verify}, scope="s", now=NOW
    )
    assert sorted((o.action.target, o.detail) for o in resolved) == [
        ("signature", GONE),
        ("subject", RESUMED),
    ]
    statuses = {r.target: r.status for r in store.query_audit(limit=10)}
    assert statuses == {"subject": "applied", "signature": "already_done"}
    assert store.list_records("action-claims-open") == []  # "other" was released: still there


def test_close_plan_forgets_blocked_actions_and_keeps_interrupted_ones(store: SqliteStateStore) -> None:
    plan = Plan("purge", [delete("a"), delete("b")])
    open_plan(store, plan, scope="s", now=NOW)
    blocked = Outcome(delete("a"), Status.FAILED, detail="not attempted: its parent was not deleted")
    (interrupted,) = apply_plan(
        Plan("purge", [delete("b")]),
        handlers={"delete": Recorder()},
        store=store,
        policy=APPLY,
        stop=lambda: True,
    )
    assert interrupted.detail == INTERRUPTED
    close_plan(store, plan, [blocked, interrupted], scope="s")
    assert [r.value["action"]["target"] for r in store.list_records("action-claims-open")] == ["b"]
