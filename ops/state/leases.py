"""Singleton leases that stay short: taken for a minute and renewed while the work runs.

A run that holds a long lease and dies (SIGKILL, an instance recycled, a host
timeout) blocks every later run until the lease runs out. So every lease here is
short (``LEASE_DURATION``, a minute) and a background thread renews it every
third of that while its holder works: a live holder keeps it for as long as it
needs, a dead one loses it within a minute.

A contender that finds the lease held is told who holds it and until when
(:class:`LeaseHeld`, a ``Conflict``), so an operator knows whether to wait a
minute or look for a stuck run. A holder whose renewal fails (the store down, or
the lease taken over after a long pause) is told through :attr:`HeldLease.lost`:
it must stop starting new work, because another run may now start.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from ops.errors import Conflict, OpsError
from ops.state.store import Lease, StateStore

log = logging.getLogger(__name__)

#: How long a lease lasts unless renewed: a dead holder's lease is free after this.
LEASE_DURATION = timedelta(seconds=60)


class LeaseHeld(Conflict):
    """Another run holds the lease: who, and until when (unless that run renews it)."""

    def __init__(self, what: str, current: Lease | None, *, now: datetime, hint: str = "") -> None:
        self.holder = current.holder if current else ""
        self.expires = current.expires if current else None
        super().__init__(f"{what}: {describe_holder(current, now=now)}{hint}")


def describe_holder(current: Lease | None, *, now: datetime) -> str:
    """``held by X until T (in Ns) ...`` for a refusal message."""
    if current is None:
        return "held by a run that is just starting or ending; try again in a few seconds"
    left = max(0, round((current.expires - now).total_seconds()))
    return (
        f"held by {current.holder} until {current.expires.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ} "
        f"(in {left}s; a live holder keeps renewing it, one that died frees it then)"
    )


class HeldLease:
    """A lease being renewed in the background; ``lost`` is set when a renewal fails."""

    def __init__(
        self,
        store: StateStore,
        lease: Lease,
        *,
        duration: timedelta,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.lease = lease
        self.duration = duration
        self.now = now
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name=f"lease-{lease.name}", daemon=True)

    @property
    def holder(self) -> str:
        return self.lease.holder

    def start(self) -> None:
        self._thread.start()

    def _renew(self) -> None:
        interval = max(0.05, self.duration.total_seconds() / 3)
        while not self._stop.wait(interval):
            try:
                renewed = self.store.renew_lease(self.lease, duration=self.duration, now=self.now())
            except Exception as exc:  # the store is down (or a bug): retry until the lease runs out
                log.warning("lease %s: renewal failed: %s", self.lease.name, exc)
                if self.now() >= self.lease.expires:
                    self._lose("it could not be renewed before it expired")
                    return
                continue
            if renewed is None:
                self._lose("another run took it over")
                return
            self.lease = renewed

    def _lose(self, why: str) -> None:
        log.error("lease %s lost (%s): no new work is started", self.lease.name, why)
        self.lost.set()

    def release(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        with contextlib.suppress(OpsError):  # unreleased, it simply expires within a minute
            self.store.release_lease(self.lease)


def take_lease(
    store: StateStore,
    name: str,
    *,
    holder: str,
    what: str,
    duration: timedelta = LEASE_DURATION,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    hint: str = "",
) -> HeldLease:
    """Take ``name`` for ``holder`` and start renewing it; the caller must ``release()`` it.
    Raises LeaseHeld (naming the current holder and its expiry) when someone else holds it.

    ``what`` starts the refusal message, e.g. ``another purge run holds the purge lease``;
    ``hint`` ends it (what the caller may do instead).
    """
    started = now()
    lease = store.acquire_lease(name, holder=holder, duration=duration, now=started)
    if lease is None:
        raise LeaseHeld(what, store.read_lease(name), now=started, hint=hint)
    held = HeldLease(store, lease, duration=duration, now=now)
    held.start()
    return held


@contextlib.contextmanager
def hold_lease(
    store: StateStore,
    name: str,
    *,
    holder: str,
    what: str,
    duration: timedelta = LEASE_DURATION,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    hint: str = "",
) -> Iterator[HeldLease]:
    """:func:`take_lease` for the length of a ``with`` block."""
    held = take_lease(store, name, holder=holder, what=what, duration=duration, now=now, hint=hint)
    try:
        yield held
    finally:
        held.release()
