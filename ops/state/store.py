"""The StateStore protocol: everything the product remembers between invocations.

Two implementations pass one contract suite (``tests/state``): Azure Tables plus
blob leases (``ops.adapters.storage``), used in Azure and on Azurite, and SQLite
(``ops.state.sqlite``), the embedded default for the CLI and demo when no storage
is configured. Handlers are at-least-once, so every write here is either
idempotent or guarded by an ETag.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable


def as_utc(moment: datetime) -> datetime:
    """The same instant in UTC. A naive datetime is taken to be UTC already, because
    that is what ``datetime.utcnow()`` and most log timestamps mean; stores always
    return aware UTC datetimes."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_micros(moment: datetime) -> int:
    """Whole microseconds since 1970 (UTC): an exact, sortable integer for a stored instant."""
    return (as_utc(moment) - _EPOCH) // timedelta(microseconds=1)


def from_epoch_micros(micros: int) -> datetime:
    """The aware UTC instant that :func:`epoch_micros` turned into ``micros``."""
    return _EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One applied effect. ``key`` is the idempotency key: one record per key, ever."""

    key: str
    capability: str
    kind: str
    target: str
    reason: str
    status: str
    at: datetime
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Record:
    """A keyed JSON document with its ETag, for optimistic concurrency."""

    key: str
    value: Mapping[str, Any]
    etag: str


@dataclass(frozen=True, slots=True)
class Lease:
    """A held singleton lease. Release it, or let it expire after its duration."""

    name: str
    holder: str
    token: str
    expires: datetime


@dataclass(frozen=True, slots=True)
class PendingItem:
    """Work to look at again once ``due`` has passed (gate evaluations, LRO checks)."""

    kind: str
    key: str
    payload: Mapping[str, Any]
    due: datetime


@runtime_checkable
class StateStore(Protocol):
    """Durable state shared by every instance of the app."""

    # dedupe ---------------------------------------------------------------
    def claim_once(self, namespace: str, key: str, *, ttl: timedelta, now: datetime) -> bool:
        """Record ``key``; True the first time within ``ttl``, False for a repeat.

        A repeat does not extend the claim; once ``now`` reaches the claim's expiry,
        the key can be claimed again. Under concurrency exactly one caller gets True.
        """
        ...

    # audit ----------------------------------------------------------------
    def append_audit(self, record: AuditRecord) -> bool:
        """Append; False (and no second record) when ``record.key`` is already there."""
        ...

    def query_audit(
        self,
        *,
        capability: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        until: datetime | None = None,
        kind: str | None = None,
        status: str | None = None,
        target: str | None = None,
    ) -> Sequence[AuditRecord]:
        """Newest first (by ``at``), records at or after ``since`` and before ``until``, at
        most ``limit``; ``capability``, ``kind`` and ``status`` match exactly, ``target``
        is a case-insensitive part of the target (a name finds its ARM id)."""
        ...

    def find_audit(self, key_prefix: str, *, limit: int = 2) -> Sequence[AuditRecord]:
        """Records whose key starts with ``key_prefix`` (the whole key finds its one record),
        at most ``limit``, in key order."""
        ...

    # keyed records ----------------------------------------------------------
    def get_record(self, table: str, key: str) -> Record | None: ...

    def put_record(self, table: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> Record:
        """Write ``value``. ``etag=None`` creates only; ``"*"`` overwrites anything;
        otherwise the write succeeds only if the stored ETag matches. Raises
        ``ops.errors.Conflict`` on a mismatch or when creating over an existing key."""
        ...

    def delete_record(self, table: str, key: str, *, etag: str | None = None) -> None:
        """Delete ``key``. ``etag=None`` or ``"*"`` deletes unconditionally; otherwise
        raises ``Conflict`` when the stored ETag differs. A missing key is already
        deleted, so that is not an error."""
        ...

    def list_records(self, table: str, *, prefix: str = "") -> Sequence[Record]:
        """Records of ``table`` whose key starts with ``prefix``, ordered by key."""
        ...

    # leases -----------------------------------------------------------------
    def acquire_lease(self, name: str, *, holder: str, duration: timedelta, now: datetime) -> Lease | None:
        """Take the lease if it is free or expired; None while anyone holds it.

        Not reentrant: a holder that asks again while its own lease is live gets
        None too, because two overlapping runs may share a holder name. Under
        contention exactly one caller gets a Lease. A lease counts as expired once
        ``now`` reaches ``Lease.expires``.
        """
        ...

    def renew_lease(self, lease: Lease, *, duration: timedelta, now: datetime) -> Lease | None:
        """Extend a held lease to ``now + duration``; None when it is no longer ours
        (it expired and was taken over, or was released). Holders renew while they
        work, so that a lease can be short and a dead holder's is soon free."""
        ...

    def read_lease(self, name: str) -> Lease | None:
        """Who holds ``name`` and until when, as recorded (``token`` is empty); None when
        it is free. A lease past its ``expires`` may still be shown: callers compare."""
        ...

    def release_lease(self, lease: Lease) -> None:
        """Free the lease if it is still ours; a lease that expired and was taken by
        someone else is left alone."""
        ...

    # pending work -------------------------------------------------------------
    def put_pending(self, item: PendingItem) -> None:
        """Insert or replace the item with the same (kind, key)."""
        ...

    def list_due(self, kind: str, *, now: datetime, limit: int = 100) -> Sequence[PendingItem]:
        """Items of ``kind`` whose due time has passed, oldest due first."""
        ...

    def list_pending(self, kind: str, *, limit: int = 1000) -> Sequence[PendingItem]:
        """Items of ``kind``, due or not, oldest due first."""
        ...

    def remove_pending(self, kind: str, key: str) -> None:
        """Remove the item; removing a missing item is not an error."""
        ...
