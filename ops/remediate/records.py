"""What remediation remembers per cluster, in the StateStore, keyed by the lower-cased ARM id.

One record per cluster (table ``remediate-history``) holds its :class:`~ops.remediate.guards.History`
(last change, today's totals, the outbound shape or maxCount last set) and the change in
flight: the PUT's operation URL, what it changes, and the maxCount to restore after the
alert resolves (``revertAfter``). Writes use the record's ETag, under the cluster's lease.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from ops.errors import Conflict
from ops.remediate.guards import History
from ops.state.store import StateStore

HISTORY_TABLE = "remediate-history"


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    history: History = field(default_factory=History)
    operation: Mapping[str, Any] | None = None  # {"url", "params", "started", "alert"}
    revert: Mapping[str, Any] | None = None  # {"pool", "maxCount", "raisedTo", "due"}
    etag: str | None = None

    def to_value(self) -> dict[str, Any]:
        h = self.history
        return {
            "history": {
                "lastChange": h.last_change.isoformat() if h.last_change else None,
                "changesToday": h.changes_today,
                "nodesAddedToday": h.nodes_added_today,
                "vcpusAddedToday": h.vcpus_added_today,
                "day": h.day,
                "applied": dict(h.applied),
            },
            "operation": dict(self.operation) if self.operation else None,
            "revert": dict(self.revert) if self.revert else None,
        }


def read_record(store: StateStore, cluster_id: str) -> ClusterRecord:
    found = store.get_record(HISTORY_TABLE, cluster_id.lower())
    if found is None:
        return ClusterRecord()
    value = found.value
    raw = value.get("history") or {}
    last = raw.get("lastChange")
    history = History(
        last_change=datetime.fromisoformat(last) if last else None,
        changes_today=int(raw.get("changesToday") or 0),
        nodes_added_today=int(raw.get("nodesAddedToday") or 0),
        vcpus_added_today=int(raw.get("vcpusAddedToday") or 0),
        day=str(raw.get("day") or ""),
        applied=dict(raw.get("applied") or {}),
    )
    return ClusterRecord(history, value.get("operation"), value.get("revert"), found.etag)


def write_record(store: StateStore, cluster_id: str, record: ClusterRecord) -> ClusterRecord:
    """Write under the ETag read; Conflict when someone else wrote in between."""
    etag = record.etag if record.etag is not None else None
    try:
        saved = store.put_record(HISTORY_TABLE, cluster_id.lower(), record.to_value(), etag=etag)
    except Conflict:
        raise
    return replace(record, etag=saved.etag)


def record_change(
    record: ClusterRecord, params: Mapping[str, Any], *, now: datetime, url: str | None, alert: str
) -> ClusterRecord:
    """The record after a change was accepted: cooldown from now, today's totals, the change in flight."""
    today = record.history.for_day(now)
    changed = {k: v for k, v in params.items() if k not in ("etag", "before", "addedNodes", "addedVcpus")}
    applied = {**record.history.applied, **changed}
    history = History(
        last_change=now,
        changes_today=today.changes_today + 1,
        nodes_added_today=today.nodes_added_today + int(params.get("addedNodes") or 0),
        vcpus_added_today=today.vcpus_added_today + int(params.get("addedVcpus") or 0),
        day=today.day,
        applied=applied,
    )
    operation = {"url": url, "params": changed, "started": now.isoformat(), "alert": alert}
    return replace(record, history=history, operation=operation)
