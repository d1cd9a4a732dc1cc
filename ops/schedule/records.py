"""What the schedule remembers between ticks, in the StateStore.

Four kinds of record, keyed by lower-cased ARM id (ids are case-insensitive):

- an :class:`Operation` per target (cluster or pool): the last stop, start, pool
  update or cluster update started for it, for which window, which attempt, and how it
  ended. A tick starts a long-running operation and leaves; a later tick confirms it.
  Failures carry the time of the next retry (exponential backoff), and whether ARM
  refused the request outright (409: not allowed in the resource's current state).
- a snooze per cluster (``{"until": <ISO time>}``), only when AKS refused to write the
  ``ops-snooze-until`` tag because the cluster was stopped;
- a :class:`SavedPool` per pool: its count and autoscaler bounds from before it was
  scaled to zero (``restore``; deleted once restored), or from before its cluster was
  stopped (``last-known``; what the cluster-mode fallback starts pools with);
- a manual start per cluster: the first tick that saw the cluster running again after
  the schedule's stop had finished, so that its grace period counts from then.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from ops.schedule.clusters import PoolScale
from ops.schedule.policy import RetryPolicy
from ops.schedule.protocols import OperationResult, OperationState

OPERATIONS_TABLE = "schedule-operations"
POOLS_TABLE = "schedule-pools"
SNOOZES_TABLE = "schedule-snoozes"
#: A cluster seen running after the schedule stopped it: someone started it by hand. By
#: cluster key: {"after": the stop's finish, "seen": the first tick that saw it running}.
MANUAL_STARTS_TABLE = "schedule-manual-starts"
LEASE_NAME = "schedule-tick"


class Kind(StrEnum):
    """Action kinds of the schedule plan (and of its operation records)."""

    STOP = "stop_cluster"
    START = "start_cluster"
    SCALE_DOWN = "scale_pool_to_zero"
    RESTORE = "restore_pool"
    RECONCILE = "reconcile_cluster"


class OpStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Purpose(StrEnum):
    RESTORE = "restore"
    LAST_KNOWN = "last-known"


@dataclass(frozen=True, slots=True)
class Operation:
    """The last operation started on ``target`` (a cluster or pool id)."""

    target: str
    cluster: str
    kind: Kind
    window: str
    attempt: int
    status: OpStatus
    started: datetime
    url: str | None = None
    finished: datetime | None = None
    error: str | None = None
    retry_at: datetime | None = None
    #: ARM turned the request down (409 Conflict): no operation ran, and asking again
    #: changes nothing until the resource's state does.
    refused: bool = False

    @property
    def key(self) -> str:
        return self.target.lower()

    def to_value(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "cluster": self.cluster,
            "kind": str(self.kind),
            "window": self.window,
            "attempt": self.attempt,
            "status": str(self.status),
            "started": self.started.isoformat(),
            "url": self.url,
            "finished": self.finished.isoformat() if self.finished else None,
            "error": self.error,
            "retryAt": self.retry_at.isoformat() if self.retry_at else None,
            "refused": self.refused,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> Operation:
        return cls(
            target=str(value["target"]),
            cluster=str(value["cluster"]),
            kind=Kind(value["kind"]),
            window=str(value["window"]),
            attempt=int(value["attempt"]),
            status=OpStatus(value["status"]),
            started=datetime.fromisoformat(value["started"]),
            url=value.get("url"),
            finished=_instant(value.get("finished")),
            error=value.get("error"),
            retry_at=_instant(value.get("retryAt")),
            refused=bool(value.get("refused", False)),
        )


def settle_operation(
    operation: Operation, result: OperationResult, *, now: datetime, retry: RetryPolicy
) -> Operation:
    """The record after asking ARM how a pending operation is doing."""
    if result.state is OperationState.SUCCEEDED:
        return replace(operation, status=OpStatus.SUCCEEDED, finished=now, error=None, retry_at=None)
    if result.state is OperationState.FAILED:
        return fail_operation(operation, result.error or "the operation failed", now=now, retry=retry)
    if now - operation.started > retry.operation_timeout:
        return fail_operation(
            operation,
            f"still running after {retry.operation_timeout}; treated as failed",
            now=now,
            retry=retry,
        )
    return operation


def fail_operation(operation: Operation, error: str, *, now: datetime, retry: RetryPolicy) -> Operation:
    return replace(
        operation,
        status=OpStatus.FAILED,
        finished=now,
        error=error,
        retry_at=now + retry.delay(operation.attempt),
    )


@dataclass(frozen=True, slots=True)
class SavedPool:
    """A pool's scale, saved before the schedule changed it."""

    pool_id: str
    cluster: str
    name: str
    mode: str
    purpose: Purpose
    scale: PoolScale
    saved_at: datetime

    @property
    def key(self) -> str:
        return saved_pool_key(self.purpose, self.pool_id)

    def to_value(self) -> dict[str, Any]:
        return {
            "pool": self.pool_id,
            "cluster": self.cluster,
            "name": self.name,
            "mode": self.mode,
            "purpose": str(self.purpose),
            "scale": self.scale.to_dict(),
            "savedAt": self.saved_at.isoformat(),
        }

    @classmethod
    def from_value(cls, value: Mapping[str, Any]) -> SavedPool:
        return cls(
            pool_id=str(value["pool"]),
            cluster=str(value["cluster"]),
            name=str(value["name"]),
            mode=str(value.get("mode") or "User"),
            purpose=Purpose(value["purpose"]),
            scale=PoolScale.from_dict(value["scale"]),
            saved_at=datetime.fromisoformat(value["savedAt"]),
        )


def saved_pool_key(purpose: Purpose, pool_id: str) -> str:
    return f"{purpose}:{pool_id.lower()}"


def _instant(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
