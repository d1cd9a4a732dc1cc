"""The executor's outcomes, records and logs, exactly: what operators and the audit log see.

Cases: dry-run, duplicate and cap messages; the kill switch's log line; where actions run
(one action, or a concurrency of one, in the caller's thread; several in at most
max_concurrency pool threads); a NotFound's attempts and detail (done when missing_ok,
failed otherwise), an unexpected error is not retryable; the audit record (key, params,
attempts, note) and the claim records (capability, status); a failure whose claim cannot
be released is still reported; the error log lines name kind and target; only a failed,
retryable outcome asks for redelivery; pruning claims: exactly the retention is old enough,
an unreadable time is old, and a claim that changed or went meanwhile is skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import CapExceeded, Conflict, NotFound, TransientError
from ops.executor import ExecutionPolicy, apply_plan, failed_transiently, prune_claims
from ops.plan import Action, Outcome, Plan, Status
from ops.state.sqlite import SqliteStateStore

CLAIMS = "action-claims"
APPLY = ExecutionPolicy(dry_run=False, max_concurrency=4, backoff_s=0.0)


def delete(target: str, *, missing_ok: bool = True) -> Action:
    return Action(
        "delete", target, reason="expired", service="acr:reg", params={"n": 1}, missing_ok=missing_ok
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(str(tmp_path / "state.db"))


def noop(action: Action) -> None:
    return None


def test_dry_run_and_duplicate_details(store: SqliteStateStore) -> None:
    plan = Plan("purge", [delete("a"), delete("a")])
    dry = apply_plan(plan, handlers={"delete": noop}, store=store, policy=ExecutionPolicy())
    assert [o.detail for o in dry] == ["dry run", "dry run"]
    applied = apply_plan(plan, handlers={"delete": noop}, store=store, policy=APPLY)
    assert [(o.status, o.detail) for o in applied] == [
        (Status.APPLIED, ""),
        (Status.ALREADY_DONE, "duplicate in plan"),
    ]


def test_cap_message_is_exact(store: SqliteStateStore) -> None:
    plan = Plan("purge", [delete("a"), delete("b")], cap=1)
    with pytest.raises(CapExceeded) as error:
        apply_plan(plan, handlers={"delete": noop}, store=store, policy=APPLY)
    assert str(error.value) == (
        "purge plan has 2 actions, over its cap of 1; nothing was applied. "
        "Narrow the policy, or raise the cap deliberately."
    )


def test_kill_switch_logs_what_it_held_back(
    store: SqliteStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="ops.executor"):
        apply_plan(
            Plan("purge", [delete("a"), delete("b")]),
            handlers={"delete": noop},
            store=store,
            policy=ExecutionPolicy(dry_run=False, kill_switch=True),
        )
    assert "kill switch is on: 2 purge action(s) planned, none applied" in caplog.messages


@pytest.mark.parametrize(
    ("count", "concurrency", "in_caller"),
    [
        pytest.param(1, 4, True, id="one-action-runs-in-the-caller"),
        pytest.param(3, 1, True, id="concurrency-one-runs-in-the-caller"),
        pytest.param(2, 4, False, id="several-run-in-the-pool"),
    ],
)
def test_where_actions_run(store: SqliteStateStore, count: int, concurrency: int, in_caller: bool) -> None:
    threads: list[int] = []

    def where(action: Action) -> None:
        threads.append(threading.get_ident())

    policy = ExecutionPolicy(dry_run=False, max_concurrency=concurrency)
    apply_plan(
        Plan("purge", [delete(f"m{i}") for i in range(count)]),
        handlers={"delete": where},
        store=store,
        policy=policy,
    )
    caller = threading.get_ident()
    assert len(threads) == count
    assert all((t == caller) is in_caller for t in threads)


def test_the_pool_has_max_concurrency_threads(store: SqliteStateStore) -> None:
    threads: set[int] = set()
    lock = threading.Lock()
    together = threading.Barrier(APPLY.max_concurrency, timeout=5)

    def busy(action: Action) -> None:
        with lock:
            threads.add(threading.get_ident())
        together.wait()

    outcomes = apply_plan(
        Plan("purge", [delete(f"m{i}") for i in range(16)]),
        handlers={"delete": busy},
        store=store,
        policy=APPLY,
    )
    assert [o.status for o in outcomes] == [Status.APPLIED] * 16
    assert len(threads) == APPLY.max_concurrency


def gone(action: Action) -> None:
    raise NotFound("manifest unknown")


def test_not_found_outcomes_are_exact(store: SqliteStateStore) -> None:
    plan = Plan("purge", [delete("a"), delete("b", missing_ok=False)])
    done, failed = apply_plan(plan, handlers={"delete": gone}, store=store, policy=APPLY)
    assert (done.status, done.attempts, done.detail) == (
        Status.ALREADY_DONE,
        1,
        "already gone: manifest unknown",
    )
    assert (failed.status, failed.attempts, failed.detail, failed.retryable) == (
        Status.FAILED,
        1,
        "not found: manifest unknown",
        False,
    )
    (audit,) = store.query_audit()
    assert audit.status == "already_done"
    assert audit.detail == {"params": {"n": 1}, "attempts": 1, "note": "already gone: manifest unknown"}


def test_unexpected_errors_are_not_retryable_and_are_logged(
    store: SqliteStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(action: Action) -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="ops.executor"):
        (outcome,) = apply_plan(
            Plan("purge", [delete("a")]), handlers={"delete": boom}, store=store, policy=APPLY
        )
    assert (outcome.status, outcome.attempts, outcome.detail, outcome.retryable) == (
        Status.FAILED,
        1,
        "unexpected RuntimeError: boom",
        False,
    )
    assert "delete a failed: unexpected RuntimeError: boom" in caplog.messages
    assert not failed_transiently([outcome])


def test_long_retry_after_fails_after_one_attempt(store: SqliteStateStore) -> None:
    def throttled(action: Action) -> None:
        raise TransientError("429", retry_after=3600)

    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": throttled},
        store=store,
        policy=APPLY,
        sleep=lambda s: None,
    )
    assert (outcome.attempts, outcome.detail) == (1, "asked to wait 3600s, longer than 60s: 429")


def test_audit_and_claim_records_are_exact(store: SqliteStateStore) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    action = delete("a")
    (outcome,) = apply_plan(
        Plan("purge", [action]), handlers={"delete": noop}, store=store, policy=APPLY, now=lambda: now
    )
    assert outcome.status is Status.APPLIED
    (audit,) = store.query_audit()
    assert (audit.key, audit.capability, audit.kind, audit.target, audit.reason, audit.status) == (
        action.key,
        "purge",
        "delete",
        "a",
        "expired",
        "applied",
    )
    assert audit.detail == {"params": {"n": 1}, "attempts": 1, "note": ""}
    claim = store.get_record(CLAIMS, action.key)
    assert claim is not None
    assert claim.value == {"status": "done", "at": now.isoformat(), "capability": "purge"}


class Watching(SqliteStateStore):
    """Remembers the claim as it stood while the action ran."""

    seen: dict[str, Any] | None = None


def test_the_claim_in_progress_names_its_capability(tmp_path: Path) -> None:
    store = Watching(str(tmp_path / "s.db"))
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    action = delete("a")

    def look(a: Action) -> None:
        record = store.get_record(CLAIMS, a.key)
        store.seen = None if record is None else dict(record.value)

    apply_plan(Plan("purge", [action]), handlers={"delete": look}, store=store, policy=APPLY, now=lambda: now)
    assert store.seen is not None
    seen = {k: store.seen.get(k) for k in ("status", "at", "capability")}
    assert seen == {"status": "in_progress", "at": now.isoformat(), "capability": "purge"}


class StuckClaims(SqliteStateStore):
    """Claims can be written but not deleted: the store went down after the failure."""

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        raise TransientError("table storage 503")


def test_a_failure_whose_claim_cannot_be_released_is_still_reported(tmp_path: Path) -> None:
    store = StuckClaims(str(tmp_path / "s.db"))

    def boom(action: Action) -> None:
        raise RuntimeError("boom")

    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]), handlers={"delete": boom}, store=store, policy=APPLY
    )
    assert (outcome.status, outcome.detail) == (Status.FAILED, "unexpected RuntimeError: boom")


class DeafAudit(SqliteStateStore):
    def append_audit(self, record: Any) -> bool:
        raise TransientError("table storage 503")


def test_an_unrecorded_effect_is_logged_with_its_kind_and_target(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = DeafAudit(str(tmp_path / "s.db"))
    with caplog.at_level(logging.ERROR, logger="ops.executor"):
        (outcome,) = apply_plan(
            Plan("purge", [delete("a")]),
            handlers={"delete": noop},
            store=store,
            policy=APPLY,
            sleep=lambda s: None,
        )
    assert outcome.detail == "audit pending: table storage 503"
    assert "delete a applied, but recording it failed: table storage 503" in caplog.messages


@pytest.mark.parametrize(
    ("status", "retryable", "want"),
    [
        (Status.FAILED, True, True),
        (Status.FAILED, False, False),
        (Status.APPLIED, True, False),
    ],
)
def test_only_failed_retryable_outcomes_ask_for_redelivery(
    status: Status, retryable: bool, want: bool
) -> None:
    assert failed_transiently([Outcome(delete("a"), status, retryable=retryable)]) is want


def put_claim(store: SqliteStateStore, key: str, at: str) -> None:
    store.put_record(CLAIMS, key, {"status": "done", "at": at}, etag=None)


def test_pruning_at_the_retention_boundary(store: SqliteStateStore) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    put_claim(store, "exact", (now - timedelta(days=30)).isoformat())
    put_claim(store, "younger", (now - timedelta(days=30) + timedelta(microseconds=1)).isoformat())
    put_claim(store, "unreadable", "not a time")
    assert prune_claims(store, now=now, retention=timedelta(days=30)) == 2
    assert [r.key for r in store.list_records(CLAIMS)] == ["younger"]


class ChangingClaims(SqliteStateStore):
    """Each delete finds the claim changed (Conflict) or gone (NotFound) meanwhile."""

    def __init__(self, path: str, errors: Mapping[str, Exception]) -> None:
        super().__init__(path)
        self.errors = errors

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        if key in self.errors:
            raise self.errors[key]
        super().delete_record(table, key, etag=etag)


def test_pruning_skips_claims_that_changed_or_went(tmp_path: Path) -> None:
    store = ChangingClaims(str(tmp_path / "s.db"), {"changed": Conflict("etag"), "went": NotFound("gone")})
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    for key in ("changed", "went", "old"):
        put_claim(store, key, (now - timedelta(days=40)).isoformat())
    assert prune_claims(store, now=now, retention=timedelta(days=30)) == 1
    assert [r.key for r in store.list_records(CLAIMS)] == ["changed", "went"]
