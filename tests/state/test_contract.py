"""The StateStore contract, run against SQLite and against Azure Tables on Azurite.

Cases:
- dedupe: first claim wins, a repeat within the TTL loses, an expired claim can be
  claimed again (and the re-claim does not slide on repeats), namespaces are separate,
  N concurrent claimants of one key produce exactly one winner;
- audit: append once per key (the second append changes nothing), N concurrent appends of
  one key leave one record, query is newest first, filters by capability and since
  (inclusive), by kind, status, part of the target in any case and until (exclusive),
  honours limit after filtering, and round-trips detail, times and awkward keys; find by
  whole key or key prefix (awkward keys too; SQL wildcards are plain characters);
- records: create-only conflicts on an existing key, ETag update, a stale ETag (or an
  ETag for a missing key) is a Conflict, "*" overwrites or creates, every write changes
  the ETag, delete (unconditional, by ETag, stale ETag → Conflict, missing is fine),
  list by prefix with awkward characters, large values round-trip;
- ETag concurrency: N threads on two handles increment one counter read-modify-write,
  retrying on Conflict; the count is exactly N;
- leases: two would-be holders at once (barrier) → exactly one wins, for short, blob-
  window and long durations; not reentrant; expiry lets the next holder in; after expiry
  two contenders race → exactly one wins; release frees it; releasing a lost lease
  leaves the new holder's lease alone; renewal moves the expiry (another handle then
  cannot take it past the first expiry), read_lease names the holder and expiry from
  another handle, a lease taken over after its expiry cannot be renewed by its old
  holder, and a released or never-taken lease reads as free;
- pending: put, replace by (kind, key), list_due only due items oldest first with the
  boundary included and limit honoured, list_pending includes future items, kinds are
  separate, remove (and removing a missing item is fine).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeVar

import pytest

from ops.errors import Conflict
from ops.state.store import AuditRecord, Lease, PendingItem, StateStore

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)
AWKWARD_KEY = "myreg.azurecr.io/team/api:v1#2?x=%20&'q'\\ü\t€😀"
Result = TypeVar("Result")
OpenStore = Callable[[], StateStore]


def run_together(count: int, work: Callable[[int], Result]) -> list[Result]:
    """Run ``work(i)`` on ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def start(index: int) -> Result:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(start, range(count)))


def test_store_satisfies_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)


# dedupe -------------------------------------------------------------------------


def test_claim_once_first_repeat_and_expiry(store: StateStore) -> None:
    ttl = timedelta(hours=1)
    assert store.claim_once("events", "evt-1", ttl=ttl, now=T0) is True
    assert store.claim_once("events", "evt-1", ttl=ttl, now=T0 + timedelta(minutes=59)) is False
    # A repeat does not extend the claim, so the original expiry still frees it.
    assert store.claim_once("events", "evt-1", ttl=ttl, now=T0 + timedelta(hours=1)) is True
    assert store.claim_once("events", "evt-1", ttl=ttl, now=T0 + timedelta(hours=1, minutes=1)) is False
    assert store.claim_once("other", "evt-1", ttl=ttl, now=T0) is True
    assert store.claim_once("events", AWKWARD_KEY, ttl=ttl, now=T0) is True
    assert store.claim_once("events", AWKWARD_KEY, ttl=ttl, now=T0) is False


def test_claim_once_concurrent_has_one_winner(open_store: OpenStore) -> None:
    handles = [open_store(), open_store()]
    ttl = timedelta(minutes=5)
    results = run_together(6, lambda i: handles[i % 2].claim_once("events", "evt-9", ttl=ttl, now=T0))
    assert results.count(True) == 1
    later = T0 + ttl
    results = run_together(6, lambda i: handles[i % 2].claim_once("events", "evt-9", ttl=ttl, now=later))
    assert results.count(True) == 1


# audit --------------------------------------------------------------------------


def audit(key: str, *, capability: str = "purge", at: datetime = T0, **changes: object) -> AuditRecord:
    fields: dict[str, object] = {
        "key": key,
        "capability": capability,
        "kind": "delete_manifest",
        "target": f"myreg/api@{key}",
        "reason": "older than 30d",
        "status": "applied",
        "at": at,
        "detail": {"digest": f"sha256:{key}", "tags": ["a", "b"]},
    }
    fields.update(changes)
    return AuditRecord(**fields)  # type: ignore[arg-type]


def test_append_audit_once_per_key(store: StateStore) -> None:
    first = audit("k1")
    assert store.append_audit(first) is True
    assert store.append_audit(audit("k1", status="failed", at=T0 + timedelta(minutes=1))) is False
    assert store.query_audit() == [first]


def test_append_audit_concurrent_leaves_one_record(open_store: OpenStore) -> None:
    handles = [open_store(), open_store()]
    # Retries of one effect may carry different times; still one record per key.
    results = run_together(
        6, lambda i: handles[i % 2].append_audit(audit("dup", at=T0 + timedelta(seconds=i)))
    )
    assert results.count(True) == 1
    records = handles[0].query_audit()
    assert [record.key for record in records] == ["dup"]
    assert records[0].at == T0 + timedelta(seconds=results.index(True))


def test_query_audit_order_filters_and_limit(store: StateStore) -> None:
    records = [
        audit("a", capability="purge", at=T0),
        audit("b", capability="gate", at=T0 + timedelta(minutes=1)),
        audit("c", capability="purge", at=T0 + timedelta(minutes=2)),
        audit("d", capability="purge", at=T0 + timedelta(minutes=3)),
    ]
    for record in (records[2], records[0], records[3], records[1]):
        assert store.append_audit(record) is True
    assert [r.key for r in store.query_audit()] == ["d", "c", "b", "a"]
    assert [r.key for r in store.query_audit(capability="purge")] == ["d", "c", "a"]
    assert [r.key for r in store.query_audit(since=T0 + timedelta(minutes=1))] == ["d", "c", "b"]
    assert [r.key for r in store.query_audit(capability="purge", since=T0 + timedelta(minutes=1))] == [
        "d",
        "c",
    ]
    assert [r.key for r in store.query_audit(limit=2)] == ["d", "c"]
    assert [r.key for r in store.query_audit(capability="gate", limit=1)] == ["b"]
    assert store.query_audit(capability="schedule") == []
    assert store.query_audit(since=T0 + timedelta(minutes=4)) == []


def test_query_audit_by_kind_status_target_and_until(store: StateStore) -> None:
    cluster = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/AKS-D"
    records = [
        audit("a", at=T0, kind="stop_cluster", target=cluster, capability="schedule"),
        audit("b", at=T0 + timedelta(minutes=1), status="failed"),
        audit("c", at=T0 + timedelta(minutes=2), kind="run_summary", target="run-7"),
        audit("d", at=T0 + timedelta(minutes=3), target="myreg/web@sha256:d"),
    ]
    for record in records:
        assert store.append_audit(record) is True
    assert [r.key for r in store.query_audit(kind="stop_cluster")] == ["a"]
    assert [r.key for r in store.query_audit(status="failed")] == ["b"]
    assert [r.key for r in store.query_audit(target="aks-d")] == ["a"]  # any case, part of the id
    assert [r.key for r in store.query_audit(target="MYREG/")] == ["d", "b"]
    assert [r.key for r in store.query_audit(until=T0 + timedelta(minutes=2))] == ["b", "a"]
    window = store.query_audit(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3))
    assert [r.key for r in window] == ["c", "b"]
    assert [r.key for r in store.query_audit(target="myreg", limit=1)] == ["d"]
    assert store.query_audit(kind="stop_cluster", status="failed") == []


def test_find_audit_by_key_or_prefix(store: StateStore) -> None:
    for key in ("purge-run:7f3a", "purge-run:7f3b", "0badc0de", AWKWARD_KEY):
        assert store.append_audit(audit(key)) is True
    (found,) = store.find_audit("0badc0de")
    assert found == audit("0badc0de")
    assert [r.key for r in store.find_audit("purge-run:7f3")] == ["purge-run:7f3a", "purge-run:7f3b"]
    assert [r.key for r in store.find_audit("purge-run:", limit=1)] == ["purge-run:7f3a"]
    assert [r.key for r in store.find_audit(AWKWARD_KEY[:5])] == [AWKWARD_KEY]
    assert store.find_audit("purge-run:8") == []
    assert store.find_audit("%") == [] and store.find_audit("_") == []


def test_audit_round_trips_fields(store: StateStore) -> None:
    eastern = timezone(timedelta(hours=-5))
    record = audit(
        AWKWARD_KEY,
        at=datetime(2030, 3, 1, 7, 0, 0, 123456, tzinfo=eastern),
        detail={"nested": {"list": [1, 2.5, None, True]}, "text": "x" * 40_000},
    )
    assert store.append_audit(record) is True
    (stored,) = store.query_audit()
    assert stored == record
    assert stored.at == datetime(2030, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert stored.at.utcoffset() == timedelta(0)


# records ------------------------------------------------------------------------


def test_record_create_only_conflicts(store: StateStore) -> None:
    created = store.put_record("failover", "acr-prod", {"write": "eastus2"}, etag=None)
    assert created.value == {"write": "eastus2"}
    with pytest.raises(Conflict):
        store.put_record("failover", "acr-prod", {"write": "westus"}, etag=None)
    assert store.get_record("failover", "acr-prod") == created
    assert store.get_record("failover", "missing") is None
    assert store.get_record("other-table", "acr-prod") is None


def test_record_etag_update_and_stale_etag(store: StateStore) -> None:
    first = store.put_record("cooldowns", "snat/aks-1", {"until": "12:00"}, etag=None)
    second = store.put_record("cooldowns", "snat/aks-1", {"until": "12:00"}, etag=first.etag)
    assert second.etag != first.etag  # even when the value is unchanged
    assert store.get_record("cooldowns", "snat/aks-1") == second
    with pytest.raises(Conflict):
        store.put_record("cooldowns", "snat/aks-1", {"until": "13:00"}, etag=first.etag)
    assert store.get_record("cooldowns", "snat/aks-1") == second
    with pytest.raises(Conflict):
        store.put_record("cooldowns", "never-created", {"until": "13:00"}, etag=first.etag)
    assert store.get_record("cooldowns", "never-created") is None


def test_record_star_overwrites_or_creates(store: StateStore) -> None:
    first = store.put_record("t", "k", {"v": 1, "old": True}, etag=None)
    replaced = store.put_record("t", "k", {"v": 2}, etag="*")
    assert replaced.value == {"v": 2}
    assert replaced.etag != first.etag
    assert store.get_record("t", "k") == replaced
    created = store.put_record("t", "new", {"v": 3}, etag="*")
    assert store.get_record("t", "new") == created


def test_record_delete(store: StateStore) -> None:
    record = store.put_record("t", "k", {"v": 1}, etag=None)
    store.put_record("t", "k2", {"v": 1}, etag=None)
    updated = store.put_record("t", "k", {"v": 2}, etag=record.etag)
    with pytest.raises(Conflict):
        store.delete_record("t", "k", etag=record.etag)
    assert store.get_record("t", "k") == updated
    store.delete_record("t", "k", etag=updated.etag)
    assert store.get_record("t", "k") is None
    store.delete_record("t", "k2")
    assert store.get_record("t", "k2") is None
    store.delete_record("t", "k2")  # already gone: done, not an error
    store.delete_record("t", "k2", etag=updated.etag)


def test_list_records_by_prefix(store: StateStore) -> None:
    keys = ["a/b", "a#c", "a?d", "a%e", "a'f", "a\\g", "aü", "a", "ab", "b/a", AWKWARD_KEY]
    for key in keys:
        store.put_record("t", key, {"key": key}, etag=None)
    store.put_record("other", "a/zz", {}, etag=None)
    assert [r.key for r in store.list_records("t")] == sorted(keys)
    assert [r.key for r in store.list_records("t", prefix="a")] == sorted(
        k for k in keys if k.startswith("a")
    )
    assert [r.key for r in store.list_records("t", prefix="a/")] == ["a/b"]
    assert [r.key for r in store.list_records("t", prefix="my")] == [AWKWARD_KEY]
    assert [r.value["key"] for r in store.list_records("t", prefix="b")] == ["b/a"]
    assert store.list_records("t", prefix="zz") == []
    assert all(r == store.get_record("t", r.key) for r in store.list_records("t"))


def test_record_large_value_round_trips(store: StateStore) -> None:
    value = {"items": [{"name": f"image-{i}", "note": "é" * 50} for i in range(800)]}
    written = store.put_record("t", "big", value, etag=None)
    assert written.value == value
    stored = store.get_record("t", "big")
    assert stored is not None and stored.value == value
    smaller = store.put_record("t", "big", {"items": []}, etag=stored.etag)
    assert store.get_record("t", "big") == smaller


def test_etag_counter_under_concurrency(open_store: OpenStore) -> None:
    handles = [open_store(), open_store()]
    handles[0].put_record("counters", "runs", {"count": 0}, etag=None)

    def increment(index: int) -> int:
        store = handles[index % 2]
        for attempt in range(200):
            current = store.get_record("counters", "runs")
            assert current is not None
            try:
                store.put_record("counters", "runs", {"count": current.value["count"] + 1}, etag=current.etag)
                return attempt
            except Conflict:
                continue
        raise AssertionError("no increment after 200 attempts")

    workers = 8
    run_together(workers, increment)
    final = handles[1].get_record("counters", "runs")
    assert final is not None and final.value == {"count": workers}


# leases -------------------------------------------------------------------------

# Short of, inside and beyond the 15-60 s window that blob leases support natively.
LEASE_DURATIONS = [timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=10)]


@pytest.mark.parametrize("duration", LEASE_DURATIONS, ids=["5s", "30s", "10m"])
def test_lease_contention_expiry_and_release(open_store: OpenStore, duration: timedelta) -> None:
    handles = [open_store(), open_store()]

    def contend(name: str, now: datetime) -> list[Lease | None]:
        return run_together(
            2, lambda i: handles[i].acquire_lease(name, holder=f"h{i}", duration=duration, now=now)
        )

    leases = contend("purge", T0)
    assert sum(lease is not None for lease in leases) == 1
    winner_index = next(i for i, lease in enumerate(leases) if lease is not None)
    winner = leases[winner_index]
    assert winner is not None
    assert (winner.name, winner.holder, winner.expires) == ("purge", f"h{winner_index}", T0 + duration)

    # Not reentrant, and held until its expiry.
    just_before = T0 + duration - timedelta(seconds=1)
    for handle in handles:
        assert handle.acquire_lease("purge", holder=winner.holder, duration=duration, now=just_before) is None

    # Once expired, two contenders race again and exactly one takes it over.
    leases = contend("purge", T0 + duration)
    assert sum(lease is not None for lease in leases) == 1
    second = next(lease for lease in leases if lease is not None)
    assert second.token != winner.token

    # Releasing the lost lease must not free the new holder's.
    handles[winner_index].release_lease(winner)
    assert handles[0].acquire_lease("purge", holder="h9", duration=duration, now=T0 + duration) is None

    handles[1].release_lease(second)
    third = handles[0].acquire_lease("purge", holder="h9", duration=duration, now=T0 + duration)
    assert third is not None and third.holder == "h9"
    handles[0].release_lease(third)
    handles[0].release_lease(third)  # releasing twice is harmless


def test_leases_are_independent_by_name(store: StateStore) -> None:
    duration = timedelta(seconds=30)
    first = store.acquire_lease("schedule", holder="a", duration=duration, now=T0)
    other = store.acquire_lease(AWKWARD_KEY, holder="a", duration=duration, now=T0)
    assert first is not None and other is not None
    assert other.name == AWKWARD_KEY
    assert store.acquire_lease("schedule", holder="b", duration=duration, now=T0) is None


def test_renewal_keeps_a_live_holder_and_others_see_who_holds(open_store: OpenStore) -> None:
    handles = [open_store(), open_store()]
    duration = timedelta(seconds=30)
    lease = handles[0].acquire_lease("purge", holder="run-1", duration=duration, now=T0)
    assert lease is not None
    shown = handles[1].read_lease("purge")
    assert shown is not None and (shown.holder, shown.expires) == ("run-1", T0 + duration)

    renewed = handles[0].renew_lease(lease, duration=duration, now=T0 + timedelta(seconds=20))
    assert renewed is not None and renewed.token == lease.token
    assert renewed.expires == T0 + timedelta(seconds=50)
    # Past the first expiry the renewed lease still holds, and says until when.
    assert handles[1].acquire_lease("purge", holder="run-2", duration=duration, now=T0 + duration) is None
    shown = handles[1].read_lease("purge")
    assert shown is not None and shown.expires == T0 + timedelta(seconds=50)

    # Its holder stops renewing (it died): the next run takes it at the expiry, and the
    # old holder, should it come back, cannot renew what is no longer its own.
    lapsed = T0 + timedelta(seconds=50)
    taken = handles[1].acquire_lease("purge", holder="run-2", duration=duration, now=lapsed)
    assert taken is not None
    assert handles[0].renew_lease(lease, duration=duration, now=T0 + timedelta(seconds=51)) is None
    shown = handles[0].read_lease("purge")
    assert shown is not None and shown.holder == "run-2"
    handles[1].release_lease(taken)
    assert handles[0].read_lease("purge") is None
    assert handles[0].read_lease("never-taken") is None


def acquire_gate(handles: list[StateStore], duration: timedelta, now: datetime, index: int) -> Lease | None:
    return handles[index % 2].acquire_lease("gate", holder=f"h{index}", duration=duration, now=now)


def test_many_contenders_one_winner(open_store: OpenStore) -> None:
    handles = [open_store(), open_store()]
    duration = timedelta(minutes=10)
    # Round 0 races on a lease that never existed; later rounds race to take over an
    # expired one. Several rounds, because a race shows itself only some of the time.
    for round_index in range(6):
        now = T0 + round_index * duration
        leases = run_together(6, functools.partial(acquire_gate, handles, duration, now))
        assert sum(lease is not None for lease in leases) == 1, f"round {round_index}: {leases}"


# pending ------------------------------------------------------------------------


def pending(key: str, due: datetime, kind: str = "gate", **payload: object) -> PendingItem:
    return PendingItem(kind=kind, key=key, payload=payload or {"key": key}, due=due)


def test_pending_put_replace_due_and_remove(store: StateStore) -> None:
    items = {
        "late": pending("late", T0 + timedelta(minutes=10)),
        "first": pending("first", T0 - timedelta(minutes=5)),
        "second": pending("second", T0 - timedelta(minutes=1)),
        "boundary": pending("boundary", T0),
        AWKWARD_KEY: pending(AWKWARD_KEY, T0 - timedelta(minutes=3)),
    }
    for item in items.values():
        store.put_pending(item)
    store.put_pending(pending("other-kind", T0 - timedelta(hours=1), kind="lro"))

    assert [i.key for i in store.list_due("gate", now=T0)] == ["first", AWKWARD_KEY, "second", "boundary"]
    assert store.list_due("gate", now=T0)[1] == items[AWKWARD_KEY]
    assert [i.key for i in store.list_due("gate", now=T0, limit=2)] == ["first", AWKWARD_KEY]
    assert [i.key for i in store.list_pending("gate")] == ["first", AWKWARD_KEY, "second", "boundary", "late"]
    assert [i.key for i in store.list_pending("gate", limit=1)] == ["first"]
    assert [i.key for i in store.list_due("lro", now=T0)] == ["other-kind"]

    # Replacing by (kind, key) moves the due time and swaps the payload.
    replaced = pending("first", T0 + timedelta(minutes=20), attempt=2)
    store.put_pending(replaced)
    assert [i.key for i in store.list_due("gate", now=T0)] == [AWKWARD_KEY, "second", "boundary"]
    assert store.list_pending("gate")[-1] == replaced

    store.remove_pending("gate", "second")
    store.remove_pending("gate", "second")  # already gone
    store.remove_pending("gate", "never")
    assert [i.key for i in store.list_pending("gate")] == [AWKWARD_KEY, "boundary", "late", "first"]
    assert store.list_due("gate", now=T0 - timedelta(hours=1)) == []
    assert store.list_pending("empty-kind") == []
