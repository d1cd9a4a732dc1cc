"""AKS's capacity rules, as the resource provider applies them to a cluster or agent pool write.

Three validations stand between a plan and a changed cluster, and each is answered in
AKS's own error shape (``{"code", "message", "subcode", "target", "details"}``):

- SNAT ports (``InvalidLoadBalancerProfileAllocatedOutboundPorts``): ports per node x
  Σ over pools of (maxCount or count, plus surge) ≤ 64,000 x outbound IPs
  (``sandbox.estate.nodes.snat_problem``);
- subnet size (``InsufficientSubnetSize``): with flat Azure CNI every node pre-allocates
  maxPods + 1 addresses, with overlay (or kubenet) one; each pool counts at maxCount
  when autoscaled, plus surge; the total must fit the subnet's free addresses;
- regional vCPU quota (``QuotaExceeded``): nodes actually added (count, not maxCount) must
  fit the VM family's quota and the regional total.

VM sizes map to their quota family by name (``Standard_D4s_v5`` → 4 vCPUs of
``standardDSv5Family``), the way the Compute usages API names families.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.responses import JSONResponse, Response

from sandbox.estate.nodes import max_nodes, snat_problem
from sandbox.http import SandboxHTTPError
from sandbox.world import AgentPool, Cluster, NetworkProfile, Quota, Subnet, VirtualNetwork, World

_VM_SIZE = re.compile(r"^Standard_([A-Z]+)(\d+)([a-z]*)(?:_v(\d+))?$")
_AUTOSCALER_NOTE = (
    "If Autoscaler is enabled, the max-count from each nodepool is counted towards this total "
    "(which means that pre-allocated IPs count represents a theoretical max value, not the actual "
    "number of IPs requested). http://aka.ms/aks/insufficientsubnetsize"
)
#: Azure reserves five addresses in every subnet.
RESERVED_PER_SUBNET = 5


@dataclass(frozen=True, slots=True)
class VmFamily:
    name: str  # the usages API's name.value, e.g. standardDSv5Family
    vcpus: int

    @property
    def localized(self) -> str:
        body = self.name.removeprefix("standard").removesuffix("Family")
        return f"Standard {body} Family vCPUs"


def vm_family(vm_size: str) -> VmFamily | None:
    """The quota family and vCPUs of a VM size, or None for a size the sandbox cannot name."""
    match = _VM_SIZE.match(vm_size)
    if match is None:
        return None
    series, vcpus, features, version = match.groups()
    return VmFamily(f"standard{series}{features.upper()}{'v' + version if version else ''}Family", int(vcpus))


class AksRejection(SandboxHTTPError):
    """A write AKS refuses, rendered in AKS's error shape (not ARM's ``{"error": …}`` wrapper)."""

    def __init__(self, code: str, message: str, target: str, status: int = 400) -> None:
        super().__init__(status, code, message)
        self.target = target

    def body(self) -> dict[str, object]:
        return {
            "code": self.code,
            "details": None,
            "message": self.message,
            "subcode": "",
            "target": self.target,
        }

    def to_response(self) -> Response:
        return JSONResponse(self.body(), self.status)


def check_capacity(
    world: World,
    cluster: Cluster,
    network: NetworkProfile,
    before: dict[str, AgentPool],
    after: list[AgentPool],
) -> None:
    """Every capacity rule AKS applies to a write that leaves the cluster as ``network`` + ``after``."""
    problem = snat_problem(network, after)
    if problem is not None:
        raise AksRejection(
            "InvalidLoadBalancerProfileAllocatedOutboundPorts",
            problem,
            "networkProfile.loadBalancerProfile.allocatedOutboundPorts",
        )
    check_subnets(world, cluster, network, after)
    check_quota(world, cluster, before, after)


# -- subnets ---------------------------------------------------------------------------------


def find_subnet(world: World, subnet_id: str) -> tuple[VirtualNetwork, Subnet] | None:
    """The virtual network and subnet a ``vnetSubnetID`` names (ids ignore case)."""
    head, sep, name = subnet_id.rpartition("/subnets/")
    if not sep:
        return None
    vnet = world.virtual_networks.get(head.lower())
    if vnet is None:
        return None
    subnet = next((s for key, s in vnet.subnets.items() if key.lower() == name.lower()), None)
    return None if subnet is None else (vnet, subnet)


def subnet_size(subnet: Subnet) -> int:
    """Usable addresses: the prefix's size less Azure's five reserved ones (a /24 has 251)."""
    return ipaddress.ip_network(subnet.address_prefix, strict=False).num_addresses - RESERVED_PER_SUBNET


def ips_per_node(network: NetworkProfile, pool: AgentPool) -> int:
    """Flat Azure CNI pre-allocates the node's address plus one per pod; overlay and kubenet one."""
    flat = network.network_plugin == "azure" and network.network_plugin_mode != "overlay"
    return pool.max_pods + 1 if flat else 1


def preallocated_ips(network: NetworkProfile, pools: Iterable[AgentPool]) -> int:
    """What AKS counts against the subnet: every pool at (maxCount or count) + surge."""
    return sum(max_nodes(pool) * ips_per_node(network, pool) for pool in pools)


def subnet_usage(world: World, subnet_id: str, *, exclude: str | None = None) -> int:
    """Addresses in use in a subnet: its other consumers, plus every cluster pool placed in it
    (``exclude`` leaves one cluster out, for checking that cluster's new shape)."""
    found = find_subnet(world, subnet_id)
    if found is None:
        return 0
    used = found[1].other_used
    for cluster in world.clusters.values():
        if exclude is not None and cluster.id.lower() == exclude.lower():
            continue
        pools = [
            p for p in cluster.agent_pools.values() if (p.vnet_subnet_id or "").lower() == subnet_id.lower()
        ]
        used += preallocated_ips(cluster.network, pools)
    return used


def check_subnets(world: World, cluster: Cluster, network: NetworkProfile, pools: list[AgentPool]) -> None:
    """Raise ``InsufficientSubnetSize`` when the pools' pre-allocation outgrows a subnet."""
    by_subnet: dict[str, list[AgentPool]] = {}
    for pool in pools:
        if pool.vnet_subnet_id:
            by_subnet.setdefault(pool.vnet_subnet_id.lower(), []).append(pool)
    for subnet_id, members in by_subnet.items():
        found = find_subnet(world, subnet_id)
        if found is None:
            raise AksRejection(
                "InvalidParameter",
                f"The subnet '{subnet_id}' of agent pool '{members[0].name}' was not found.",
                "agentPoolProfile.vnetSubnetID",
            )
        _, subnet = found
        wanted = preallocated_ips(network, members)
        available = subnet_size(subnet) - subnet_usage(world, subnet_id, exclude=cluster.id)
        if wanted > available:
            raise AksRejection(
                "InsufficientSubnetSize",
                f"Pre-allocated IPs {wanted} exceeds IPs available {available} in Subnet Cidr "
                f"{subnet.address_prefix}, Subnet Name {subnet.name}. {_AUTOSCALER_NOTE}",
                "agentPoolProfile.count",
            )


# -- quota -----------------------------------------------------------------------------------


def vcpu_usage(world: World, subscription: str, location: str, family: str) -> int:
    """vCPUs the estate's running nodes use in one family (``cores``: every family) and region."""
    used = 0
    for cluster in world.clusters.values():
        if cluster.subscription.lower() != subscription.lower() or cluster.location != location:
            continue
        for pool in cluster.agent_pools.values():
            size = vm_family(pool.vm_size)
            if size is None or pool.power_state != "Running" or cluster.power_state != "Running":
                continue
            if family in ("cores", size.name):
                used += pool.count * size.vcpus
    return used


def find_quota(world: World, subscription: str, location: str, name: str) -> Quota | None:
    return next(
        (
            q
            for q in world.quotas
            if q.subscription.lower() == subscription.lower() and q.location == location and q.name == name
        ),
        None,
    )


def check_quota(world: World, cluster: Cluster, before: dict[str, AgentPool], after: list[AgentPool]) -> None:
    """Raise ``QuotaExceeded`` when the nodes a write adds do not fit the regional vCPU quota."""
    added: dict[str, int] = {}
    for pool in after:
        size = vm_family(pool.vm_size)
        if size is None or pool.power_state != "Running":
            continue
        old = before.get(pool.name)
        old_count = old.count if old is not None and old.power_state == "Running" else 0
        if pool.count > old_count:
            extra = (pool.count - old_count) * size.vcpus
            added[size.name] = added.get(size.name, 0) + extra
            added["cores"] = added.get("cores", 0) + extra
    for name, extra in added.items():
        quota = find_quota(world, cluster.subscription, cluster.location, name)
        if quota is None:
            continue
        used = quota.other_usage + vcpu_usage(world, cluster.subscription, cluster.location, name)
        if used + extra > quota.limit:
            label = "Total Regional Cores" if name == "cores" else f"{name} Cores"
            node_rg = f"MC_{cluster.resource_group}_{cluster.name}_{cluster.location}"
            raise AksRejection(
                "QuotaExceeded",
                f"Preflight validation check for resource(s) for container service {cluster.name} in "
                f"resource group {node_rg} failed. Message: Operation could not be completed as it results "
                f"in exceeding approved {label} quota. Additional details - Deployment Model: Resource "
                f"Manager, Location: {cluster.location}, Current Limit: {quota.limit}, Current Usage: "
                f"{used}, Additional Required: {extra}, (Minimum) New Limit Required: {used + extra}.",
                "agentPoolProfile.count",
            )
