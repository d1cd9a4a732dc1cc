"""ARM JSON for World objects: what GET returns, in the shapes of the REST API specs.

The shapes follow the Azure/azure-rest-api-specs examples (RegistryGet, ReplicationGet,
ManagedClustersGet, AgentPoolsGet) for the api-versions the pinned SDKs send, and
the tests check that every key deserializes into the SDK models. Resource Graph's
``resources`` table serves the same JSON, so the graph engine may call these too.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sandbox.world import AgentPool, Cluster, Registry, Replication, World

_REPLICATION_STATUS = {
    "Succeeded": ("Ready", "The replication is ready."),
    "Creating": ("Provisioning", "The replication is provisioning."),
    "Updating": ("Syncing", "The replication is syncing."),
    "Deleting": ("Deleting", "The replication is being deleted."),
    "Failed": ("Failed", "The replication failed."),
}


def arm_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def render_registry(registry: Registry) -> dict[str, Any]:
    quarantine = "enabled" if registry.quarantine_enabled else "disabled"
    body: dict[str, Any] = {
        "id": registry.id,
        "name": registry.name,
        "type": "Microsoft.ContainerRegistry/registries",
        "location": registry.location,
        "tags": dict(registry.tags),
        "sku": {"name": registry.sku, "tier": registry.sku},
        "properties": {
            "loginServer": registry.login_server,
            "creationDate": arm_time(registry.created),
            "provisioningState": "Succeeded",
            "adminUserEnabled": registry.admin_user_enabled,
            "policies": {
                "quarantinePolicy": {"status": quarantine},
                "trustPolicy": {"type": "Notary", "status": "disabled"},
                "retentionPolicy": {"days": 7, "status": "disabled"},
                "exportPolicy": {"status": "enabled"},
                "azureADAuthenticationAsArmPolicy": {"status": "enabled"},
            },
            "encryption": {"status": "disabled"},
            "dataEndpointEnabled": registry.data_endpoint_enabled,
            "dataEndpointHostNames": data_endpoint_host_names(registry),
            "privateEndpointConnections": [],
            "publicNetworkAccess": "Enabled",
            "networkRuleBypassOptions": "AzureServices",
            "zoneRedundancy": "Disabled",
            "anonymousPullEnabled": False,
        },
    }
    if registry.sku == "Premium":  # network rules exist only on Premium
        body["properties"]["networkRuleSet"] = {"defaultAction": "Allow", "ipRules": []}
    return body


def data_endpoint_host_names(registry: Registry) -> list[str]:
    """ACR's dedicated data endpoints: ``<name>.<region>.data.azurecr.io`` for the home region
    and every replica's, reported only while ``dataEndpointEnabled`` is on (Premium)."""
    if not registry.data_endpoint_enabled:
        return []
    regions = [registry.location] + [
        r.location for r in registry.replications.values() if r.location != registry.location
    ]
    return [f"{registry.name.lower()}.{region}.data.azurecr.io" for region in regions]


def render_replication(
    registry: Registry, replication: Replication, world: World | None = None
) -> dict[str, Any]:
    display, message = _REPLICATION_STATUS.get(replication.status, ("Ready", "The replication is ready."))
    stamp = world.now() if world is not None else registry.created
    return {
        "id": f"{registry.id}/replications/{replication.name}",
        "name": replication.name,
        "type": "Microsoft.ContainerRegistry/registries/replications",
        "location": replication.location,
        "tags": {},
        "properties": {
            "provisioningState": replication.status,
            "status": {"displayStatus": display, "message": message, "timestamp": arm_time(stamp)},
            "regionEndpointEnabled": replication.region_endpoint_enabled,
            "zoneRedundancy": replication.zone_redundancy,
        },
    }


def _fqdn(cluster: Cluster) -> str:
    suffix = hashlib.sha256(cluster.id.lower().encode()).hexdigest()[:8]
    return f"{cluster.dns_prefix}-{suffix}.hcp.{cluster.location}.azmk8s.io"


def node_resource_group(cluster: Cluster) -> str:
    return f"MC_{cluster.resource_group}_{cluster.name}_{cluster.location}"


def outbound_ip_ids(cluster: Cluster) -> list[str]:
    """The managed outbound public IPs AKS made in the node resource group (load balancer or NAT
    gateway): one per ``managedOutboundIPs.count`` (or NAT ``managedOutboundIPProfile.count``)."""
    net = cluster.network
    count = (
        net.nat_gateway_ip_count
        if net.outbound_type == "managedNATGateway"
        else net.managed_outbound_ip_count
    )
    if net.outbound_type not in ("loadBalancer", "managedNATGateway"):
        return []
    base = f"/subscriptions/{cluster.subscription}/resourceGroups/{node_resource_group(cluster)}/providers"
    return [
        f"{base}/Microsoft.Network/publicIPAddresses/{_uuid_of(f'{cluster.id}/outbound/{i}')}"
        for i in range(count)
    ]


def render_pool_properties(cluster: Cluster, pool: AgentPool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "count": pool.count,
        "vmSize": pool.vm_size,
        "osDiskSizeGB": 128,
        "osDiskType": "Managed",
        "kubeletDiskType": "OS",
        "maxPods": pool.max_pods,
        "type": "VirtualMachineScaleSets",
        "enableAutoScaling": pool.enable_auto_scaling,
        "provisioningState": pool.provisioning_state,
        "powerState": {"code": pool.power_state},
        "orchestratorVersion": pool.orchestrator_version,
        "currentOrchestratorVersion": pool.orchestrator_version,
        "mode": pool.mode,
        "osType": pool.os_type,
        "osSKU": "Ubuntu" if pool.os_type == "Linux" else "Windows2022",
        "nodeImageVersion": "AKSUbuntu-2204gen2containerd-202501.12.0",
        "enableNodePublicIP": False,
        "enableFIPS": False,
    }
    if pool.enable_auto_scaling:
        props["minCount"] = pool.min_count
        props["maxCount"] = pool.max_count
    if pool.max_surge:
        props["upgradeSettings"] = {"maxSurge": pool.max_surge}
    if pool.vnet_subnet_id:
        props["vnetSubnetID"] = pool.vnet_subnet_id
    return props


def render_agent_pool(cluster: Cluster, pool: AgentPool) -> dict[str, Any]:
    return {
        "id": f"{cluster.id}/agentPools/{pool.name}",
        "name": pool.name,
        "type": "Microsoft.ContainerService/managedClusters/agentPools",
        "properties": render_pool_properties(cluster, pool),
    }


def render_cluster(cluster: Cluster, world: World) -> dict[str, Any]:
    net = cluster.network
    node_rg = node_resource_group(cluster)
    network: dict[str, Any] = {
        "networkPlugin": net.network_plugin,
        "loadBalancerSku": net.load_balancer_sku,
        "outboundType": net.outbound_type,
        "serviceCidr": "10.0.0.0/16",
        "dnsServiceIP": "10.0.0.10",
        "serviceCidrs": ["10.0.0.0/16"],
        "ipFamilies": ["IPv4"],
    }
    if net.network_plugin == "kubenet":
        network["podCidr"] = "10.244.0.0/16"
        network["podCidrs"] = ["10.244.0.0/16"]
    if net.network_plugin_mode:
        network["networkPluginMode"] = net.network_plugin_mode
    if net.outbound_type == "managedNATGateway":
        network["natGatewayProfile"] = {
            "managedOutboundIPProfile": {"count": net.nat_gateway_ip_count},
            "effectiveOutboundIPs": [{"id": ip} for ip in outbound_ip_ids(cluster)],
            "idleTimeoutInMinutes": 4,
        }
    if net.outbound_type == "loadBalancer":
        network["loadBalancerProfile"] = {
            "managedOutboundIPs": {"count": net.managed_outbound_ip_count},
            "effectiveOutboundIPs": [{"id": ip} for ip in outbound_ip_ids(cluster)],
            "allocatedOutboundPorts": net.allocated_outbound_ports,
            "idleTimeoutInMinutes": net.idle_timeout_minutes,
            "backendPoolType": "NodeIPConfiguration",
        }
    properties: dict[str, Any] = {
        "provisioningState": cluster.provisioning_state,
        "powerState": {"code": cluster.power_state},
        "maxAgentPools": 100,
        "kubernetesVersion": cluster.kubernetes_version,
        "currentKubernetesVersion": cluster.kubernetes_version,
        "dnsPrefix": cluster.dns_prefix,
        "fqdn": _fqdn(cluster),
        "azurePortalFQDN": _fqdn(cluster).replace(".hcp.", ".portal.hcp."),
        "agentPoolProfiles": [
            {"name": pool.name, **render_pool_properties(cluster, pool)}
            for pool in cluster.agent_pools.values()
        ],
        "servicePrincipalProfile": {"clientId": "msi"},
        "nodeResourceGroup": node_rg,
        "enableRBAC": True,
        "supportPlan": "KubernetesOfficial",
        "networkProfile": network,
        "disableLocalAccounts": cluster.aad_managed,
    }
    if cluster.aad_managed:
        properties["aadProfile"] = {
            "managed": True,
            "enableAzureRBAC": cluster.azure_rbac,
            "tenantID": world.identity.tenant_id,
        }
    return {
        "id": cluster.id,
        "location": cluster.location,
        "name": cluster.name,
        "type": "Microsoft.ContainerService/ManagedClusters",
        "eTag": cluster_etag(cluster),
        "tags": dict(cluster.tags),
        "sku": {"name": "Base", "tier": "Free"},
        "identity": {
            "type": "SystemAssigned",
            "principalId": str(_uuid_of(cluster.id + "/identity")),
            "tenantId": world.identity.tenant_id,
        },
        "properties": properties,
    }


def cluster_etag(cluster: Cluster) -> str:
    """The cluster's eTag; it changes with every accepted write (``Cluster.revision``)."""
    return hashlib.sha256(f"{cluster.id.lower()}#{cluster.revision}".encode()).hexdigest()[:16]


def _uuid_of(text: str) -> str:
    raw = hashlib.sha256(text.lower().encode()).hexdigest()
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-8{raw[17:20]}-{raw[20:32]}"
