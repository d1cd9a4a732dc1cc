"""What the remediation service needs from the outside world, as Protocols.

``ops.services`` passes in adapters (ARM through azure-mgmt-containerservice,
azure-mgmt-network, azure-mgmt-compute and azure-mgmt-monitor; the cluster's API server
through kubernetes); unit tests pass fakes. Methods raise ``ops.errors``. A cluster PUT
is a long-running operation: :meth:`ClusterWriter.begin_update` starts it and returns
where to poll it, and a later invocation asks how it ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from ops.remediate.clusters import (
    AutoscalerSignal,
    ClusterChange,
    ObservedCluster,
    QuotaUsage,
    SnatSignal,
    SubnetUsage,
)
from ops.schedule.protocols import OperationRef, OperationResult


class ClusterWriter(Protocol):
    def get_cluster(self, cluster_id: str) -> ObservedCluster: ...

    def find_by_node_resource_group(self, subscription: str, node_resource_group: str) -> str | None:
        """The id of the cluster whose ``nodeResourceGroup`` is this group (case-insensitive)."""
        ...

    def find_by_name(self, subscriptions: list[str], name: str) -> list[str]:
        """The ids of the clusters of this name in these subscriptions."""
        ...

    def begin_update(self, cluster_id: str, *, etag: str | None, change: ClusterChange) -> OperationRef:
        """GET, apply ``change`` only, PUT with If-Match ``etag``; Conflict on 412."""
        ...

    def get_operation(self, ref: OperationRef) -> OperationResult: ...


class OutboundReader(Protocol):
    def read_snat(self, resource_id: str, *, nat_gateway: bool, now: datetime) -> SnatSignal: ...


class CapacityReader(Protocol):
    def subnet_usage(self, subnet_id: str) -> SubnetUsage: ...

    def quota_usage(self, subscription: str, location: str) -> Mapping[str, QuotaUsage]: ...


class AutoscalerReader(Protocol):
    def read_autoscaler(self, cluster: ObservedCluster) -> AutoscalerSignal: ...
