"""What remediation observes: a cluster's outbound and pool shape, and the signals that confirm
an alert, in AKS's and Azure Monitor's own terms.

Adapters fill these from ARM (``managedClusters`` GET), Azure Monitor metrics, the VNet
and Compute usages APIs and the cluster's API server; planners read nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.resource_ids import parse_resource_id


@dataclass(frozen=True, slots=True)
class Pool:
    """One agent pool, as the SNAT, subnet and quota rules count it."""

    name: str
    mode: str = "User"
    count: int = 1
    vm_size: str = "Standard_D4s_v5"
    enable_auto_scaling: bool = False
    min_count: int | None = None
    max_count: int | None = None
    max_pods: int = 110
    max_surge: str | None = None
    vnet_subnet_id: str | None = None
    power_state: str = "Running"

    @property
    def top(self) -> int:
        """The nodes AKS counts for the pool: maxCount when autoscaled, else count."""
        return self.max_count if self.enable_auto_scaling and self.max_count is not None else self.count

    @property
    def surge(self) -> int:
        """Extra nodes during an upgrade: ``maxSurge`` (a count or a percentage), default 1."""
        text = (self.max_surge or "1").strip()
        if text.endswith("%"):
            return math.ceil(self.top * float(text[:-1]) / 100)
        return int(text)


@dataclass(frozen=True, slots=True)
class Outbound:
    """``networkProfile``: how nodes reach the internet and with how many ports."""

    outbound_type: str = "loadBalancer"  # loadBalancer or managedNATGateway (others: not remediated)
    network_plugin: str = "azure"
    network_plugin_mode: str | None = None
    managed_outbound_ips: int = 1
    allocated_outbound_ports: int = 0  # 0: dynamic (default tiers)
    idle_timeout_minutes: int = 30
    nat_gateway_ips: int = 1
    custom_outbound_ips: bool = False  # outboundIPs or outboundIPPrefixes: not ours to change

    @property
    def flat_cni(self) -> bool:
        return self.network_plugin == "azure" and self.network_plugin_mode != "overlay"


@dataclass(frozen=True, slots=True)
class ObservedCluster:
    id: str
    name: str
    location: str
    subscription: str
    etag: str | None
    node_resource_group: str
    provisioning_state: str
    power_state: str
    outbound: Outbound
    pools: tuple[Pool, ...]
    tags: Mapping[str, str] = field(default_factory=dict)

    def pool(self, name: str) -> Pool | None:
        return next((p for p in self.pools if p.name == name), None)


def cluster_from_arm(body: Mapping[str, Any], etag: str | None = None) -> ObservedCluster:
    """An ObservedCluster from a ``managedClusters`` GET (the SDK model's ``as_dict`` or raw JSON)."""
    props = body.get("properties") or body
    net = _get(props, "network_profile", "networkProfile") or {}
    lb = _get(net, "load_balancer_profile", "loadBalancerProfile") or {}
    nat = _get(net, "nat_gateway_profile", "natGatewayProfile") or {}
    managed = _get(lb, "managed_outbound_i_ps", "managedOutboundIPs") or {}
    nat_managed = _get(nat, "managed_outbound_ip_profile", "managedOutboundIPProfile") or {}
    outbound = Outbound(
        outbound_type=str(_get(net, "outbound_type", "outboundType") or "loadBalancer"),
        network_plugin=str(_get(net, "network_plugin", "networkPlugin") or "azure"),
        network_plugin_mode=_get(net, "network_plugin_mode", "networkPluginMode"),
        managed_outbound_ips=int(managed.get("count") or 1),
        allocated_outbound_ports=int(_get(lb, "allocated_outbound_ports", "allocatedOutboundPorts") or 0),
        idle_timeout_minutes=int(_get(lb, "idle_timeout_in_minutes", "idleTimeoutInMinutes") or 30),
        nat_gateway_ips=int(nat_managed.get("count") or 1),
        custom_outbound_ips=bool(
            _get(lb, "outbound_i_ps", "outboundIPs") or _get(lb, "outbound_ip_prefixes", "outboundIPPrefixes")
        ),
    )
    pools = tuple(_pool(p) for p in _get(props, "agent_pool_profiles", "agentPoolProfiles") or [])
    cluster_id = str(body["id"])
    power = _get(props, "power_state", "powerState") or {}
    return ObservedCluster(
        id=cluster_id,
        name=str(body.get("name") or cluster_id.rsplit("/", 1)[-1]),
        location=str(body.get("location") or ""),
        subscription=parse_resource_id(cluster_id, field="cluster").subscription,
        etag=etag or _get(body, "e_tag", "eTag"),
        node_resource_group=str(_get(props, "node_resource_group", "nodeResourceGroup") or ""),
        provisioning_state=str(_get(props, "provisioning_state", "provisioningState") or "Succeeded"),
        power_state=str(power.get("code") or "Running"),
        outbound=outbound,
        pools=pools,
        tags=dict(body.get("tags") or {}),
    )


def _pool(data: Mapping[str, Any]) -> Pool:
    upgrade = _get(data, "upgrade_settings", "upgradeSettings") or {}
    power = _get(data, "power_state", "powerState") or {}
    return Pool(
        name=str(data["name"]),
        mode=str(data.get("mode") or "User"),
        count=int(data.get("count") or 0),
        vm_size=str(_get(data, "vm_size", "vmSize") or ""),
        enable_auto_scaling=bool(_get(data, "enable_auto_scaling", "enableAutoScaling")),
        min_count=_int_or_none(_get(data, "min_count", "minCount")),
        max_count=_int_or_none(_get(data, "max_count", "maxCount")),
        max_pods=int(_get(data, "max_pods", "maxPods") or 110),
        max_surge=_get(upgrade, "max_surge", "maxSurge"),
        vnet_subnet_id=_get(data, "vnet_subnet_id", "vnetSubnetID"),
        power_state=str(power.get("code") or "Running"),
    )


def _get(data: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        if name in data and data[name] is not None:
            return data[name]
    return None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


# -- signals ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SnatSignal:
    """The SNAT metrics re-read when an alert arrives (per backend IP, the last minute)."""

    allocated_per_backend: Mapping[str, float] = field(default_factory=dict)
    used_per_backend: Mapping[str, float] = field(default_factory=dict)
    failed_per_backend: Mapping[str, float] = field(default_factory=dict)
    failed_connections: float = 0.0  # SnatConnectionCount (NAT: SNATConnectionCount), Failed, Total
    attempted_connections: float = 0.0  # NAT gateway: SNATConnectionCount, Attempted, Total

    @property
    def demand_per_node(self) -> float:
        """Ports the busiest node wanted: what it used plus what failed for want of a port."""
        return max(
            (used + self.failed_per_backend.get(ip, 0.0) for ip, used in self.used_per_backend.items()),
            default=0.0,
        )

    @property
    def max_used_ratio(self) -> float:
        ratios = [
            used / self.allocated_per_backend[ip]
            for ip, used in self.used_per_backend.items()
            if self.allocated_per_backend.get(ip)
        ]
        return max(ratios, default=0.0)


@dataclass(frozen=True, slots=True)
class SubnetUsage:
    id: str
    limit: int  # usable addresses
    current: int  # in use, every pool at (maxCount + surge) as AKS pre-allocates

    @property
    def free(self) -> int:
        return self.limit - self.current


@dataclass(frozen=True, slots=True)
class QuotaUsage:
    name: str  # standardDSv5Family, cores
    limit: int
    current: int

    @property
    def free(self) -> int:
        return self.limit - self.current


@dataclass(frozen=True, slots=True)
class AutoscalerSignal:
    """What the cluster's API server says about the autoscaler."""

    unschedulable_pods: int = 0
    max_size_reached_events: int = 0  # NotTriggerScaleUp with "max node group size reached"
    status_max_reached: Sequence[str] = ()  # node groups the status ConfigMap reports at max size


@dataclass(frozen=True, slots=True)
class ClusterChange:
    """What one remediation changes in a cluster's PUT body; everything else is sent as read."""

    allocated_outbound_ports: int | None = None
    managed_outbound_ips: int | None = None
    nat_gateway_ips: int | None = None
    pool: str | None = None
    max_count: int | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> ClusterChange:
        return cls(
            allocated_outbound_ports=_int_or_none(params.get("allocatedOutboundPorts")),
            managed_outbound_ips=_int_or_none(params.get("managedOutboundIPs")),
            nat_gateway_ips=_int_or_none(params.get("natGatewayIPs")),
            pool=params.get("pool"),
            max_count=_int_or_none(params.get("maxCount")),
        )

    def differs_from(self, cluster: ObservedCluster) -> list[str]:
        """What ``cluster`` shows different from this change (after it was applied): the drift."""
        out = cluster.outbound
        found = []
        for label, wanted, actual in (
            ("allocatedOutboundPorts", self.allocated_outbound_ports, out.allocated_outbound_ports),
            ("managedOutboundIPs", self.managed_outbound_ips, out.managed_outbound_ips),
            ("natGatewayIPs", self.nat_gateway_ips, out.nat_gateway_ips),
        ):
            if wanted is not None and wanted != actual:
                found.append(f"{label} is {actual}, set to {wanted}")
        pool = cluster.pool(self.pool) if self.pool else None
        if pool is not None and self.max_count is not None and pool.max_count != self.max_count:
            found.append(f"{pool.name} maxCount is {pool.max_count}, set to {self.max_count}")
        return found
