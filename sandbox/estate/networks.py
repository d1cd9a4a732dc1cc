"""Virtual networks, subnets and regional quotas of an estate: load, validate, dump.

Clusters place agent pools in subnets (``vnetSubnetID``: a full subnet id, or
``<vnet>/<subnet>`` of a virtual network in the cluster's resource group); the ARM
endpoint then reports each subnet's address usage and refuses pools that outgrow it,
as AKS does. Quotas are the regional vCPU limits the Compute usages API reports; the
usage itself is computed from the estate's running nodes.
"""

from __future__ import annotations

from typing import Any

from sandbox.world import Cluster, Quota, Subnet, VirtualNetwork, World


class NetworkBuilding:
    """The virtual network and quota half of :class:`~sandbox.estate.building.Builder`."""

    world: World
    problems: Any
    estate: Any

    def place(
        self, subscription: str | None, resource_group: str, location: str | None, path: str
    ) -> Any: ...

    def build_networks(self) -> None:
        for index, model in enumerate(self.estate.virtual_networks):
            path = f"virtualNetworks[{index}]"
            sub, group, location = self.place(model.subscription, model.resource_group, model.location, path)
            vnet = VirtualNetwork(model.name, sub, group, location, list(model.address_prefixes))
            for s_index, subnet in enumerate(model.subnets):
                if subnet.name.lower() in (n.lower() for n in vnet.subnets):
                    self.problems.add(f"{path}.subnets[{s_index}].name", f"duplicate subnet {subnet.name}")
                vnet.subnets[subnet.name] = Subnet(
                    subnet.name, subnet.address_prefix, subnet.other_used_addresses
                )
            if vnet.id.lower() in self.world.virtual_networks:
                self.problems.add(f"{path}.name", f"duplicate virtual network {model.name}")
            self.world.virtual_networks[vnet.id.lower()] = vnet
        for index, quota in enumerate(self.estate.quotas):
            sub = _subscription(self.world, quota.subscription)
            if sub is None:
                wanted = quota.subscription
                self.problems.add(
                    f"quotas[{index}].subscription", f"{wanted!r} is not a subscription of the estate"
                )
                continue
            self.world.quotas.append(Quota(sub, quota.location, quota.name, quota.limit, quota.other_usage))

    def resolve_subnets(self, cluster: Cluster, path: str) -> None:
        """Turn each pool's ``vnetSubnetID`` shorthand into the subnet's id; report unknown subnets."""
        from sandbox.arm.capacity import AksRejection, check_subnets, find_subnet

        for p_index, pool in enumerate(cluster.agent_pools.values()):
            ref = pool.vnet_subnet_id
            if not ref:
                continue
            if not ref.startswith("/"):
                vnet, _, subnet = ref.partition("/")
                ref = (
                    f"/subscriptions/{cluster.subscription}/resourceGroups/{cluster.resource_group}"
                    f"/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{subnet}"
                )
            found = find_subnet(self.world, ref)
            if found is None:
                self.problems.add(
                    f"{path}.agentPools[{p_index}].vnetSubnetID",
                    f"{pool.vnet_subnet_id!r} is not a subnet of the estate",
                )
                continue
            pool.vnet_subnet_id = f"{found[0].id}/subnets/{found[1].name}"
        try:
            check_subnets(self.world, cluster, cluster.network, list(cluster.agent_pools.values()))
        except AksRejection as exc:
            self.problems.add(f"{path}.agentPools", exc.message)


def _subscription(world: World, ref: str | None) -> str | None:
    """The id of the subscription ``ref`` names (id or name); the first one when None."""
    subs = world.subscriptions
    if ref is None:
        return next(iter(subs), None)
    found = subs.get(ref.lower()) or next((s for s in subs.values() if s.name == ref), None)
    return None if found is None else found.id


def dump_networks(world: World) -> list[dict[str, Any]]:
    return [
        {
            "name": vnet.name,
            "subscription": vnet.subscription,
            "resourceGroup": vnet.resource_group,
            "location": vnet.location,
            "addressPrefixes": list(vnet.address_prefixes),
            "subnets": [
                {"name": s.name, "addressPrefix": s.address_prefix, "otherUsedAddresses": s.other_used}
                for s in vnet.subnets.values()
            ],
        }
        for vnet in world.virtual_networks.values()
    ]


def dump_quotas(world: World) -> list[dict[str, Any]]:
    return [
        {
            "subscription": q.subscription,
            "location": q.location,
            "name": q.name,
            "limit": q.limit,
            "otherUsage": q.other_usage,
        }
        for q in world.quotas
    ]
