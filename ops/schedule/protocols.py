"""What the schedule service needs from the outside world, as Protocols.

The service never imports an adapter: ``ops.services`` passes in objects that satisfy
these (``ops.adapters.graph`` and ``ops.adapters.aks`` in Azure and the sandbox, fakes
in unit tests). Stop, start and pool updates are long-running in ARM; the adapter
starts them and returns an :class:`OperationRef` without waiting, and a later tick
asks :meth:`ClusterControl.get_operation` how it ended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ops.schedule.clusters import ObservedCluster, PoolScale


class OperationState(StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


@dataclass(frozen=True, slots=True)
class OperationRef:
    """A started ARM long-running operation: where to poll it (the
    ``Azure-AsyncOperation`` or ``Location`` URL), or ``url=None`` when ARM finished
    it synchronously (200/204)."""

    url: str | None


@dataclass(frozen=True, slots=True)
class OperationResult:
    state: OperationState
    error: str | None = None


class ClusterInventory(Protocol):
    """Finds the managed clusters in scope (one paged Resource Graph query)."""

    def list_clusters(self) -> Sequence[ObservedCluster]: ...


class ClusterControl(Protocol):
    """Reads and changes single clusters through ARM. Methods raise ops.errors."""

    def get_cluster(self, cluster_id: str) -> ObservedCluster: ...

    def list_subscription_clusters(self, subscription: str) -> Sequence[ObservedCluster]:
        """Every managed cluster of one subscription, from ARM itself (not Resource Graph)."""
        ...

    def begin_stop(self, cluster_id: str) -> OperationRef: ...

    def begin_start(self, cluster_id: str) -> OperationRef: ...

    def begin_scale_pool(
        self, cluster_id: str, pool: str, scale: PoolScale, *, start: bool = False
    ) -> OperationRef:
        """Set the pool's count and autoscaler bounds exactly (``start`` also asks for
        powerState Running, for a pool left stopped by a failed cluster start)."""
        ...

    def get_operation(self, ref: OperationRef) -> OperationResult: ...

    def update_tags(self, cluster_id: str, changes: Mapping[str, str | None]) -> Mapping[str, str]:
        """Merge ``changes`` into the cluster's tags (None removes a tag); returns the new tags."""
        ...
