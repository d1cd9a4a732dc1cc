"""The arithmetic of AKS's outbound, subnet and quota rules: pure functions the planners share.

Port math (MicrosoftDocs azure-aks-docs, configure-load-balancer-standard.md): each
managed outbound IP gives 64,000 ports, so a cluster can have at most
64,000 x IPs / ports-per-node nodes (1,000 ports x 2 IPs → 128 nodes; 4,000 x 7 → 112).
AKS validates that with every pool at (maxCount if autoscaled, else count) plus its
surge (``InvalidLoadBalancerProfileAllocatedOutboundPorts``). With ``allocatedOutboundPorts:
0`` the load balancer gives each node a default share that shrinks in tiers as the
backend pool grows.

Subnet math (concepts-network-ip-address-planning.md): flat Azure CNI pre-allocates
maxPods + 1 addresses per node, overlay and kubenet one, every pool at (maxCount or
count) + surge (``InsufficientSubnetSize``). vCPUs come from the VM size's name.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ops.remediate.clusters import Outbound, Pool

PORTS_PER_IP = 64_000
NAT_PORTS_PER_IP = 64_512
MAX_PORTS_PER_NODE = 64_000
MAX_LB_IPS = 100
MAX_NAT_IPS = 16
MAX_POOL_NODES = 1_000
MAX_CLUSTER_NODES = 5_000
#: Default ports per node by backend pool size: (up to this many nodes, ports each).
DYNAMIC_TIERS = ((50, 1024), (100, 512), (200, 256), (400, 128), (800, 64), (1000, 32))
_VM_SIZE = re.compile(r"^Standard_([A-Z]+)(\d+)([a-z]*)(?:_v(\d+))?$")


def max_nodes_for_ports(ports_per_node: int, ips: int) -> int:
    """How many nodes ``ips`` outbound IPs can give ``ports_per_node`` each (64,000 per IP)."""
    return PORTS_PER_IP * ips // ports_per_node


def ips_for_ports(ports_per_node: int, nodes: int) -> int:
    """The fewest outbound IPs that give ``nodes`` nodes ``ports_per_node`` each."""
    return max(1, math.ceil(ports_per_node * nodes / PORTS_PER_IP))


def validated_nodes(pools: Iterable[Pool]) -> int:
    """The node count AKS validates ports against: Σ (maxCount or count) + surge."""
    return sum(pool.top + pool.surge for pool in pools)


def ports_fit(ports_per_node: int, ips: int, pools: Iterable[Pool]) -> bool:
    """Whether AKS would accept ``ports_per_node`` with ``ips`` IPs for these pools (0: dynamic)."""
    return ports_per_node == 0 or ports_per_node * validated_nodes(pools) <= PORTS_PER_IP * ips


def dynamic_ports(backends: int) -> int:
    """The default ports per node of a backend pool of ``backends`` nodes (0 past 1,000)."""
    for limit, ports in DYNAMIC_TIERS:
        if backends <= limit:
            return ports
    return 0


def round_ports(ports: float) -> int:
    """Up to AKS's granularity: a multiple of 8, at most 64,000."""
    return min(MAX_PORTS_PER_NODE, math.ceil(ports / 8.0) * 8)


def ips_per_node(outbound: Outbound, pool: Pool) -> int:
    """Addresses a node takes from its subnet: maxPods + 1 with flat Azure CNI, else 1."""
    return pool.max_pods + 1 if outbound.flat_cni else 1


def subnet_demand(outbound: Outbound, pools: Iterable[Pool]) -> int:
    """Addresses AKS pre-allocates for these pools: (top + surge) x per-node addresses."""
    return sum((pool.top + pool.surge) * ips_per_node(outbound, pool) for pool in pools)


@dataclass(frozen=True, slots=True)
class VmSize:
    family: str  # the Compute usages name, e.g. standardDSv5Family
    vcpus: int


def vm_size(name: str) -> VmSize | None:
    """Family and vCPUs of a VM size by its name (``Standard_D4s_v5`` → standardDSv5Family, 4)."""
    match = _VM_SIZE.match(name)
    if match is None:
        return None
    series, vcpus, features, version = match.groups()
    return VmSize(f"standard{series}{features.upper()}{'v' + version if version else ''}Family", int(vcpus))
