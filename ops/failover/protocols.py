"""What the failover service needs from outside; ``ops.adapters.failover`` implements it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from ops.failover.machine import Endpoint, Origin, PointerValue, Replica
from ops.failover.policy import Stamp
from ops.plan import Action


class FailoverPaths(Protocol):
    """Reads a stamp's write paths, moves them one property at a time, and checks a region."""

    def read_pointer(self, stamp: Stamp) -> PointerValue: ...
    def read_origins(self, stamp: Stamp) -> dict[str, Origin]: ...
    def read_endpoints(self, stamp: Stamp) -> dict[str, Endpoint]: ...
    def read_replicas(self, stamp: Stamp) -> dict[str, Replica]: ...
    def set_pointer(self, action: Action) -> None: ...
    def set_origin_state(self, action: Action) -> None: ...
    def set_endpoint_priority(self, action: Action) -> None: ...
    def set_replication_routing(self, action: Action) -> None: ...

    def read_availability(self, resource_id: str) -> tuple[str, datetime | None]:
        """Resource Health's availabilityState, and the time it last changed."""
        ...

    def probe_registry(self, endpoint: str, probe: str) -> str | None:
        """None when the regional endpoint serves ``probe`` (repository:tag), else why not."""
        ...

    def probe_cluster(self, cluster_id: str) -> str | None:
        """None when the cluster's API server answers, else why not."""
        ...


class Publisher(Protocol):
    """The app's CloudEvents topic."""

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None: ...
