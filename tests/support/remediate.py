"""The remediation estate: clusters whose SNAT ports and autoscalers run out, in real subnets.

- ``aks-snat``: outbound load balancer with dynamic ports (1,024 per node at 5 nodes) and
  one IP; its workloads want 8,000 ports per node, so SNAT connections fail. Overlay
  networking, so its subnet holds node IPs only.
- ``aks-natgw``: a managed NAT gateway with one IP (64,512 ports); 10 nodes want 8,000
  each.
- ``aks-scale``: flat Azure CNI in a /23; its user pool is at maxCount 3 with 8 pods
  Pending and the autoscaler saying "max node group size reached".
- ``aks-tight``: the same, in a /24 that one more node would overflow, so the subnet
  guardrail refuses to raise its maxCount.

The D-series v5 quota in eastus2 is 400 vCPUs. ``LB_ID`` and friends are the ARM ids
alerts name.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.alerts import EXAMPLE_POLICY
from tests.support.entra import mint
from tests.support.sandbox import SUBSCRIPTION

if TYPE_CHECKING:
    from sandbox.server import SandboxServer

RG = "rg-aks"
REGION = "eastus2"


def node_group(cluster: str) -> str:
    return f"MC_{RG}_{cluster}_{REGION}"


def lb_id(cluster: str) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{node_group(cluster)}"
        "/providers/Microsoft.Network/loadBalancers/kubernetes"
    )


def natgw_id(cluster: str) -> str:
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{node_group(cluster)}"
        "/providers/Microsoft.Network/natGateways/kubernetes-natgw"
    )


def cluster_id(cluster: str) -> str:
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}"
    return f"{group}/providers/Microsoft.ContainerService/managedClusters/{cluster}"


def _pools(user: dict[str, Any], subnet: str, max_pods: int) -> list[dict[str, Any]]:
    system = {"name": "system", "mode": "System", "count": 1, "maxPods": max_pods, "vnetSubnetID": subnet}
    return [system, {"name": "user", "mode": "User", "maxPods": max_pods, "vnetSubnetID": subnet, **user}]


def _pending(count: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"web-{i}",
            "containers": ["mcr.microsoft.com/azuredocs/aks-helloworld:v1"],
            "phase": "Pending",
            "reason": "Unschedulable",
            "message": "0/4 nodes are available: 4 Insufficient cpu.",
        }
        for i in range(count)
    ]


REMEDIATE_ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": 0.2},
    "subscriptions": [
        {
            "id": SUBSCRIPTION,
            "name": "remediate",
            "resourceGroups": [{"name": RG, "location": REGION}, {"name": "rg-net", "location": REGION}],
        }
    ],
    "virtualNetworks": [
        {
            "name": "vnet-aks",
            "resourceGroup": "rg-net",
            "addressPrefixes": ["10.224.0.0/16"],
            "subnets": [
                {"name": "snat", "addressPrefix": "10.224.0.0/24"},
                {"name": "natgw", "addressPrefix": "10.224.1.0/24"},
                {"name": "scale", "addressPrefix": "10.224.2.0/23"},
                {"name": "tight", "addressPrefix": "10.224.4.0/24", "otherUsedAddresses": 40},
            ],
        }
    ],
    "quotas": [
        {"location": REGION, "name": "standardDSv5Family", "limit": 400},
        {"location": REGION, "name": "cores", "limit": 1000},
    ],
    "clusters": [
        {
            "name": "aks-snat",
            "resourceGroup": RG,
            "tags": {"environment": "prod"},
            "networkProfile": {"networkPluginMode": "overlay"},
            "agentPools": _pools(
                {"count": 4, "enableAutoScaling": True, "minCount": 2, "maxCount": 6}, "/x", 30
            ),
            "snatPortsWantedPerNode": 8000,
        },
        {
            "name": "aks-natgw",
            "resourceGroup": RG,
            "networkProfile": {
                "outboundType": "managedNATGateway",
                "networkPluginMode": "overlay",
                "natGatewayProfile": {"managedOutboundIPProfile": {"count": 1}},
            },
            "agentPools": _pools({"count": 9}, "/x", 30),
            "snatPortsWantedPerNode": 8000,
        },
        {
            "name": "aks-scale",
            "resourceGroup": RG,
            "agentPools": _pools(
                {"count": 3, "enableAutoScaling": True, "minCount": 1, "maxCount": 3}, "/x", 30
            ),
            "pods": _pending(8),
            "podsPerNewNode": 4,
        },
        {
            "name": "aks-tight",
            "resourceGroup": RG,
            "agentPools": _pools(
                {"count": 3, "enableAutoScaling": True, "minCount": 1, "maxCount": 3}, "/x", 30
            ),
            "pods": _pending(5),
        },
    ],
}
_SUBNETS = {"aks-snat": "snat", "aks-natgw": "natgw", "aks-scale": "scale", "aks-tight": "tight"}
for _cluster in REMEDIATE_ESTATE["clusters"]:
    for _pool in _cluster["agentPools"]:
        _pool["vnetSubnetID"] = (
            f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-aks/subnets/{_SUBNETS[_cluster['name']]}"
        )


def remediate_estate(**changes: Any) -> dict[str, Any]:
    """A deep copy of the estate; ``changes`` replaces top-level sections."""
    estate = copy.deepcopy(REMEDIATE_ESTATE)
    estate.update(copy.deepcopy(changes))
    return estate


def invoke_runbook(
    server: SandboxServer, method: str, name: str, params: dict[str, str], body: Any = None
) -> Any:
    """The ``runbook`` function's result ``{"status", "body"}`` for ``method`` on runbook ``name``,
    called by an operator (Ops.Read and Ops.Operate) of ``server``'s tenant."""
    import function_app
    from ops.triggers.invoking import invoke_function

    token = mint(server, roles=["Ops.Read", "Ops.Operate"])
    query = "&".join(f"{k}={v}" for k, v in params.items())
    request = {
        "method": method,
        "url": f"http://localhost:7071/api/runbooks/{name}?{query}",
        "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        "params": params,
        "body": body,
    }
    return invoke_function(function_app.app, "runbook", request).to_dict()["result"]


def remediate_settings(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The app's settings over this estate: its subscription, state in ``tmp_path/state.db``
    and the example remediation policy; ``extra`` settings on top."""
    return {
        "OPS_SUBSCRIPTIONS": SUBSCRIPTION,
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_REMEDIATE_POLICY": str(EXAMPLE_POLICY),
        **extra,
    }
