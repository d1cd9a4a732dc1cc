"""Resuming what a crashed attempt left open, entry by entry (ops.executor), with open
entries and claims written directly into a real SQLite state store.

Cases:
- an open claim reads back as the action it was taken for (missing_ok and params kept;
  absent ones default to False and {});
- resolve_open_claims: an entry of another capability, or of another scope, is left alone;
  with no scope every scope of the capability is resolved, and ``older_than`` skips entries
  opened at or after it; an entry whose claim is done, missing, or now another run's is
  forgotten without asking the target; an effect that landed is recorded once as applied
  (in flight) or already done (only planned, target gone) with its params and note; one that
  did not land has its claim released and its entry kept, unconfirmed (forgotten when no
  scope is named), unless another run took the claim over meanwhile; an unverifiable entry
  (no verifier, or "cannot tell") stays open;
- settle_unconfirmed keeps to its scope, goes past entries it cannot tell (or has no
  verifier for) and records a landed one with no attempts and a log line; once the attempt
  applied its plan: a dead run's delete that lands
  after the resume check and before the attempt lists its target (so the new plan lacks
  it) is recorded once, as applied; one that never landed is forgotten unrecorded; one
  whose target the new plan acts on is left to that plan's record; other entries are
  left alone;
- while applying, another run's unfinished claim whose effect landed is recorded as applied
  (resumed) and settles that run's open entry; a verifier that fails is a retryable failure
  that leaves the claim alone; "cannot tell" is busy;
- with the unnamed scope a done claim is settled by its status, and the next entry is still
  resolved; a failed action releases its claim and its open entry; opening a plan writes one
  planned entry per key and may be repeated; an interruption is described by the actions
  started (attempted, or failed claiming) and how many of them are done; resolving logs each
  entry it settles and each it cannot verify, and goes on past the latter; the caller's
  identity is kept in the audit record (and only then); an audit write failing without a
  Retry-After is retried after the back-off; a claim met as done or busy (young, verified as
  cannot tell, or a takeover lost) leaves no open entry of ours; through a crash, the unnamed
  scope keeps its open entry, and a stale claim of our own scope is taken over (the claim now
  ours) and kept open; a stop given to the call or in the policy stops the run before any
  attempt; an open entry that cannot be forgotten changes no outcome; entries in flight are
  verified before planned ones, so a dead run's delete that lands while resolving (taking a
  referrer with it) leaves a record for the referrer too, whichever entry is listed first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import Conflict, OpsError, TransientError
from ops.executor import (
    GONE,
    INTERRUPTED,
    RESUMED,
    UNCONFIRMED,
    ExecutionPolicy,
    action_of,
    apply_plan,
    claim_value,
    describe_interruption,
    open_key,
    open_plan,
    resolve_open_claims,
    settle_unconfirmed,
)
from ops.plan import Action, Outcome, Plan, Status
from ops.state.sqlite import SqliteStateStore

OPEN = "action-claims-open"
CLAIMS = "action-claims"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
APPLY = ExecutionPolicy(dry_run=False, max_concurrency=1, backoff_s=0.0)


def delete(target: str, **params: Any) -> Action:
    return Action("delete", target, reason="expired", service="acr:reg", params=params, missing_ok=True)


@pytest.fixture
def store(tmp_path: Path) -> SqliteStateStore:
    return SqliteStateStore(str(tmp_path / "state.db"))


def leave_open(
    store: SqliteStateStore,
    action: Action,
    *,
    capability: str = "purge",
    scope: str = "run-1",
    at: datetime = NOW,
    planned: bool = False,
    claimed: bool = True,
) -> str:
    """What a crash leaves: the open entry, and (unless only planned) the claim in progress."""
    value = claim_value(action, capability=capability, scope=scope, at=at)
    key = open_key(capability, scope, action.key)
    store.put_record(OPEN, key, {**value, "status": "planned"} if planned else value, etag="*")
    if claimed:
        store.put_record(CLAIMS, action.key, value, etag="*")
    return key


def landed(action: Action) -> bool:
    return True


def not_landed(action: Action) -> bool:
    return False


def resolve(store: SqliteStateStore, verify: Any = landed, **kw: Any) -> list[tuple[str, Status, str]]:
    kw.setdefault("scope", "run-1")
    outcomes = resolve_open_claims(store, capability="purge", verifiers={"delete": verify}, now=NOW, **kw)
    return [(o.action.target, o.status, o.detail) for o in outcomes]


def audit(store: SqliteStateStore) -> list[tuple[str, str, str, Mapping[str, Any]]]:
    return [(r.target, r.status, r.capability, r.detail) for r in store.query_audit(limit=100)]


def test_an_open_claim_reads_back_as_its_action() -> None:
    action = Action("delete", "a", "expired", "acr:reg", params={"digest": "sha256:1"}, missing_ok=True)
    value = claim_value(action, capability="purge", scope="s", at=NOW)
    assert action_of(value) == action
    bare = {"kind": "k", "target": "t", "reason": "r", "service": "s", "key": "abc"}
    assert action_of({"action": {**bare, "params": None}}) == Action("k", "t", "r", "s", {}, "abc", False)
    assert action_of({"action": bare}).missing_ok is False


def test_a_landed_effect_is_recorded_once_with_its_params_and_note(store: SqliteStateStore) -> None:
    action = delete("a", digest="sha256:1")
    leave_open(store, action)
    assert resolve(store) == [("a", Status.ALREADY_DONE, RESUMED)]
    assert audit(store) == [
        ("a", "applied", "purge", {"params": {"digest": "sha256:1"}, "attempts": 0, "note": RESUMED})
    ]
    assert store.get_record(CLAIMS, action.key).value["status"] == "done"  # type: ignore[union-attr]
    assert store.list_records(OPEN) == []
    assert resolve(store) == []


def test_a_planned_action_whose_target_is_gone_is_recorded_already_done(store: SqliteStateStore) -> None:
    leave_open(store, delete("a"), planned=True, claimed=False)
    assert resolve(store) == [("a", Status.ALREADY_DONE, GONE)]
    assert [(t, s) for t, s, _c, _d in audit(store)] == [("a", "already_done")]


def test_an_effect_that_did_not_land_is_released(store: SqliteStateStore) -> None:
    action = delete("a")
    key = leave_open(store, action)
    assert resolve(store, not_landed) == []
    assert store.get_record(CLAIMS, action.key) is None
    assert [(r.key, r.value["status"]) for r in store.list_records(OPEN)] == [(key, UNCONFIRMED)]
    assert audit(store) == []
    # Resolved again (the attempt crashed too): still released, still unconfirmed, unrecorded.
    assert resolve(store, not_landed) == []
    assert [r.value["status"] for r in store.list_records(OPEN)] == [UNCONFIRMED]
    assert store.get_record(CLAIMS, action.key) is None and audit(store) == []


def test_with_no_scope_an_effect_that_did_not_land_is_forgotten(store: SqliteStateStore) -> None:
    action = delete("a")
    leave_open(store, action)
    assert resolve(store, not_landed, scope=None) == []
    assert store.get_record(CLAIMS, action.key) is None
    assert store.list_records(OPEN) == [] and audit(store) == []


def test_a_dead_runs_delete_landing_after_the_resume_check_is_recorded_once(
    store: SqliteStateStore,
) -> None:
    late, never = delete("reg/a@late", digest="late"), delete("reg/a@never", digest="never")
    leave_open(store, late)
    leave_open(store, never)
    present = {"late", "never"}

    def verify(action: Action) -> bool:
        return action.params["digest"] not in present

    assert resolve(store, verify) == []  # both still there when the attempt resumes
    present.discard("late")  # the dead run's request lands; the attempt then lists, and plans neither
    plan = Plan("purge", (delete("reg/a@other", digest="other"),))
    settled = settle_unconfirmed(store, plan, scope="run-1", verifiers={"delete": verify}, now=NOW)
    assert [(o.action.target, o.status, o.detail) for o in settled] == [
        (late.target, Status.ALREADY_DONE, RESUMED)
    ]
    assert [(t, s, d["note"]) for t, s, _c, d in audit(store)] == [(late.target, "applied", RESUMED)]
    assert store.list_records(OPEN) == []
    assert settle_unconfirmed(store, plan, scope="run-1", verifiers={"delete": verify}, now=NOW) == []
    assert len(audit(store)) == 1


def test_an_unconfirmed_target_the_new_plan_acts_on_is_left_to_its_record(store: SqliteStateStore) -> None:
    old = delete("reg/a@d", digest="d")
    leave_open(store, old, scope="inline")
    assert resolve(store, not_landed, scope="inline") == []
    other = leave_open(store, delete("reg/a@e", digest="e"), scope="inline", planned=True, claimed=False)
    again = Action("delete", old.target, "expired", "acr:reg", {"digest": "d", "run": "2"}, missing_ok=True)
    assert again.key != old.key  # another run's plan: another key, the same target
    settled = settle_unconfirmed(
        store, Plan("purge", (again,)), scope="inline", verifiers={"delete": landed}, now=NOW
    )
    assert settled == [] and audit(store) == []
    assert [r.key for r in store.list_records(OPEN)] == [other]  # not unconfirmed: left alone


def test_a_planned_action_still_there_is_forgotten(store: SqliteStateStore) -> None:
    leave_open(store, delete("a"), planned=True, claimed=False)
    assert resolve(store, not_landed) == []
    assert store.list_records(OPEN) == [] and audit(store) == []


class TakenOver(SqliteStateStore):
    """Another run takes the claim over between our read and our release."""

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        if table == CLAIMS and etag is not None:
            raise Conflict(f"{key} was taken over")
        super().delete_record(table, key, etag=etag)


def test_a_claim_taken_over_meanwhile_is_not_released(tmp_path: Path) -> None:
    store = TakenOver(str(tmp_path / "state.db"))
    action = delete("a")
    leave_open(store, action)
    assert resolve(store, not_landed) == []
    assert store.get_record(CLAIMS, action.key) is not None
    assert store.list_records(OPEN) == []


@pytest.mark.parametrize("verify", [None, "cannot tell"])
def test_an_unverifiable_entry_stays_open(store: SqliteStateStore, verify: str | None) -> None:
    leave_open(store, delete("a"))
    verifiers = {} if verify is None else {"delete": lambda action: None}
    assert resolve_open_claims(store, capability="purge", verifiers=verifiers, scope="run-1", now=NOW) == []
    assert len(store.list_records(OPEN)) == 1 and audit(store) == []


@pytest.mark.parametrize(
    ("claim", "why"),
    [
        ({"status": "done", "at": NOW.isoformat(), "capability": "purge"}, "done"),
        (None, "missing"),
        ("another run's", "another run's"),
    ],
)
def test_an_entry_whose_claim_is_settled_is_forgotten_unasked(
    store: SqliteStateStore, claim: Any, why: str
) -> None:
    action = delete("a")
    leave_open(store, action, claimed=False)
    if claim == "another run's":
        other = claim_value(action, capability="purge", scope="run-2", at=NOW)
        store.put_record(CLAIMS, action.key, other, etag="*")
    elif claim is not None:
        store.put_record(CLAIMS, action.key, claim, etag="*")

    def asked(action: Action) -> bool:
        raise AssertionError(f"a {why} claim needs no verification")

    assert resolve(store, asked) == []
    assert store.list_records(OPEN) == [] and audit(store) == []


def test_only_the_capability_and_scope_asked_for_are_resolved(store: SqliteStateStore) -> None:
    leave_open(store, delete("a"), scope="run-1")
    leave_open(store, delete("b"), scope="run-2")
    leave_open(store, delete("c"), capability="purgex", scope="run-1")
    assert resolve(store) == [("a", Status.ALREADY_DONE, RESUMED)]
    assert sorted(r.key for r in store.list_records(OPEN)) == sorted(
        [open_key("purge", "run-2", delete("b").key), open_key("purgex", "run-1", delete("c").key)]
    )
    assert resolve(store, scope=None) == [("b", Status.ALREADY_DONE, RESUMED)]
    assert [r.key for r in store.list_records(OPEN)] == [open_key("purgex", "run-1", delete("c").key)]


def test_older_than_skips_entries_opened_at_or_after_it(store: SqliteStateStore) -> None:
    cutoff = NOW
    leave_open(store, delete("at"), scope="a", at=cutoff)
    leave_open(store, delete("before"), scope="b", at=cutoff - timedelta(microseconds=1))
    assert resolve(store, scope=None, older_than=cutoff) == [("before", Status.ALREADY_DONE, RESUMED)]
    assert [r.value["scope"] for r in store.list_records(OPEN)] == ["a"]


# -- met while applying ----------------------------------------------------------------------


def run(
    store: SqliteStateStore, action: Action, verify: Any, *, scope: str = "run-2"
) -> tuple[Status, str, bool]:
    applied: list[str] = []
    (outcome,) = apply_plan(
        Plan("purge", [action]),
        handlers={"delete": lambda a: applied.append(a.target)},
        store=store,
        policy=APPLY,
        verifiers={"delete": verify},
        scope=scope,
        now=lambda: NOW + timedelta(seconds=5),
    )
    assert applied == ([action.target] if outcome.status is Status.APPLIED else [])
    return outcome.status, outcome.detail, outcome.retryable


def test_another_runs_landed_effect_is_recorded_and_its_entry_settled(store: SqliteStateStore) -> None:
    action = delete("a", digest="sha256:1")
    leave_open(store, action, scope="run-1")
    assert run(store, action, landed) == (Status.ALREADY_DONE, RESUMED, False)
    assert audit(store) == [
        ("a", "applied", "purge", {"params": {"digest": "sha256:1"}, "attempts": 0, "note": RESUMED})
    ]
    assert store.list_records(OPEN) == []


def test_a_failing_verifier_is_retryable_and_leaves_the_claim(store: SqliteStateStore) -> None:
    action = delete("a")
    leave_open(store, action, scope="run-1")

    def down(action: Action) -> bool:
        raise TransientError("registry unavailable")

    status, detail, retryable = run(store, action, down)
    assert (status, detail, retryable) == (
        Status.FAILED,
        "could not verify a claim: registry unavailable",
        True,
    )
    assert store.get_record(CLAIMS, action.key).value["scope"] == "run-1"  # type: ignore[union-attr]
    assert [r.value["scope"] for r in store.list_records(OPEN)] == ["run-1"]  # ours was forgotten
    (outcome,) = apply_plan(
        Plan("purge", [action]),
        handlers={"delete": dies},
        store=store,
        policy=APPLY,
        verifiers={"delete": down},
    )
    assert (outcome.status, outcome.attempts) == (Status.FAILED, 0)  # nothing was attempted


def test_cannot_tell_is_busy(store: SqliteStateStore) -> None:
    action = delete("a")
    leave_open(store, action, scope="run-1")
    assert run(store, action, lambda a: None) == (Status.FAILED, "being applied by another run", True)
    assert [r.value["scope"] for r in store.list_records(OPEN)] == ["run-1"]


def test_an_effect_that_did_not_land_is_taken_over_and_applied(store: SqliteStateStore) -> None:
    action = delete("a")
    leave_open(store, action, scope="run-1")
    assert run(store, action, not_landed) == (Status.APPLIED, "", False)
    assert store.list_records(OPEN) == []  # run-1's entry went with the takeover, ours when done
    assert [(t, s) for t, s, _c, _d in audit(store)] == [("a", "applied")]


def test_a_done_claim_of_the_unnamed_scope_is_not_verified_again(store: SqliteStateStore) -> None:
    # With the empty scope, a done claim names the same open entry: only its status tells.
    first, second = delete("a"), delete("b")
    leave_open(store, first, scope="", claimed=False)
    store.put_record(
        CLAIMS, first.key, {"status": "done", "at": NOW.isoformat(), "capability": "purge"}, etag="*"
    )
    leave_open(store, second, scope="")
    asked: list[str] = []

    def verify(action: Action) -> bool:
        asked.append(action.target)
        return True

    assert resolve(store, verify, scope="") == [("b", Status.ALREADY_DONE, RESUMED)]
    assert asked == ["b"]  # "a" was settled without asking, and "b" after it was still resolved
    assert store.list_records(OPEN) == []


def test_a_failed_action_releases_its_claim_and_its_open_entry(store: SqliteStateStore) -> None:
    def boom(action: Action) -> None:
        raise RuntimeError("boom")

    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]), handlers={"delete": boom}, store=store, policy=APPLY, scope="run-9"
    )
    assert (outcome.status, outcome.detail, outcome.retryable) == (
        Status.FAILED,
        "unexpected RuntimeError: boom",
        False,
    )
    assert store.list_records(CLAIMS) == [] and store.list_records(OPEN) == []


def test_opening_a_plan_writes_one_planned_entry_per_key_and_may_be_repeated(store: SqliteStateStore) -> None:
    a, b = delete("a"), delete("b")
    plan = Plan("purge", [a, a, b])
    open_plan(store, plan, scope="run-1", now=NOW)
    open_plan(store, plan, scope="run-1", now=NOW)  # a redelivery opens it again
    entries = {r.key: r.value for r in store.list_records(OPEN)}
    assert sorted(entries) == sorted(open_key("purge", "run-1", x.key) for x in (a, b))
    for value in entries.values():
        assert (value["status"], value["capability"], value["scope"], value["at"]) == (
            "planned",
            "purge",
            "run-1",
            NOW.isoformat(),
        )


def test_an_interruption_is_described_by_how_far_the_run_got() -> None:
    outcomes = [
        Outcome(delete("a"), Status.APPLIED, 1),
        Outcome(delete("b"), Status.ALREADY_DONE, 0, "applied before (same idempotency key)"),
        Outcome(delete("c"), Status.FAILED, 2, "RuntimeError: boom"),
        Outcome(delete("d"), Status.FAILED, 0, "could not claim: table storage 503", retryable=True),
        Outcome(delete("e"), Status.FAILED, 0, INTERRUPTED, retryable=True),
    ]
    assert describe_interruption(outcomes, lease="purge") == (
        "interrupted after 4 of 5 action(s) (2 done, 2 failed); "
        "the purge lease is released: run it again to finish"
    )
    rows = [o.to_dict() for o in outcomes]
    rows.append({**rows[-1], "attempts": 1})  # attempted after all, whatever its detail says
    assert describe_interruption(rows) == (
        "interrupted after 5 of 6 action(s) (2 done, 3 failed); run it again to finish"
    )


def test_resolving_logs_what_it_settles_and_what_it_cannot(
    store: SqliteStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    leave_open(store, delete("a"), scope="run-1")
    leave_open(store, delete("b"), scope="run-1")

    def only_b(action: Action) -> bool | None:
        return True if action.target == "b" else None

    with caplog.at_level(logging.INFO, logger="ops.executor"):
        outcomes = resolve_open_claims(
            store, capability="purge", verifiers={"delete": only_b}, scope="run-1", now=NOW
        )
    assert [(o.action.target, o.attempts) for o in outcomes] == [("b", 0)]  # after "a", which stays open
    assert caplog.messages == [
        "delete a: an interrupted action cannot be verified yet",
        f"delete b: {RESUMED}",
    ]


def test_the_callers_identity_is_kept_in_the_audit_record(store: SqliteStateStore) -> None:
    caller = {"oid": "0000-1", "name": "alice@contoso.com", "roles": ["Ops.Approve"]}
    policy = ExecutionPolicy(dry_run=False, max_concurrency=1, backoff_s=0.0, actor=caller)
    apply_plan(Plan("purge", [delete("a")]), handlers={"delete": lambda a: None}, store=store, policy=policy)
    (record,) = store.query_audit(limit=10)
    assert record.detail["caller"] == caller
    apply_plan(Plan("purge", [delete("b")]), handlers={"delete": lambda a: None}, store=store, policy=APPLY)
    assert "caller" not in next(r for r in store.query_audit(limit=10) if r.target == "b").detail


class AuditDownOnce(SqliteStateStore):
    """The first audit write fails with an error that carries no Retry-After."""

    failures = 1

    def append_audit(self, record: Any) -> bool:
        if self.failures:
            self.failures -= 1
            raise OpsError("audit table unreachable")
        return super().append_audit(record)


def test_an_audit_failure_without_retry_after_is_retried_after_the_backoff(tmp_path: Path) -> None:
    store = AuditDownOnce(str(tmp_path / "state.db"))
    slept: list[float] = []
    policy = ExecutionPolicy(dry_run=False, max_concurrency=1, backoff_s=0.5)
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": lambda a: None},
        store=store,
        policy=policy,
        sleep=slept.append,
    )
    assert (outcome.status, outcome.detail) == (Status.APPLIED, "")
    assert slept == [0.5]
    assert len(store.query_audit(limit=10)) == 1


@pytest.mark.parametrize("claim_status", ["done", "in_progress"])
def test_a_claim_met_as_done_or_busy_leaves_no_open_entry_of_ours(
    store: SqliteStateStore, claim_status: str
) -> None:
    action = delete("a")
    value = claim_value(action, capability="purge", scope="run-1", at=NOW + timedelta(seconds=1))
    store.put_record(CLAIMS, action.key, {**value, "status": claim_status}, etag="*")
    status, _detail, _retry = run(store, action, lambda a: None, scope="run-2")
    assert status is (Status.ALREADY_DONE if claim_status == "done" else Status.FAILED)
    assert store.list_records(OPEN, prefix="purge/run-2/") == []


class Died(BaseException):
    """The process dies inside a handler (not an error the executor handles)."""


def dies(action: Action) -> None:
    raise Died


def test_the_unnamed_scope_keeps_its_open_entry_through_a_crash(store: SqliteStateStore) -> None:
    action = delete("a")
    with pytest.raises(Died):
        apply_plan(Plan("purge", [action]), handlers={"delete": dies}, store=store, policy=APPLY)
    assert [r.key for r in store.list_records(OPEN)] == [f"purge//{action.key}"]


def test_a_stale_claim_of_our_own_scope_is_taken_over_and_kept_open_through_a_crash(
    store: SqliteStateStore,
) -> None:
    action = delete("a")
    leave_open(store, action, scope="run-1", at=NOW - timedelta(hours=1))
    with pytest.raises(Died):
        apply_plan(
            Plan("purge", [action]),
            handlers={"delete": dies},
            store=store,
            policy=APPLY,
            scope="run-1",
            now=lambda: NOW,
        )
    assert [r.key for r in store.list_records(OPEN)] == [open_key("purge", "run-1", action.key)]
    claim = store.get_record(CLAIMS, action.key)
    assert claim is not None
    assert (claim.value["status"], claim.value["scope"], claim.value["at"]) == (
        "in_progress",
        "run-1",
        NOW.isoformat(),
    )


class TakeoverLost(SqliteStateStore):
    """Another run takes the stale claim over first: our conditional write loses."""

    def put_record(self, table: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> Any:
        if table == CLAIMS and etag not in (None, "*"):
            raise Conflict(f"{key} changed")
        return super().put_record(table, key, value, etag=etag)


@pytest.mark.parametrize("how", ["young claim", "takeover lost"])
def test_a_busy_claim_leaves_no_open_entry_of_ours(tmp_path: Path, how: str) -> None:
    store = (
        TakeoverLost(str(tmp_path / "state.db"))
        if how == "takeover lost"
        else SqliteStateStore(str(tmp_path / "s.db"))
    )
    action = delete("a")
    at = NOW - timedelta(hours=1) if how == "takeover lost" else NOW
    leave_open(store, action, scope="run-1", at=at)
    (outcome,) = apply_plan(
        Plan("purge", [action]),
        handlers={"delete": dies},
        store=store,
        policy=APPLY,
        scope="run-2",
        now=lambda: NOW,
    )
    assert (outcome.status, outcome.detail, outcome.retryable, outcome.attempts) == (
        Status.FAILED,
        "being applied by another run",
        True,
        0,
    )
    assert [r.key for r in store.list_records(OPEN)] == [open_key("purge", "run-1", action.key)]


@pytest.mark.parametrize(("by_call", "by_policy"), [(True, False), (False, True)])
def test_either_stop_stops_the_run(store: SqliteStateStore, by_call: bool, by_policy: bool) -> None:
    policy = ExecutionPolicy(dry_run=False, max_concurrency=1, backoff_s=0.0, stop=lambda: by_policy)
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": dies},
        store=store,
        policy=policy,
        stop=lambda: by_call,
    )
    assert (outcome.status, outcome.detail, outcome.retryable, outcome.attempts) == (
        Status.FAILED,
        INTERRUPTED,
        True,
        0,
    )


class OpenEntriesStuck(SqliteStateStore):
    """Open entries cannot be deleted (the store failed after the effect was recorded)."""

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        if table == OPEN:
            raise TransientError("table storage 503")
        super().delete_record(table, key, etag=etag)


def test_an_open_entry_that_cannot_be_forgotten_changes_no_outcome(tmp_path: Path) -> None:
    store = OpenEntriesStuck(str(tmp_path / "state.db"))
    (outcome,) = apply_plan(
        Plan("purge", [delete("a")]),
        handlers={"delete": lambda a: None},
        store=store,
        policy=APPLY,
        scope="s",
    )
    assert (outcome.status, outcome.detail) == (Status.APPLIED, "")
    assert len(store.list_records(OPEN)) == 1  # resolved (or pruned) later


def test_in_flight_entries_are_verified_before_planned_ones(store: SqliteStateStore) -> None:
    parent = delete("reg/a@parent", digest="parent")
    # A planned referrer whose open entry is listed before the parent's.
    child = next(
        a
        for a in (delete(f"reg/a@sig{i}", digest=f"sig{i}") for i in range(100))
        if open_key("purge", "run-1", a.key) < open_key("purge", "run-1", parent.key)
    )
    leave_open(store, parent)
    leave_open(store, child, planned=True, claimed=False)
    present = {"parent", child.params["digest"]}

    def verify(action: Action) -> bool:
        if action.params["digest"] == "parent":  # the dead run's request lands now, with its referrer
            present.clear()
        return action.params["digest"] not in present

    assert sorted(resolve(store, verify)) == sorted(
        [(parent.target, Status.ALREADY_DONE, RESUMED), (child.target, Status.ALREADY_DONE, GONE)]
    )
    assert sorted((target, status) for target, status, _, _ in audit(store)) == sorted(
        [(parent.target, "applied"), (child.target, "already_done")]
    )


def test_settling_keeps_to_its_scope_and_goes_past_what_cannot_be_told(
    store: SqliteStateStore, caplog: pytest.LogCaptureFixture
) -> None:
    late = delete("reg/a@late", digest="late")
    # Listed before ``late``: a target that cannot be told yet, and one with no verifier.
    unsure, unknown = (
        next(
            a
            for a in (
                Action(kind, f"reg/a@{kind}{i}", "expired", "acr:reg", {"digest": f"{kind}{i}"})
                for i in range(200)
            )
            if open_key("purge", "run-1", a.key) < open_key("purge", "run-1", late.key)
        )
        for kind in ("delete", "unlock")
    )
    elsewhere = delete("reg/a@elsewhere", digest="elsewhere")
    for action in (late, unsure, unknown):
        leave_open(store, action)
    leave_open(store, elsewhere, scope="run-2")
    both = {"delete": not_landed, "unlock": not_landed}
    assert resolve_open_claims(store, capability="purge", verifiers=both, scope="run-1", now=NOW) == []
    assert resolve(store, not_landed, scope="run-2") == []
    verifiers = {"delete": lambda a: None if a.params["digest"] == unsure.params["digest"] else True}
    with caplog.at_level(logging.INFO, logger="ops.executor"):
        settled = settle_unconfirmed(store, Plan("purge", ()), scope="run-1", verifiers=verifiers, now=NOW)
    assert [(o.action.target, o.status, o.attempts, o.detail) for o in settled] == [
        (late.target, Status.ALREADY_DONE, 0, RESUMED)
    ]
    assert [(t, s, d["attempts"], d["note"]) for t, s, _c, d in audit(store)] == [
        (late.target, "applied", 0, RESUMED)
    ]
    assert f"delete {late.target}: {RESUMED}" in [r.getMessage() for r in caplog.records]
    # What cannot be told, and the other scope's entry, stay open and unconfirmed.
    assert sorted((r.key, r.value["status"]) for r in store.list_records(OPEN)) == sorted(
        [
            (open_key("purge", "run-1", unsure.key), "unconfirmed"),
            (open_key("purge", "run-1", unknown.key), "unconfirmed"),
            (open_key("purge", "run-2", elsewhere.key), "unconfirmed"),
        ]
    )
