"""Microsoft.Network: what AKS makes in a node resource group, and the virtual networks pools use.

For every cluster with ``outboundType: loadBalancer`` the node resource group
(``MC_<group>_<cluster>_<region>``) holds the load balancer ``kubernetes`` with one
frontend IP configuration per managed outbound IP, the backend pool ``kubernetes`` and
the outbound rule ``aksOutboundRule`` (``allocatedOutboundPorts``, idle timeout); a
``managedNATGateway`` cluster has a NAT gateway there instead. The managed public IPs
are listed and read there too. All of it is derived from the cluster's
``networkProfile``: a change made through the AKS API shows here at once, and there is
no write route, because AKS reverts direct edits of its load balancer anyway.

Virtual networks come from the estate; ``virtualNetworks/{vnet}/usages`` reports per
subnet the addresses in use (``Subnet size and usage``), counting every agent pool
placed there as AKS pre-allocates it. Shapes follow the REST API specs' examples
(LoadBalancerGet, PublicIpAddressGet, NatGatewayGet, VirtualNetworkGet,
VirtualNetworkListUsage).
"""

from __future__ import annotations

import hashlib
from typing import Any

from starlette.responses import Response

from sandbox.arm.capacity import find_subnet, subnet_size, subnet_usage
from sandbox.arm.resources import node_resource_group, outbound_ip_ids
from sandbox.arm.routing import ArmCall, arm_route, ok, page
from sandbox.authz import check_action
from sandbox.http import SandboxHTTPError
from sandbox.world import Cluster, VirtualNetwork

_NET = "Microsoft.Network"
_GROUP = "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network"
LOAD_BALANCER = "kubernetes"
OUTBOUND_RULE = "aksOutboundRule"
NAT_GATEWAY = "kubernetes-natgw"


def _digest(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _etag(*parts: object) -> str:
    """A weak eTag like Microsoft.Network's (``W/"<guid>"``), stable for the same state."""
    h = _digest(*parts)
    return f'W/"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"'


def clusters_in_node_group(call: ArmCall) -> list[Cluster]:
    """Clusters whose node resource group is the call's resource group (case-insensitive, as ARM)."""
    sub = call.subscription()
    group = call.params["resourceGroupName"].lower()
    return [
        c
        for c in call.world.clusters.values()
        if c.subscription == sub.id and node_resource_group(c).lower() == group
    ]


def _group_exists(call: ArmCall) -> None:
    sub = call.subscription()
    group = call.params["resourceGroupName"].lower()
    if clusters_in_node_group(call) or any(g.lower() == group for g in sub.resource_groups):
        return
    raise SandboxHTTPError(
        404,
        "ResourceGroupNotFound",
        f"Resource group '{call.params['resourceGroupName']}' could not be found.",
    )


def _not_found(kind: str, name: str, group: str) -> SandboxHTTPError:
    return SandboxHTTPError(
        404,
        "ResourceNotFound",
        f"The Resource '{_NET}/{kind}/{name}' under resource group '{group}' was not found. "
        "For more details please go to https://aka.ms/ARMResourceNotFoundFix",
    )


def _group_id(cluster: Cluster) -> str:
    return f"/subscriptions/{cluster.subscription}/resourceGroups/{node_resource_group(cluster)}"


# -- load balancers ---------------------------------------------------------------------------


def render_load_balancer(cluster: Cluster) -> dict[str, Any]:
    net = cluster.network
    lb_id = f"{_group_id(cluster)}/providers/{_NET}/loadBalancers/{LOAD_BALANCER}"
    etag = _etag(
        cluster.id, net.managed_outbound_ip_count, net.allocated_outbound_ports, net.idle_timeout_minutes
    )
    frontends = [
        {
            "name": ip.rsplit("/", 1)[1],
            "id": f"{lb_id}/frontendIPConfigurations/{ip.rsplit('/', 1)[1]}",
            "etag": etag,
            "type": f"{_NET}/loadBalancers/frontendIPConfigurations",
            "properties": {
                "provisioningState": "Succeeded",
                "publicIPAddress": {"id": ip},
                "outboundRules": [{"id": f"{lb_id}/outboundRules/{OUTBOUND_RULE}"}],
            },
        }
        for ip in outbound_ip_ids(cluster)
    ]
    pool_id = f"{lb_id}/backendAddressPools/{LOAD_BALANCER}"
    return {
        "name": LOAD_BALANCER,
        "id": lb_id,
        "etag": etag,
        "type": f"{_NET}/loadBalancers",
        "location": cluster.location,
        "tags": {"aks-managed-cluster-name": cluster.name, "aks-managed-cluster-rg": cluster.resource_group},
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": _etag(cluster.id)[3:-1],
            "frontendIPConfigurations": frontends,
            "backendAddressPools": [
                {
                    "name": LOAD_BALANCER,
                    "id": pool_id,
                    "etag": etag,
                    "type": f"{_NET}/loadBalancers/backendAddressPools",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "outboundRules": [{"id": f"{lb_id}/outboundRules/{OUTBOUND_RULE}"}],
                    },
                }
            ],
            "loadBalancingRules": [],
            "probes": [],
            "inboundNatRules": [],
            "inboundNatPools": [],
            "outboundRules": [
                {
                    "name": OUTBOUND_RULE,
                    "id": f"{lb_id}/outboundRules/{OUTBOUND_RULE}",
                    "etag": etag,
                    "type": f"{_NET}/loadBalancers/outboundRules",
                    "properties": {
                        "provisioningState": "Succeeded",
                        "allocatedOutboundPorts": net.allocated_outbound_ports,
                        "protocol": "All",
                        "enableTcpReset": True,
                        "idleTimeoutInMinutes": net.idle_timeout_minutes,
                        "backendAddressPool": {"id": pool_id},
                        "frontendIPConfigurations": [{"id": f["id"]} for f in frontends],
                    },
                }
            ],
        },
    }


def _lb_clusters(call: ArmCall) -> list[Cluster]:
    return [c for c in clusters_in_node_group(call) if c.network.outbound_type == "loadBalancer"]


@arm_route("GET", _GROUP + "/loadBalancers", "load_balancers.list")
async def list_load_balancers(call: ArmCall) -> Response:
    _group_exists(call)
    clusters = _lb_clusters(call)
    for cluster in clusters:
        check_action(call.world, _group_id(cluster), f"{_NET}/loadBalancers/read")
    return page(call, [render_load_balancer(c) for c in clusters])


@arm_route("GET", _GROUP + "/loadBalancers/{loadBalancerName}", "load_balancers.get")
async def get_load_balancer(call: ArmCall) -> Response:
    _group_exists(call)
    name = call.params["loadBalancerName"]
    clusters = _lb_clusters(call) if name.lower() == LOAD_BALANCER else []
    if not clusters:
        raise _not_found("loadBalancers", name, call.params["resourceGroupName"])
    body = render_load_balancer(clusters[0])
    check_action(call.world, body["id"], f"{_NET}/loadBalancers/read")
    return ok(body)


# -- public IPs and NAT gateways ---------------------------------------------------------------


def _attached_to(cluster: Cluster, ip_name: str) -> dict[str, Any]:
    if cluster.network.outbound_type == "managedNATGateway":
        return {"natGateway": {"id": f"{_group_id(cluster)}/providers/{_NET}/natGateways/{NAT_GATEWAY}"}}
    lb_id = f"{_group_id(cluster)}/providers/{_NET}/loadBalancers/{LOAD_BALANCER}"
    return {"ipConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/{ip_name}"}}


def render_public_ip(cluster: Cluster, index: int, ip_id: str) -> dict[str, Any]:
    name = ip_id.rsplit("/", 1)[1]
    return {
        "name": name,
        "id": ip_id,
        "etag": _etag(ip_id),
        "type": f"{_NET}/publicIPAddresses",
        "location": cluster.location,
        "tags": {"aks-managed-type": "aks-managed-outbound-ip", "aks-managed-cluster-name": cluster.name},
        "sku": {"name": "Standard", "tier": "Regional"},
        "properties": {
            "provisioningState": "Succeeded",
            "ipAddress": f"20.{int(_digest(cluster.id)[:6], 16) % 200 + 20}.{index // 250}.{index % 250 + 1}",
            "publicIPAddressVersion": "IPv4",
            "publicIPAllocationMethod": "Static",
            "idleTimeoutInMinutes": 4,
            "ipTags": [],
            **_attached_to(cluster, name),
        },
    }


def _public_ips(call: ArmCall) -> list[dict[str, Any]]:
    out = []
    for cluster in clusters_in_node_group(call):
        out.extend(render_public_ip(cluster, i, ip) for i, ip in enumerate(outbound_ip_ids(cluster)))
    return out


@arm_route("GET", _GROUP + "/publicIPAddresses", "public_ip_addresses.list")
async def list_public_ips(call: ArmCall) -> Response:
    _group_exists(call)
    items = _public_ips(call)
    for item in items:
        check_action(call.world, item["id"], f"{_NET}/publicIPAddresses/read")
    return page(call, items)


@arm_route("GET", _GROUP + "/publicIPAddresses/{publicIpAddressName}", "public_ip_addresses.get")
async def get_public_ip(call: ArmCall) -> Response:
    _group_exists(call)
    name = call.params["publicIpAddressName"].lower()
    found = next((ip for ip in _public_ips(call) if ip["name"].lower() == name), None)
    if found is None:
        raise _not_found(
            "publicIPAddresses", call.params["publicIpAddressName"], call.params["resourceGroupName"]
        )
    check_action(call.world, found["id"], f"{_NET}/publicIPAddresses/read")
    return ok(found)


def render_nat_gateway(cluster: Cluster) -> dict[str, Any]:
    gw_id = f"{_group_id(cluster)}/providers/{_NET}/natGateways/{NAT_GATEWAY}"
    return {
        "name": NAT_GATEWAY,
        "id": gw_id,
        "etag": _etag(gw_id, cluster.network.nat_gateway_ip_count),
        "type": f"{_NET}/natGateways",
        "location": cluster.location,
        "sku": {"name": "Standard"},
        "properties": {
            "provisioningState": "Succeeded",
            "idleTimeoutInMinutes": 4,
            "publicIpAddresses": [{"id": ip} for ip in outbound_ip_ids(cluster)],
            "subnets": [
                {"id": s}
                for s in sorted({p.vnet_subnet_id for p in cluster.agent_pools.values() if p.vnet_subnet_id})
            ],
        },
    }


@arm_route("GET", _GROUP + "/natGateways/{natGatewayName}", "nat_gateways.get")
async def get_nat_gateway(call: ArmCall) -> Response:
    _group_exists(call)
    name = call.params["natGatewayName"]
    clusters = [c for c in clusters_in_node_group(call) if c.network.outbound_type == "managedNATGateway"]
    if not clusters or name.lower() != NAT_GATEWAY:
        raise _not_found("natGateways", name, call.params["resourceGroupName"])
    body = render_nat_gateway(clusters[0])
    check_action(call.world, body["id"], f"{_NET}/natGateways/read")
    return ok(body)


# -- virtual networks ---------------------------------------------------------------------------


def _vnet(call: ArmCall) -> VirtualNetwork:
    _group_exists(call)
    sub = call.subscription()
    wanted = (
        f"/subscriptions/{sub.id}/resourceGroups/{call.params['resourceGroupName']}/providers/{_NET}"
        f"/virtualNetworks/{call.params['virtualNetworkName']}"
    ).lower()
    vnet = call.world.virtual_networks.get(wanted)
    if vnet is None:
        raise _not_found(
            "virtualNetworks", call.params["virtualNetworkName"], call.params["resourceGroupName"]
        )
    check_action(call.world, vnet.id, f"{_NET}/virtualNetworks/read")
    return vnet


def render_subnet(call: ArmCall, vnet: VirtualNetwork, name: str) -> dict[str, Any]:
    subnet = vnet.subnets[name]
    subnet_id = f"{vnet.id}/subnets/{subnet.name}"
    return {
        "name": subnet.name,
        "id": subnet_id,
        "etag": _etag(subnet_id),
        "type": f"{_NET}/virtualNetworks/subnets",
        "properties": {
            "provisioningState": "Succeeded",
            "addressPrefix": subnet.address_prefix,
            "privateEndpointNetworkPolicies": "Disabled",
            "privateLinkServiceNetworkPolicies": "Enabled",
            "delegations": [],
        },
    }


def render_vnet(call: ArmCall, vnet: VirtualNetwork) -> dict[str, Any]:
    return {
        "name": vnet.name,
        "id": vnet.id,
        "etag": _etag(vnet.id),
        "type": f"{_NET}/virtualNetworks",
        "location": vnet.location,
        "tags": {},
        "properties": {
            "provisioningState": "Succeeded",
            "addressSpace": {"addressPrefixes": list(vnet.address_prefixes)},
            "subnets": [render_subnet(call, vnet, name) for name in vnet.subnets],
            "virtualNetworkPeerings": [],
            "enableDdosProtection": False,
        },
    }


@arm_route("GET", _GROUP + "/virtualNetworks/{virtualNetworkName}", "virtual_networks.get")
async def get_virtual_network(call: ArmCall) -> Response:
    return ok(render_vnet(call, _vnet(call)))


@arm_route("GET", _GROUP + "/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}", "subnets.get")
async def get_subnet(call: ArmCall) -> Response:
    vnet = _vnet(call)
    name = next((n for n in vnet.subnets if n.lower() == call.params["subnetName"].lower()), None)
    if name is None:
        raise _not_found(
            f"virtualNetworks/{vnet.name}/subnets", call.params["subnetName"], vnet.resource_group
        )
    return ok(render_subnet(call, vnet, name))


@arm_route("GET", _GROUP + "/virtualNetworks/{virtualNetworkName}/usages", "virtual_networks.list_usage")
async def list_virtual_network_usage(call: ArmCall) -> Response:
    vnet = _vnet(call)
    items = []
    for subnet in vnet.subnets.values():
        subnet_id = f"{vnet.id}/subnets/{subnet.name}"
        assert find_subnet(call.world, subnet_id) is not None
        items.append(
            {
                "id": subnet_id,
                "currentValue": float(subnet_usage(call.world, subnet_id)),
                "limit": float(subnet_size(subnet)),
                "name": {"value": "Subnet size and usage", "localizedValue": "Subnet size and usage"},
                "unit": "Count",
            }
        )
    return page(call, items)
