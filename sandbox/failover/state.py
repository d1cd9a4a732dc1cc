"""The failover part of the World: regions, Front Door, Traffic Manager, App Configuration.

Plain mutable dataclasses guarded by ``World.lock``, like the rest of the World.
Health is derived, never stored: an origin or endpoint in an impaired region probes
unhealthy, and a resource in an impaired region reports ``Unavailable``, from the
moment the region was impaired (``RegionState.changed``, sandbox time).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: What ARM does with a replication write while the registry's home region is impaired.
HOME_DOWN_POLICIES = ("refuse", "accept")


def region_key(name: str) -> str:
    """ARM's short region name: ``East US 2`` → ``eastus2``."""
    return re.sub(r"\s+", "", name).lower()


@dataclass(slots=True)
class RegionState:
    name: str
    impaired: bool = False
    changed: datetime | None = None  # sandbox time of the last impair or heal


@dataclass(slots=True)
class AfdOrigin:
    name: str
    host_name: str
    region: str  # where the origin runs (sandbox-only: AFD does not know regions)
    enabled_state: str = "Enabled"
    priority: int = 1
    weight: int = 1000
    http_port: int = 80
    https_port: int = 443
    provisioning_state: str = "Succeeded"


@dataclass(slots=True)
class AfdOriginGroup:
    name: str
    origins: dict[str, AfdOrigin] = field(default_factory=dict)
    probe_interval_seconds: int = 30


@dataclass(slots=True)
class FrontDoorProfile:
    name: str
    subscription: str
    resource_group: str
    sku: str = "Standard_AzureFrontDoor"
    origin_groups: dict[str, AfdOriginGroup] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Cdn/profiles/{self.name}"
        )


@dataclass(slots=True)
class TmEndpoint:
    name: str
    type: str  # ExternalEndpoints or AzureEndpoints
    target: str
    location: str  # endpointLocation, a region name
    endpoint_status: str = "Enabled"
    priority: int = 1
    weight: int = 1


@dataclass(slots=True)
class TmProfile:
    name: str
    subscription: str
    resource_group: str
    routing_method: str = "Priority"
    endpoints: dict[str, TmEndpoint] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Network/trafficManagerProfiles/{self.name}"
        )


@dataclass(slots=True)
class KeyValue:
    key: str
    label: str | None
    value: str | None
    etag: str
    last_modified: datetime
    content_type: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    locked: bool = False


@dataclass(slots=True)
class AppConfigStore:
    name: str
    subscription: str
    resource_group: str
    location: str
    key_values: dict[tuple[str, str | None], KeyValue] = field(default_factory=dict)
    port: int = 0  # assigned by the server; the endpoint is https://127.0.0.1:<port>
    sequence: int = 0  # for ETags and Sync-Tokens

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def next_etag(self, key: str, label: str | None) -> str:
        self.sequence += 1
        raw = hashlib.sha256(f"{self.name}/{key}/{label}/{self.sequence}".encode()).digest()
        return raw.hex()[:27]


@dataclass(slots=True)
class FailoverState:
    regions: dict[str, RegionState] = field(default_factory=dict)
    front_doors: dict[str, FrontDoorProfile] = field(default_factory=dict)
    traffic_managers: dict[str, TmProfile] = field(default_factory=dict)
    app_configs: dict[str, AppConfigStore] = field(default_factory=dict)
    replication_writes_when_home_down: str = "refuse"

    def region(self, name: str) -> RegionState:
        key = region_key(name)
        if key not in self.regions:
            self.regions[key] = RegionState(name=key)
        return self.regions[key]

    def is_impaired(self, name: str) -> bool:
        state = self.regions.get(region_key(name))
        return state is not None and state.impaired

    def set_impaired(self, name: str, impaired: bool, now: datetime) -> RegionState:
        state = self.region(name)
        if state.impaired != impaired or state.changed is None:
            state.impaired = impaired
            state.changed = now
        return state

    def probe_status(self, region: str, enabled: bool) -> str:
        """Traffic Manager's ``endpointMonitorStatus`` for an endpoint in ``region``."""
        if not enabled:
            return "Disabled"
        return "Degraded" if self.is_impaired(region) else "Online"


def failover_of(world: Any) -> FailoverState:
    """The World's failover state (created empty on first use)."""
    state: FailoverState = world.failover
    return state
