"""Observed AKS clusters and node pools: the shapes adapters fill and the planner reads.

They carry only what the schedule needs, in ARM's own terms (``powerState.code``,
``provisioningState``, ``enableAutoScaling``, ``minCount``, ``maxCount``), so that a
Resource Graph row and an ARM GET produce the same object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ops.resource_ids import parse_resource_id

#: provisioningState values during which AKS rejects a new operation.
BUSY_STATES = frozenset(
    {
        "creating",
        "updating",
        "upgrading",
        "scaling",
        "starting",
        "stopping",
        "deleting",
        "migrating",
        "canceling",
    }
)


@dataclass(frozen=True, slots=True)
class PoolScale:
    """A pool's size and autoscaler bounds: exactly what scale-to-zero must give back."""

    count: int
    enable_auto_scaling: bool = False
    min_count: int | None = None
    max_count: int | None = None

    @property
    def is_zero(self) -> bool:
        return self.count == 0 and not self.enable_auto_scaling

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "enableAutoScaling": self.enable_auto_scaling,
            "minCount": self.min_count,
            "maxCount": self.max_count,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PoolScale:
        return cls(
            count=int(data.get("count") or 0),
            enable_auto_scaling=bool(data.get("enableAutoScaling")),
            min_count=_optional_int(data.get("minCount")),
            max_count=_optional_int(data.get("maxCount")),
        )


ZERO = PoolScale(count=0)


@dataclass(frozen=True, slots=True)
class ObservedPool:
    """One agent pool as ARM reports it."""

    name: str
    mode: str  # System or User
    scale: PoolScale
    power_state: str = "Running"
    provisioning_state: str = "Succeeded"

    @property
    def is_system(self) -> bool:
        return self.mode.lower() == "system"


@dataclass(frozen=True, slots=True)
class ObservedCluster:
    """One managed cluster as ARM (or Resource Graph) reports it."""

    id: str
    name: str
    subscription: str
    resource_group: str
    location: str
    tags: Mapping[str, str] = field(default_factory=dict)
    power_state: str = "Running"
    provisioning_state: str = "Succeeded"
    pools: tuple[ObservedPool, ...] = ()

    @property
    def key(self) -> str:
        """ARM ids are case-insensitive; records are keyed by the lower-cased id."""
        return self.id.lower()

    @property
    def is_stopped(self) -> bool:
        return self.power_state.lower() == "stopped"

    @property
    def is_busy(self) -> bool:
        return self.provisioning_state.lower() in BUSY_STATES

    @property
    def is_failed(self) -> bool:
        return self.provisioning_state.lower() == "failed"

    def pool_id(self, pool: str) -> str:
        return f"{self.id}/agentPools/{pool}"


def cluster_from_arm(resource: Mapping[str, Any]) -> ObservedCluster:
    """An ObservedCluster from a managedClusters resource in ARM's JSON shape (the
    body of a GET, or a Resource Graph row with ``properties``)."""
    props: Mapping[str, Any] = resource.get("properties") or {}
    ident = str(resource["id"])
    parsed = parse_resource_id(ident, field="id")
    pools = tuple(pool_from_arm(p) for p in props.get("agentPoolProfiles") or ())
    return ObservedCluster(
        id=ident,
        name=str(resource.get("name") or parsed.name),
        subscription=str(resource.get("subscriptionId") or parsed.subscription),
        resource_group=str(resource.get("resourceGroup") or parsed.resource_group),
        location=str(resource.get("location") or ""),
        tags={str(k): str(v) for k, v in (resource.get("tags") or {}).items()},
        power_state=str((props.get("powerState") or {}).get("code") or "Running"),
        provisioning_state=str(props.get("provisioningState") or "Succeeded"),
        pools=pools,
    )


def pool_from_arm(profile: Mapping[str, Any]) -> ObservedPool:
    """An ObservedPool from an agentPoolProfiles entry or an agentPools body's properties."""
    props: Mapping[str, Any] = profile.get("properties") or profile
    return ObservedPool(
        name=str(profile.get("name") or ""),
        mode=str(props.get("mode") or "User"),
        scale=PoolScale.from_dict(props),
        power_state=str((props.get("powerState") or {}).get("code") or "Running"),
        provisioning_state=str(props.get("provisioningState") or "Succeeded"),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
