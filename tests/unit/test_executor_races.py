"""The executor's race, outage and pacing paths, forced with barriers and fakes (never sleeps).

Cases: two runs racing over one stale claim apply the action once (the takeover is
conditional on the claim's ETag), and the loser reports "being applied by another run",
retryably; a claim exactly as old as the claim timeout is stale, one instant younger is
not; a store outage while claiming (on the write, or on the read after a conflict) applies
nothing and is a retryable, transient failure; a claim released between the conflict and
the read is claimed again; a "done" claim is "applied before"; after an idle period the
token bucket refills only up to its burst; a per-minute limit derives its burst; a plan
naming a kind with no handler is refused whole before anything is claimed or applied
(but a dry run or the kill switch still reports it); back-off doubles up to its bound;
the audit write is retried before its failure is reported with the effect; a partly refilled
bucket waits only for the rest of a token; a per-minute burst is a whole number; pruning
leaves a claim that a live run rewrote after it was listed.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import Conflict, OpsError, TransientError
from ops.executor import (
    ExecutionPolicy,
    RateLimit,
    TokenBucket,
    apply_plan,
    failed_transiently,
    prune_claims,
)
from ops.plan import Action, Plan, Status
from ops.state.sqlite import SqliteStateStore
from ops.state.store import AuditRecord, Record

CLAIMS = "action-claims"
APPLY = ExecutionPolicy(dry_run=False, max_concurrency=1, backoff_s=0.0)
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def delete(target: str) -> Action:
    return Action("delete", target, reason="expired", service="acr:reg", missing_ok=True)


class Recorder:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, action: Action) -> None:
        with self.lock:
            self.calls[action.target] += 1


class RacingStore(SqliteStateStore):
    """Every reader of a claim waits for the other run to have read it too: both see the
    same stale claim, with the same ETag, before either tries to take it over."""

    def __init__(self, path: str, parties: int) -> None:
        super().__init__(path)
        self.barrier = threading.Barrier(parties, timeout=5)

    def get_record(self, table: str, key: str) -> Record | None:
        record = super().get_record(table, key)
        if table == CLAIMS:
            self.barrier.wait()
        return record


def stale_claim(store: SqliteStateStore, action: Action, age: timedelta) -> None:
    stamp = (NOW - age).isoformat()
    store.put_record(CLAIMS, action.key, {"status": "in_progress", "at": stamp}, etag=None)


def test_two_runs_racing_a_stale_claim_apply_once(tmp_path: Path) -> None:
    store = RacingStore(str(tmp_path / "s.db"), parties=2)
    action = delete("a")
    stale_claim(store, action, timedelta(hours=1))
    rec = Recorder()
    outcomes: list[Any] = []

    def run() -> None:
        result = apply_plan(
            Plan("purge", [action]), handlers={"delete": rec}, store=store, policy=APPLY, now=lambda: NOW
        )
        outcomes.extend(result)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not store.barrier.broken  # both runs did read the stale claim
    assert rec.calls == Counter({"a": 1})
    by_status = {o.status: o for o in outcomes}
    assert sorted(by_status) == sorted([Status.APPLIED, Status.FAILED])
    loser = by_status[Status.FAILED]
    assert loser.retryable
    assert loser.detail == "being applied by another run"
    assert len(store.query_audit()) == 1


@pytest.mark.parametrize(
    ("age", "taken_over"),
    [
        pytest.param(timedelta(minutes=15), True, id="exactly-the-timeout-is-stale"),
        pytest.param(
            timedelta(minutes=15) - timedelta(microseconds=1), False, id="an-instant-younger-is-held"
        ),
    ],
)
def test_claim_timeout_boundary(tmp_path: Path, age: timedelta, taken_over: bool) -> None:
    store = SqliteStateStore(str(tmp_path / "s.db"))
    action = delete("a")
    stale_claim(store, action, age)
    rec = Recorder()
    (outcome,) = apply_plan(
        Plan("purge", [action]), handlers={"delete": rec}, store=store, policy=APPLY, now=lambda: NOW
    )
    assert (outcome.status is Status.APPLIED) is taken_over
    assert rec.calls["a"] == (1 if taken_over else 0)
    if not taken_over:
        assert outcome.retryable and outcome.detail == "being applied by another run"


class DownStore(SqliteStateStore):
    """The state store is unreachable for claims: on the write, or on the read after a conflict."""

    def __init__(self, path: str, *, on: str) -> None:
        super().__init__(path)
        self.on = on

    def put_record(self, table: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> Record:
        if table == CLAIMS and self.on == "put":
            raise TransientError("table storage 503")
        return super().put_record(table, key, value, etag=etag)

    def get_record(self, table: str, key: str) -> Record | None:
        if table == CLAIMS and self.on == "get":
            raise TransientError("table storage 503")
        return super().get_record(table, key)


@pytest.mark.parametrize("on", ["put", "get"])
def test_store_outage_while_claiming_is_retryable_and_applies_nothing(tmp_path: Path, on: str) -> None:
    store = DownStore(str(tmp_path / "s.db"), on=on)
    action = delete("a")
    if on == "get":  # the write conflicts with an earlier claim, then the read fails
        SqliteStateStore.put_record(store, CLAIMS, action.key, {"status": "in_progress"}, etag=None)
    rec = Recorder()
    outcomes = apply_plan(Plan("purge", [action]), handlers={"delete": rec}, store=store, policy=APPLY)
    assert [o.status for o in outcomes] == [Status.FAILED]
    assert outcomes[0].retryable
    assert outcomes[0].attempts == 0
    assert outcomes[0].detail == "could not claim: table storage 503"
    assert failed_transiently(outcomes)
    assert rec.calls == Counter()
    assert store.query_audit() == []


class ReleasingStore(SqliteStateStore):
    """The first claim write conflicts, and the holder releases it before we read it."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.conflicts = 0

    def put_record(self, table: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> Record:
        if table == CLAIMS and etag is None and self.conflicts == 0:
            self.conflicts += 1
            raise Conflict("exists")
        return super().put_record(table, key, value, etag=etag)


def test_a_claim_released_between_conflict_and_read_is_claimed_again(tmp_path: Path) -> None:
    store = ReleasingStore(str(tmp_path / "s.db"))
    rec = Recorder()
    (outcome,) = apply_plan(Plan("purge", [delete("a")]), handlers={"delete": rec}, store=store, policy=APPLY)
    assert outcome.status is Status.APPLIED
    assert store.conflicts == 1
    assert rec.calls == Counter({"a": 1})
    assert store.get_record(CLAIMS, delete("a").key).value["status"] == "done"  # type: ignore[union-attr]


def test_a_done_claim_is_applied_before(tmp_path: Path) -> None:
    store = SqliteStateStore(str(tmp_path / "s.db"))
    action = delete("a")
    store.put_record(CLAIMS, action.key, {"status": "done", "at": NOW.isoformat()}, etag=None)
    rec = Recorder()
    (outcome,) = apply_plan(Plan("purge", [action]), handlers={"delete": rec}, store=store, policy=APPLY)
    assert outcome.status is Status.ALREADY_DONE
    assert outcome.detail == "applied before (same idempotency key)"
    assert not outcome.retryable
    assert rec.calls == Counter()


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_bucket_refills_only_up_to_its_burst_after_idle() -> None:
    t = FakeTime()
    bucket = TokenBucket(RateLimit(per_second=10, burst=5), clock=t.clock, sleep=t.sleep)
    for _ in range(5):
        bucket.acquire()
    assert t.slept == []  # the burst goes at once
    t.now += 100.0  # idle long enough to earn 1,000 tokens, of which only 5 may be kept
    start = t.now
    for _ in range(25):
        bucket.acquire()
    # 5 from the refilled burst, then 20 more at 10/s: 2 s, not 0
    assert t.now - start == pytest.approx(2.0, abs=1e-6)
    assert len(t.slept) == 20
    assert all(s == pytest.approx(0.1, abs=1e-6) for s in t.slept)


def test_bucket_of_burst_one_paces_every_call_after_the_first() -> None:
    t = FakeTime()
    bucket = TokenBucket(RateLimit(per_second=4, burst=1), clock=t.clock, sleep=t.sleep)
    for _ in range(3):
        bucket.acquire()
    assert t.slept == pytest.approx([0.25, 0.25])


@pytest.mark.parametrize(
    ("count", "burst", "want"),
    [
        pytest.param(600, None, RateLimit(per_second=10.0, burst=10), id="burst-is-a-second-of-rate"),
        pytest.param(30, None, RateLimit(per_second=0.5, burst=1), id="at-least-one"),
        pytest.param(600, 3, RateLimit(per_second=10.0, burst=3), id="explicit-burst"),
    ],
)
def test_per_minute_limit(count: int, burst: int | None, want: RateLimit) -> None:
    assert RateLimit.per_minute(count, burst=burst) == want


def test_plan_with_a_missing_handler_is_refused_whole(tmp_path: Path) -> None:
    store = SqliteStateStore(str(tmp_path / "s.db"))
    rec = Recorder()
    plan = Plan(
        "purge",
        [
            delete("a"),
            Action("untag", "b", reason="r", service="acr:reg"),
            Action("zap", "c", reason="r", service="acr:reg"),
        ],
    )
    with pytest.raises(OpsError, match=r"^no handler for action kind\(s\): untag, zap$"):
        apply_plan(plan, handlers={"delete": rec}, store=store, policy=APPLY)
    assert rec.calls == Counter()
    assert store.list_records(CLAIMS) == []
    assert store.query_audit() == []
    dry = apply_plan(plan, handlers={"delete": rec}, store=store, policy=ExecutionPolicy(dry_run=True))
    assert [o.status for o in dry] == [Status.DRY_RUN] * 3
    halted = apply_plan(
        plan, handlers={"delete": rec}, store=store, policy=ExecutionPolicy(dry_run=False, kill_switch=True)
    )
    assert [o.status for o in halted] == [Status.HALTED] * 3
    assert [o.detail for o in halted] == ["kill switch is on"] * 3
    assert rec.calls == Counter()


def test_backoff_doubles_up_to_its_bound(tmp_path: Path) -> None:
    store = SqliteStateStore(str(tmp_path / "s.db"))
    slept: list[float] = []

    def always(action: Action) -> None:
        raise TransientError("503")

    policy = ExecutionPolicy(dry_run=False, max_attempts=6, backoff_s=1.0, max_backoff_s=5.0)
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": always},
        store=store,
        policy=policy,
        sleep=slept.append,
    )
    assert slept == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert outcome.status is Status.FAILED and outcome.retryable
    assert outcome.detail == "gave up after 6 attempts: 503"


class FlakyAuditStore(SqliteStateStore):
    """The audit write fails ``failures`` times, then works."""

    def __init__(self, path: str, failures: int) -> None:
        super().__init__(path)
        self.failures = failures
        self.tries = 0

    def append_audit(self, record: AuditRecord) -> bool:
        self.tries += 1
        if self.tries <= self.failures:
            raise TransientError("table storage 503", retry_after=0.5)
        return super().append_audit(record)


@pytest.mark.parametrize(("failures", "recorded"), [(2, True), (3, False)])
def test_audit_write_is_retried_before_it_is_reported_pending(
    tmp_path: Path, failures: int, recorded: bool
) -> None:
    store = FlakyAuditStore(str(tmp_path / "s.db"), failures)
    slept: list[float] = []
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": Recorder()},
        store=store,
        policy=APPLY,
        sleep=slept.append,
    )
    assert outcome.status is Status.APPLIED
    assert store.tries == 3
    assert slept == [0.5, 0.5]
    claim = store.get_record(CLAIMS, delete("a").key)
    assert claim is not None
    if recorded:
        assert outcome.detail == ""
        assert claim.value["status"] == "done"
        (audit,) = store.query_audit()
        assert (audit.status, audit.detail["attempts"]) == ("applied", 1)
    else:
        assert outcome.detail == "audit pending: table storage 503"
        assert claim.value["status"] == "in_progress"  # a later run re-applies, harmlessly


def test_a_partly_refilled_bucket_waits_only_for_the_rest_of_a_token() -> None:
    t = FakeTime()
    bucket = TokenBucket(RateLimit(per_second=4, burst=1), clock=t.clock, sleep=t.sleep)
    bucket.acquire()
    t.now += 0.125  # half a token earned
    bucket.acquire()
    assert t.slept == pytest.approx([0.125])


def test_a_per_minute_burst_is_a_whole_number_of_calls() -> None:
    limit = RateLimit.per_minute(90)
    assert limit == RateLimit(per_second=1.5, burst=1)
    assert isinstance(limit.burst, int)


class ChangedWhileListed(SqliteStateStore):
    """A claim rewritten by a live run between the listing and the delete."""

    def list_records(self, table: str, *, prefix: str = "") -> Any:
        listed = super().list_records(table, prefix=prefix)
        if table == CLAIMS:
            for record in listed:
                super().put_record(table, record.key, {**record.value, "status": "in_progress"}, etag="*")
        return listed


def test_pruning_leaves_a_claim_that_changed_after_it_was_listed(tmp_path: Path) -> None:
    store = ChangedWhileListed(str(tmp_path / "s.db"))
    old = (NOW - timedelta(days=40)).isoformat()
    store.put_record(CLAIMS, "k", {"status": "done", "at": old}, etag=None)
    assert prune_claims(store, now=NOW, retention=timedelta(days=30)) == 0
    assert store.get_record(CLAIMS, "k") is not None
