"""What purge keeps in the StateStore between invocations, and for how long.

Keyed records, by table::

    purge-runs       <run>                    a scheduled run: policy, budget, batches, when its
                                              in-use set was read, whether it applies deletes
    purge-inuse      <run>/<registry>/<n>     that run's in-use set, per registry, in parts
    purge-enqueued   <run>/<batch>            what the run enqueued in that batch: the registry as
                                              ARM reported it, and the repositories
    purge-grants     <run>/<batch>            a batch's share of the run's delete budget
    purge-batches    <run>/<batch>            a finished (or refused) batch's summary
    purge-lastknown  h/<cluster>              each cluster's last-known in-use set: when it was
                     p/<cluster>/<gen>/<n>    read, which registries it covers, and its parts

Run ids start with their start time (``20261126T030000Z-1a2b3c4d``), so a run's age is in
its key. ``purge_schedule`` prunes, under its lease, every run older than the retention
with all of its records, and every last-known set not refreshed within it: nothing else
deletes them, and the tables would otherwise grow by a run a night forever.

The last-known set exists for stopped clusters. A non-production cluster is often stopped
at night, when purge runs; its API server does not answer, so its in-use set is unknown
and, fail-safe, nothing would ever be deleted at night. What a cluster ran when it was
last read is kept here, written on every successful read; while ARM says the cluster is
Stopped (and only then: an unreachable or forbidden cluster stays unknown), that set
stands in for it, if it is younger than ``OPS_PURGE_STOPPED_CLUSTER_MAX_AGE``. A stopped
cluster cannot start new workloads, and starting it runs what it ran before.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ops.errors import OpsError
from ops.purge.images import InUseIndex, RegistryInUse, join_parts, split_parts
from ops.purge.inventory import ClusterRef
from ops.state.store import StateStore

log = logging.getLogger(__name__)

RUNS = "purge-runs"
IN_USE = "purge-inuse"
GRANTS = "purge-grants"
ENQUEUED = "purge-enqueued"
BATCHES = "purge-batches"
LAST_KNOWN = "purge-lastknown"
LEASE = "purge-schedule"

#: Tables whose keys start with ``<run>/``.
_PER_RUN = (IN_USE, ENQUEUED, GRANTS, BATCHES)
_RUN_TIME = "%Y%m%dT%H%M%SZ"


def new_run_id(now: datetime) -> str:
    """Sortable by start time, unique across overlapping runs."""
    return f"{now.astimezone(UTC):{_RUN_TIME}}-{uuid.uuid4().hex[:8]}"


def run_started(run: str) -> datetime | None:
    """When a run started, from its id; None for an id this module did not make."""
    try:
        return datetime.strptime(run.split("-", 1)[0], _RUN_TIME).replace(tzinfo=UTC)
    except ValueError:
        return None


# -- runs in flight ----------------------------------------------------------------------


def runs_in_flight(store: StateStore, *, now: datetime, within: timedelta) -> list[str]:
    """Scheduled runs that may still delete: applying (not dry), not finished, and whose
    in-use set is younger than ``within`` (older batches are refused, so they cannot)."""
    found = []
    for record in store.list_records(RUNS):
        value = record.value
        if value.get("dry_run", False) or value.get("finished"):
            continue
        read_at = _parse_time(value.get("in_use_at") or value.get("created"))
        if read_at is not None and now - read_at < within:
            found.append(record.key)
    return found


# -- pruning ------------------------------------------------------------------------------


def prune_records(store: StateStore, *, now: datetime, retention: timedelta) -> int:
    """Delete every run older than ``retention`` with its records, and last-known sets not
    refreshed within it; returns how many records were deleted."""
    cutoff = now - retention
    deleted = 0
    for record in store.list_records(RUNS):
        started = run_started(record.key) or _parse_time(record.value.get("created"))
        if started is None or started >= cutoff:
            continue
        for table in _PER_RUN:
            for part in store.list_records(table, prefix=f"{record.key}/"):
                store.delete_record(table, part.key)
                deleted += 1
        store.delete_record(RUNS, record.key)
        deleted += 1
    for header in store.list_records(LAST_KNOWN, prefix="h/"):
        seen = _parse_time(header.value.get("seen"))
        if seen is not None and seen >= cutoff:
            continue
        cluster = header.key[len("h/") :]
        deleted += _delete_parts(store, cluster, keep=None)
        store.delete_record(LAST_KNOWN, header.key)
        deleted += 1
    return deleted


# -- last-known in-use sets -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastKnown:
    """A cluster's in-use set as last read, by registry login server."""

    seen: datetime
    registries: Mapping[str, RegistryInUse]

    def as_index(self, cluster: str) -> InUseIndex:
        return InUseIndex(registries=dict(self.registries), last_seen={cluster: self.seen})


def cluster_key(cluster: ClusterRef) -> str:
    """Unique across subscriptions and resource groups (names alone are not)."""
    return cluster.id.strip("/").lower() if cluster.id else cluster.name.lower()


def save_last_known(
    store: StateStore, cluster: ClusterRef, found: InUseIndex, *, hosts: Iterable[str], seen: datetime
) -> None:
    """Keep what ``cluster`` runs now, for the registries ``hosts``, as its last-known set.

    The parts of a new generation are written before the header that names them, and
    the older generations are deleted after: a reader sees a whole set, old or new.
    """
    key = cluster_key(cluster)
    generation = new_run_id(seen)
    covered = sorted({h.lower() for h in hosts})
    parts = 0
    for host in covered:
        for part in split_parts(found.for_host(host)):
            store.put_record(
                LAST_KNOWN, f"p/{key}/{generation}/{parts:04d}", {"host": host, **part}, etag="*"
            )
            parts += 1
    header = {
        "cluster": cluster.name,
        "seen": seen.astimezone(UTC).isoformat(),
        "hosts": covered,
        "generation": generation,
        "parts": parts,
    }
    store.put_record(LAST_KNOWN, f"h/{key}", header, etag="*")
    _delete_parts(store, key, keep=generation)


def load_last_known(
    store: StateStore, cluster: ClusterRef, *, hosts: Iterable[str], now: datetime, max_age: timedelta
) -> LastKnown | str:
    """The cluster's last-known set if it can stand in for the cluster now, or why not."""
    key = cluster_key(cluster)
    header = store.get_record(LAST_KNOWN, f"h/{key}")
    if header is None:
        return "no in-use set of it was ever recorded"
    value = header.value
    seen = _parse_time(value.get("seen"))
    if seen is None:
        return "its last-known in-use set has no time"
    if now - seen > max_age:
        return (
            f"its last-known in-use set is {_days(now - seen)} old, over "
            f"OPS_PURGE_STOPPED_CLUSTER_MAX_AGE ({_days(max_age)})"
        )
    missing = sorted({h.lower() for h in hosts} - set(value.get("hosts") or ()))
    if missing:
        return f"its last-known in-use set does not cover {', '.join(missing)}"
    records = store.list_records(LAST_KNOWN, prefix=f"p/{key}/{value.get('generation')}/")
    if len(records) != int(value.get("parts", -1)):
        return "its last-known in-use set is incomplete"
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_host.setdefault(str(record.value.get("host")), []).append(record.value)
    return LastKnown(seen=seen, registries={host: join_parts(parts) for host, parts in by_host.items()})


def save_last_known_safely(
    store: StateStore, cluster: ClusterRef, found: InUseIndex, *, hosts: Sequence[str], seen: datetime
) -> None:
    """``save_last_known``, where failing to save must not fail the read it follows."""
    try:
        save_last_known(store, cluster, found, hosts=hosts, seen=seen)
    except OpsError as exc:
        log.warning("the last-known in-use set of %s was not saved: %s", cluster.name, exc)


def _delete_parts(store: StateStore, key: str, *, keep: str | None) -> int:
    deleted = 0
    for record in store.list_records(LAST_KNOWN, prefix=f"p/{key}/"):
        if keep is None or not record.key.startswith(f"p/{key}/{keep}/"):
            store.delete_record(LAST_KNOWN, record.key)
            deleted += 1
    return deleted


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f}d" if hours >= 48 else f"{hours:.0f}h"
