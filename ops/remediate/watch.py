"""``remediate_watch``: what follows a remediation when no alert comes to follow it.

A remediation starts a managedClusters PUT and does not wait for its long-running
operation; a raised maxCount is restored ``revertAfter`` once its alert resolved; AKS
may undo a change (drift). Without this timer, all of that waited for the next alert
of the cluster or for an operator's ``ops remediate --continue``. Each run, under its
own lease (runs may overlap), visits every cluster remediation keeps a record of and
does, under that cluster's lease, exactly what the service does before an alert is
handled (:meth:`RemediateService.continue_pending`):

- asks the operation in flight how it ended: a failure is audited and lifts the
  cooldown; still running is reported and asked again next run;
- compares the cluster with what was last set and reports drift (audited once per
  change and drift);
- applies a due restore of maxCount through the one executor: dry-run unless applying,
  the kill switch, the audit trail, the scope, cooldown and daily cap of the policy.

A cluster that is busy (an alert holds its lease) or whose ARM calls fail transiently
is reported and visited again next run; a cluster that no longer exists has its record
removed. The run itself fails (the host shows it) when any cluster failed transiently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ops.errors import NotFound, OpsError, TransientError, describe_error
from ops.remediate.records import HISTORY_TABLE
from ops.remediate.service import RemediateService
from ops.state.store import AuditRecord

LEASE = "remediate-watch"
_LEASE_DURATION = timedelta(minutes=5)


@dataclass
class WatchResult:
    skipped: str | None = None
    clusters: dict[str, list[str]] = field(default_factory=dict)  # cluster id → what was found or done
    failed: dict[str, str] = field(default_factory=dict)  # cluster id → a transient failure
    refused: dict[str, str] = field(default_factory=dict)  # cluster id → a permanent failure
    removed: list[str] = field(default_factory=list)  # clusters gone from ARM

    @property
    def gave_up_transiently(self) -> bool:
        return bool(self.failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": "skipped" if self.skipped else "done",
            "reason": self.log_line(),
            "clusters": {k: list(v) for k, v in self.clusters.items()},
            "failed": dict(self.failed),
            "refused": dict(self.refused),
            "removed": list(self.removed),
        }

    def log_line(self) -> str:
        if self.skipped:
            return f"skipped: {self.skipped}"
        notes = sum(len(v) for v in self.clusters.values())
        return (
            f"{len(self.clusters)} cluster(s) visited, {notes} finding(s), {len(self.failed)} failed "
            f"transiently, {len(self.refused)} failed, {len(self.removed)} removed"
        )


def watch_clusters(service: RemediateService) -> WatchResult:
    """One run of ``remediate_watch`` over every cluster with a remediation record."""
    store = service.store
    lease = store.acquire_lease(
        LEASE, holder="remediate_watch", duration=_LEASE_DURATION, now=service.clock()
    )
    if lease is None:
        return WatchResult(skipped="another remediate_watch run holds its lease")
    result = WatchResult()
    try:
        for record in store.list_records(HISTORY_TABLE):
            if not _needs_a_visit(record.value):
                continue
            cluster_id = record.key
            try:
                result.clusters[cluster_id] = service.continue_pending(cluster_id)
            except NotFound as exc:
                store.delete_record(HISTORY_TABLE, cluster_id, etag=record.etag)
                _audit_removed(service, cluster_id, str(exc))
                result.removed.append(cluster_id)
            except TransientError as exc:
                result.failed[cluster_id] = str(exc)
            except OpsError as exc:  # a permission, a setting: the others go on
                result.refused[cluster_id] = describe_error(exc)
    finally:
        store.release_lease(lease)
    return result


def _needs_a_visit(value: Any) -> bool:
    """An operation in flight, a restore pending, or a change whose drift is worth checking."""
    history = value.get("history") or {}
    return bool(value.get("operation") or value.get("revert") or history.get("applied"))


def _audit_removed(service: RemediateService, cluster_id: str, reason: str) -> None:
    now = service.clock()
    service.store.append_audit(
        AuditRecord(
            key=f"remediate.removed:{cluster_id}:{now.isoformat()}",
            capability="remediate",
            kind="remediate.removed",
            target=cluster_id,
            reason=f"the cluster is gone; its remediation record was removed ({reason})",
            status="removed",
            at=now,
            detail={},
        )
    )
