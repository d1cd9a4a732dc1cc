"""The remediation planners' plans word for word: every action's reason and parameters,
every refusal's reason and every note, for SNAT and for the autoscaler's maxCount.

Cases, SNAT: dynamic ports made explicit; explicit ports raised with IPs added; capped at
the IP ceiling and refused at it; the idle-timeout recommendation (load balancer only, only
above the recommended value: 5 is recommended down, 4 is not); unsupported outbound types
and custom IPs; the condition cleared, and its two thresholds (one failed connection is
enough; a busiest backend at exactly the used ratio is enough, just under is not); a NAT
gateway's IP added and refused at its ceiling, and its IPs rounded up; never fewer ports than
minPortsPerNode; IPs needed exactly at the ceiling are not capped. maxCount: raised by the step; cut and
refused by the subnet; a subnet or a quota that cannot be read; the AKS-managed network
and an unknown VM size (noted, not checked); cut and refused by quota; the day's node and
vCPU budgets; maxCountCeiling; confirmation by the status ConfigMap alone; the SNAT budget
adding IPs, cutting the count, or refusing; a second limit under the step noted; a named
pool that does not exist, and one that does; no autoscaled pool at its maxCount (a pool at a
maxCount without the autoscaler does not count); an overlay network's one address a node;
a System pool protected; User pools before System pools; IPs added up to exactly the
policy's ceiling, and a count cut to what that ceiling allows; ports that still fit after the
raise add nothing; a second limit of exactly one noted; AKS's pool and cluster ceilings; a
guard (cooldown) refusing with its reason, on a SNAT plan with its notes kept; no pod
pending, and no confirmation, word for word; a tie between limits goes to the first (the other
noted), two limits at zero note nothing; other autoscaled pools keep their maxCount in the
port budget; the day's budgets count what was added today.
"""

# ruff: noqa: E501  (reasons are compared whole)
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ops.plan import Plan
from ops.remediate.autoscaler import plan_max_count
from ops.remediate.clusters import AutoscalerSignal, Outbound, Pool, QuotaUsage, SnatSignal
from ops.remediate.guards import History
from ops.remediate.policy import RemediatePolicy, load_policy
from ops.remediate.snat import plan_snat
from tests.unit.test_remediate_planners import NOW, QUOTAS, SIGNAL, SUBNET, _subnets, cluster, snat_signal


def policy(fields: dict[str, Any]) -> RemediatePolicy:
    return load_policy({"remediate": fields})


def ratio_signal(failed: float, used: float, allocated: float = 1024.0, nodes: int = 5) -> SnatSignal:
    ips = [f"10.0.0.{i}" for i in range(nodes)]
    return SnatSignal(
        allocated_per_backend=dict.fromkeys(ips, allocated),
        used_per_backend=dict.fromkeys(ips, used),
        failed_per_backend=dict.fromkeys(ips, 0.0),
        failed_connections=failed,
    )


def shown(plan: Plan) -> dict[str, Any]:
    assert plan.capability == "remediate"
    for action in plan.actions:
        assert (action.target, action.service) == (cluster().id, "arm")
    for guard in plan.protected:
        assert guard.target == cluster().id
    return {
        "actions": [(a.kind, a.reason, dict(a.params)) for a in plan.actions],
        "protected": [g.reason for g in plan.protected],
        "notes": list(plan.notes),
    }


def raised(
    before: int,
    after: int,
    nodes: int,
    vcpus: int,
    *,
    pool: str = "user",
    pending: int = 8,
    ips_before: int | None = 1,
    ips: int | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """The action raising ``pool``'s maxCount ``before`` → ``after``, word for word (every number given, none derived)."""
    params: dict[str, Any] = {
        "etag": "e1",
        "pool": pool,
        "maxCount": after,
        "addedNodes": nodes,
        "addedVcpus": vcpus,
        "before": {"maxCount": before}
        if ips_before is None
        else {"maxCount": before, "managedOutboundIPs": ips_before},
    }
    if ips is not None:
        params["managedOutboundIPs"] = ips
    reason = (
        f"autoscaler: {pending} pod(s) Unschedulable, {pool} at maxCount {before}; "
        f"raise maxCount {before} → {after} (+{nodes} node(s), +{vcpus} vCPUs)"
    )
    return ("aks.update_max_count", reason, params)


def snat_scenarios() -> dict[str, tuple[dict[str, Any], SnatSignal, dict[str, Any]]]:
    return {
        "snat-dynamic-to-explicit": (dict(), snat_signal(1500, 1024), {}),
        "snat-explicit-raised-with-ips": (
            dict(outbound=Outbound(allocated_outbound_ports=8000)),
            snat_signal(14000, 8000),
            {},
        ),
        "snat-capped": (
            dict(),
            snat_signal(20000, 1024),
            {"snat": {"maxOutboundIPs": 2, "maxPortsPerNode": 30000}},
        ),
        "snat-ceiling": (
            dict(outbound=Outbound(allocated_outbound_ports=18280, managed_outbound_ips=2)),
            snat_signal(20000, 18280),
            {"snat": {"maxOutboundIPs": 2, "maxPortsPerNode": 30000}},
        ),
        "snat-idle-note": (dict(outbound=Outbound(idle_timeout_minutes=30)), snat_signal(3000, 1024), {}),
        "snat-unsupported": (
            dict(outbound=Outbound(outbound_type="userDefinedRouting")),
            snat_signal(3000, 1024),
            {},
        ),
        "snat-custom-ips": (dict(outbound=Outbound(custom_outbound_ips=True)), snat_signal(3000, 1024), {}),
        "snat-cleared": (dict(outbound=Outbound(idle_timeout_minutes=30)), SnatSignal(), {}),
        "nat-add": (
            dict(outbound=Outbound(outbound_type="managedNATGateway", nat_gateway_ips=1)),
            SnatSignal(failed_connections=10, attempted_connections=90_000),
            {"snat": {"maxNatGatewayIPs": 4}},
        ),
        "snat-at-least-the-minimum": (
            dict(outbound=Outbound(allocated_outbound_ports=64, idle_timeout_minutes=4)),
            snat_signal(100, 64),
            {},
        ),
        "snat-ips-exactly-at-the-ceiling": (
            dict(outbound=Outbound(allocated_outbound_ports=8000, idle_timeout_minutes=4)),
            snat_signal(14000, 8000),
            {"snat": {"maxOutboundIPs": 2}},
        ),
        "nat-rounds-ips-up": (
            dict(outbound=Outbound(outbound_type="managedNATGateway", nat_gateway_ips=1)),
            SnatSignal(failed_connections=10, attempted_connections=150_000),
            {"snat": {"maxNatGatewayIPs": 16}},
        ),
        "nat-ceiling": (
            dict(
                outbound=Outbound(
                    outbound_type="managedNATGateway", nat_gateway_ips=4, idle_timeout_minutes=30
                )
            ),
            SnatSignal(failed_connections=10, attempted_connections=300_000),
            {"snat": {"maxNatGatewayIPs": 4}},
        ),
        "snat-one-failure-is-enough": (
            dict(outbound=Outbound(idle_timeout_minutes=4)),
            ratio_signal(1, 100.0),
            {},
        ),
        "snat-used-ratio-at-threshold": (
            dict(outbound=Outbound(idle_timeout_minutes=5)),
            ratio_signal(0, 921.6),
            {},
        ),
        "snat-used-ratio-below": (
            dict(outbound=Outbound(idle_timeout_minutes=5)),
            ratio_signal(0, 921.5),
            {},
        ),
    }


def max_count_scenarios() -> dict[str, tuple[dict[str, Any], AutoscalerSignal, Any, Any, dict[str, Any]]]:
    return {
        "raise-by-step": (dict(), SIGNAL, _subnets(2000, 186), QUOTAS, {}),
        "cut-by-subnet": (dict(), SIGNAL, _subnets(251, 200), QUOTAS, {}),
        "refused-by-subnet": (dict(), SIGNAL, _subnets(251, 226), QUOTAS, {}),
        "subnet-unread": (dict(), SIGNAL, {}, QUOTAS, {}),
        "managed-vnet-unknown-vm": (
            dict(
                pools=(
                    Pool("system", "System", count=1, max_pods=30),
                    Pool(
                        "user",
                        count=4,
                        enable_auto_scaling=True,
                        min_count=1,
                        max_count=4,
                        max_pods=30,
                        vm_size="Standard_Weird9",
                    ),
                )
            ),
            SIGNAL,
            {},
            QUOTAS,
            {},
        ),
        "quota-family-refused": (
            dict(),
            SIGNAL,
            _subnets(2000, 186),
            {**QUOTAS, "standardDSv5Family": QuotaUsage("standardDSv5Family", 100, 98)},
            {},
        ),
        "quota-cores-cut": (
            dict(),
            SIGNAL,
            _subnets(2000, 186),
            {**QUOTAS, "cores": QuotaUsage("cores", 100, 96)},
            {},
        ),
        "quota-unread": (dict(), SIGNAL, _subnets(2000, 186), {"cores": QuotaUsage("cores", 1000, 100)}, {}),
        "daily-nodes": (
            dict(),
            SIGNAL,
            _subnets(2000, 186),
            QUOTAS,
            {"autoscaler": {"maxNodesAddedPerDay": 1}},
        ),
        "daily-vcpus": (
            dict(),
            SIGNAL,
            _subnets(2000, 186),
            QUOTAS,
            {"autoscaler": {"maxVcpusAddedPerDay": 3}},
        ),
        "ceiling": (dict(), SIGNAL, _subnets(2000, 186), QUOTAS, {"autoscaler": {"maxCountCeiling": 5}}),
        "status-only": (
            dict(),
            AutoscalerSignal(unschedulable_pods=2, status_max_reached=("user",)),
            _subnets(2000, 186),
            QUOTAS,
            {},
        ),
        "snat-adds-ips": (
            dict(outbound=Outbound(allocated_outbound_ports=7000, network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(507, 10),
            QUOTAS,
            {"autoscaler": {"step": 4}},
        ),
        "snat-cut": (
            dict(outbound=Outbound(allocated_outbound_ports=7000, network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(507, 10),
            QUOTAS,
            {"autoscaler": {"step": 4, "raiseIPsWithMaxCount": False}},
        ),
        "snat-refused": (
            dict(outbound=Outbound(allocated_outbound_ports=9000, network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(507, 10),
            QUOTAS,
            {"autoscaler": {"step": 4, "raiseIPsWithMaxCount": False}},
        ),
        "two-limits": (
            dict(),
            SIGNAL,
            _subnets(2000, 2000 - 62),
            {**QUOTAS, "cores": QuotaUsage("cores", 100, 88)},
            {"autoscaler": {"step": 4}},
        ),
        "nothing-at-max": (
            dict(
                pools=(
                    Pool("fixed", count=5, max_count=5, vnet_subnet_id=SUBNET),
                    Pool(
                        "user",
                        count=2,
                        enable_auto_scaling=True,
                        min_count=1,
                        max_count=4,
                        vnet_subnet_id=SUBNET,
                    ),
                )
            ),
            SIGNAL,
            _subnets(2000, 186),
            QUOTAS,
            {},
        ),
        "named-pool": (dict(), SIGNAL, _subnets(2000, 186), QUOTAS, {}),
        "overlay-cut-by-subnet": (
            dict(outbound=Outbound(network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(251, 250),
            QUOTAS,
            {},
        ),
        "snat-adds-ips-up-to-the-ceiling": (
            dict(outbound=Outbound(allocated_outbound_ports=7000, network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(507, 10),
            QUOTAS,
            {"autoscaler": {"step": 4}, "snat": {"maxOutboundIPs": 2}},
        ),
        "snat-cut-at-the-ip-ceiling": (
            dict(outbound=Outbound(allocated_outbound_ports=7000, network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(507, 10),
            QUOTAS,
            {"autoscaler": {"step": 20}, "snat": {"maxOutboundIPs": 2}},
        ),
        "ports-fit-after-the-raise": (
            dict(outbound=Outbound(allocated_outbound_ports=4000, network_plugin_mode="overlay")),
            SIGNAL,
            _subnets(507, 10),
            QUOTAS,
            {"autoscaler": {"step": 4}},
        ),
        "a-second-limit-of-one": (
            dict(),
            SIGNAL,
            _subnets(2000, 2000 - 40),
            QUOTAS,
            {"autoscaler": {"maxNodesAddedPerDay": 1}},
        ),
        "the-pool-ceiling": (
            dict(
                pools=(Pool("user", count=999, enable_auto_scaling=True, min_count=1, max_count=999),),
            ),
            SIGNAL,
            {},
            {
                **QUOTAS,
                "standardDSv5Family": QuotaUsage("standardDSv5Family", 10_000, 100),
                "cores": QuotaUsage("cores", 10_000, 100),
            },
            {"autoscaler": {"maxCountCeiling": 1000}},
        ),
        "the-cluster-ceiling": (
            dict(
                pools=(
                    Pool("big", count=4995),
                    Pool("user", count=4, enable_auto_scaling=True, min_count=1, max_count=4),
                ),
            ),
            SIGNAL,
            {},
            QUOTAS,
            {},
        ),
        "no-pod-pending": (
            dict(),
            AutoscalerSignal(max_size_reached_events=3),
            _subnets(2000, 186),
            QUOTAS,
            {},
        ),
        "not-confirmed": (dict(), AutoscalerSignal(unschedulable_pods=3), _subnets(2000, 186), QUOTAS, {}),
        "a-tie-goes-to-the-first-limit": (
            dict(),
            SIGNAL,
            _subnets(2000, 2000 - 40),
            {**QUOTAS, "cores": QuotaUsage("cores", 100, 95)},
            {},
        ),
        "two-limits-at-zero": (
            dict(),
            SIGNAL,
            _subnets(2000, 2000 - 20),
            {**QUOTAS, "cores": QuotaUsage("cores", 100, 98)},
            {},
        ),
        "other-autoscaled-pools-keep-their-max": (
            dict(
                outbound=Outbound(allocated_outbound_ports=3000, network_plugin_mode="overlay"),
                pools=(
                    Pool("system", "System", count=1),
                    Pool("user", count=4, enable_auto_scaling=True, min_count=1, max_count=4),
                    Pool("batch", count=2, enable_auto_scaling=True, min_count=1, max_count=20),
                ),
            ),
            SIGNAL,
            {},
            QUOTAS,
            {"autoscaler": {"step": 4}},
        ),
        "no-such-pool": (dict(), SIGNAL, _subnets(2000, 186), QUOTAS, {}),
        "system-protected": (
            dict(
                pools=(Pool("system", "System", count=3, enable_auto_scaling=True, min_count=1, max_count=3),)
            ),
            SIGNAL,
            {},
            QUOTAS,
            {},
        ),
        "users-first": (
            dict(
                pools=(
                    Pool("asys", "System", count=3, enable_auto_scaling=True, min_count=1, max_count=3),
                    Pool("zuser", count=2, enable_auto_scaling=True, min_count=1, max_count=2),
                    Pool("fixed", count=9),
                )
            ),
            SIGNAL,
            {},
            QUOTAS,
            {"autoscaler": {"allowSystemPools": True}},
        ),
    }


SNAT_EXPECTED: dict[str, dict[str, Any]] = {
    "snat-dynamic-to-explicit": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~1500 ports, 2380 failed "
                "connections; set explicit ports 1880 per node (dynamic gave "
                "1024 at 5 nodes; leaving the default tiers resets existing "
                "connections once)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 1880,
                    "managedOutboundIPs": 1,
                    "before": {"allocatedOutboundPorts": 0, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 30 → 4 and reuse "
            "connections in the application; not applied automatically"
        ],
    },
    "snat-explicit-raised-with-ips": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~14000 ports, 30000 failed "
                "connections; raise allocatedOutboundPorts 8000 → "
                "16000; add outbound IPs 1 → 2 (16000 x 7 nodes needs "
                "112000 ports of 128000)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 16000,
                    "managedOutboundIPs": 2,
                    "before": {"allocatedOutboundPorts": 8000, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 30 → 4 and "
            "reuse connections in the application; not applied "
            "automatically"
        ],
    },
    "snat-capped": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~20000 ports, 94880 failed connections; set "
                "explicit ports 18280 per node (dynamic gave 1024 at 5 nodes; leaving the "
                "default tiers resets existing connections once); add outbound IPs 1 → 2 "
                "(18280 x 7 nodes needs 127960 ports of 128000)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 18280,
                    "managedOutboundIPs": 2,
                    "before": {"allocatedOutboundPorts": 0, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 30 → 4 and reuse connections in "
            "the application; not applied automatically",
            "capped: 25000 ports x 7 nodes needs 3 IPs, over the ceiling of 2 "
            "(remediate.snat.maxOutboundIPs); 18280 ports is the most 2 IPs allow",
        ],
    },
    "snat-ceiling": {
        "actions": [],
        "protected": [
            "ceiling: no more ports fit; 18280 ports per node now, 7 nodes to "
            "validate (maxCount + surge), 2 IPs at most (2 by policy)"
        ],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 30 → 4 and reuse connections in "
            "the application; not applied automatically",
            "capped: 25000 ports x 7 nodes needs 3 IPs, over the ceiling of 2 "
            "(remediate.snat.maxOutboundIPs); 18280 ports is the most 2 IPs allow",
        ],
    },
    "snat-idle-note": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~3000 ports, 9880 failed connections; set "
                "explicit ports 3752 per node (dynamic gave 1024 at 5 nodes; leaving "
                "the default tiers resets existing connections once)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 3752,
                    "managedOutboundIPs": 1,
                    "before": {"allocatedOutboundPorts": 0, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 30 → 4 and reuse connections "
            "in the application; not applied automatically"
        ],
    },
    "snat-unsupported": {
        "actions": [],
        "protected": ["unsupported: outboundType userDefinedRouting has no managed SNAT to raise"],
        "notes": [],
    },
    "snat-custom-ips": {
        "actions": [],
        "protected": ["unsupported: the load balancer uses its own outboundIPs or prefixes"],
        "notes": [],
    },
    "snat-cleared": {
        "actions": [],
        "protected": [
            "condition cleared: 0 failed SNAT connections (< 1) and busiest backend "
            "at 0% of its ports (< 90%)"
        ],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 30 → 4 and reuse connections in "
            "the application; not applied automatically"
        ],
    },
    "nat-add": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: NAT gateway 90000 connections attempted, 10 failed, 1 IPs give 64512 "
                "ports; add outbound IPs 1 → 2",
                {"etag": "e1", "natGatewayIPs": 2, "before": {"natGatewayIPs": 1}},
            )
        ],
        "protected": [],
        "notes": [],
    },
    "nat-ceiling": {
        "actions": [],
        "protected": [
            "ceiling: the NAT gateway has 4 IPs, the most remediate.snat.maxNatGatewayIPs allows (4)"
        ],
        "notes": [],
    },
    "snat-one-failure-is-enough": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~100 ports, 1 failed "
                "connections; set explicit ports 1032 per node (dynamic "
                "gave 1024 at 5 nodes; leaving the default tiers resets "
                "existing connections once)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 1032,
                    "managedOutboundIPs": 1,
                    "before": {"allocatedOutboundPorts": 0, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [],
    },
    "snat-used-ratio-at-threshold": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~922 ports, 0 failed "
                "connections; set explicit ports 1152 per node (dynamic "
                "gave 1024 at 5 nodes; leaving the default tiers resets "
                "existing connections once)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 1152,
                    "managedOutboundIPs": 1,
                    "before": {"allocatedOutboundPorts": 0, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 5 → 4 and reuse "
            "connections in the application; not applied "
            "automatically"
        ],
    },
    "snat-used-ratio-below": {
        "actions": [],
        "protected": [
            "condition cleared: 0 failed SNAT connections (< 1) and "
            "busiest backend at 90% of its ports (< 90%)"
        ],
        "notes": [
            "recommendation: lower idleTimeoutInMinutes 5 → 4 and reuse "
            "connections in the application; not applied automatically"
        ],
    },
    "snat-at-least-the-minimum": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~100 ports, 180 failed connections; raise "
                "allocatedOutboundPorts 64 → 1024",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 1024,
                    "managedOutboundIPs": 1,
                    "before": {"allocatedOutboundPorts": 64, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [],
    },
    "snat-ips-exactly-at-the-ceiling": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: busiest node wants ~14000 ports, 30000 failed connections; raise "
                "allocatedOutboundPorts 8000 → 16000; add outbound IPs 1 → 2 (16000 x 7 nodes needs "
                "112000 ports of 128000)",
                {
                    "etag": "e1",
                    "allocatedOutboundPorts": 16000,
                    "managedOutboundIPs": 2,
                    "before": {"allocatedOutboundPorts": 8000, "managedOutboundIPs": 1},
                },
            )
        ],
        "protected": [],
        "notes": [],
    },
    "nat-rounds-ips-up": {
        "actions": [
            (
                "aks.update_outbound",
                "snat: NAT gateway 150000 connections attempted, 10 failed, 1 IPs give 64512 ports; "
                "add outbound IPs 1 → 3",
                {"etag": "e1", "natGatewayIPs": 3, "before": {"natGatewayIPs": 1}},
            )
        ],
        "protected": [],
        "notes": [],
    },
}

MAX_COUNT_EXPECTED: dict[str, dict[str, Any]] = {
    "raise-by-step": {
        "actions": [raised(4, 6, 2, 8)],
        "protected": [],
        "notes": [],
    },
    "cut-by-subnet": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": [
            "cut: +1 instead of +2; subnet: 51 of 251 addresses free in aks, 31 per "
            "node (flat Azure CNI: maxPods + 1); AKS would refuse with "
            "InsufficientSubnetSize"
        ],
    },
    "refused-by-subnet": {
        "actions": [],
        "protected": [
            "subnet: 25 of 251 addresses free in aks, 31 per node (flat Azure "
            "CNI: maxPods + 1); AKS would refuse with InsufficientSubnetSize; "
            "so user maxCount 4 cannot be raised"
        ],
        "notes": [],
    },
    "subnet-unread": {
        "actions": [],
        "protected": [
            "subnet: the usage of "
            "/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/v/subnets/aks "
            "could not be read; so user maxCount 4 cannot be raised"
        ],
        "notes": [],
    },
    "managed-vnet-unknown-vm": {
        "actions": [raised(4, 6, 2, 0)],
        "protected": [],
        "notes": [
            "subnet: user uses the AKS-managed virtual network; not checked",
            "quota: Standard_Weird9 has no known VM family; not checked",
        ],
    },
    "quota-family-refused": {
        "actions": [],
        "protected": [
            "quota: 2 of 100 standardDSv5Family vCPUs free, 4 a node; so user maxCount 4 cannot be raised"
        ],
        "notes": [],
    },
    "quota-cores-cut": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": ["cut: +1 instead of +2; quota: 4 of 100 cores vCPUs free, 4 a node"],
    },
    "quota-unread": {
        "actions": [],
        "protected": [
            "quota: the usage of standardDSv5Family in the region could not be "
            "read; so user maxCount 4 cannot be raised"
        ],
        "notes": [],
    },
    "daily-nodes": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": ["cut: +1 instead of +2; daily budget: 0 of 1 nodes added today"],
    },
    "daily-vcpus": {
        "actions": [],
        "protected": [
            "daily budget: 0 of 3 vCPUs added today (4 a node); so user maxCount 4 cannot be raised"
        ],
        "notes": [],
    },
    "ceiling": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": ["cut: +1 instead of +2; ceiling: maxCountCeiling 5"],
    },
    "status-only": {
        "actions": [raised(4, 6, 2, 8, pending=2)],
        "protected": [],
        "notes": [],
    },
    "snat-adds-ips": {
        "actions": [raised(4, 8, 4, 16, ips=2)],
        "protected": [],
        "notes": ["snat: 7000 ports x 11 nodes needs 2 outbound IPs (has 1); added in the same change"],
    },
    "snat-cut": {
        "actions": [raised(4, 6, 2, 8)],
        "protected": [],
        "notes": ["cut: maxCount 6, the most the SNAT port budget allows"],
    },
    "snat-refused": {
        "actions": [],
        "protected": [
            "snat: raising user maxCount would need 9000 x 11 = 99000 ports, more "
            "than 1 outbound IPs give "
            "(InvalidLoadBalancerProfileAllocatedOutboundPorts)"
        ],
        "notes": [],
    },
    "two-limits": {
        "actions": [raised(4, 6, 2, 8)],
        "protected": [],
        "notes": [
            "limit: quota: 12 of 100 cores vCPUs free, 4 a node allows 3",
            "cut: +2 instead of +4; subnet: 62 of 2000 addresses free in aks, 31 per node "
            "(flat Azure CNI: maxPods + 1); AKS would refuse with "
            "InsufficientSubnetSize",
        ],
    },
    "no-such-pool": {
        "actions": [],
        "protected": ["no such pool: nope is not an autoscaled pool of aks"],
        "notes": [],
    },
    "system-protected": {
        "actions": [],
        "protected": ["protected: system is a System pool (remediate.autoscaler.allowSystemPools is false)"],
        "notes": [],
    },
    "users-first": {
        "actions": [raised(2, 4, 2, 8, pool="zuser")],
        "protected": [],
        "notes": ["subnet: zuser uses the AKS-managed virtual network; not checked"],
    },
    "nothing-at-max": {
        "actions": [],
        "protected": ["condition cleared: no autoscaled pool is at its maxCount"],
        "notes": [],
    },
    "named-pool": {
        "actions": [raised(4, 6, 2, 8)],
        "protected": [],
        "notes": [],
    },
    "overlay-cut-by-subnet": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": [
            "cut: +1 instead of +2; subnet: 1 of 251 addresses free in aks, 1 per node (node IP "
            "only); AKS would refuse with InsufficientSubnetSize"
        ],
    },
    "snat-adds-ips-up-to-the-ceiling": {
        "actions": [raised(4, 8, 4, 16, ips=2)],
        "protected": [],
        "notes": ["snat: 7000 ports x 11 nodes needs 2 outbound IPs (has 1); added in the same change"],
    },
    "snat-cut-at-the-ip-ceiling": {
        "actions": [raised(4, 15, 11, 44, ips=2)],
        "protected": [],
        "notes": ["cut: maxCount 15, the most the SNAT port budget allows"],
    },
    "ports-fit-after-the-raise": {
        "actions": [raised(4, 8, 4, 16)],
        "protected": [],
        "notes": [],
    },
    "a-second-limit-of-one": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": [
            "limit: subnet: 40 of 2000 addresses free in aks, 31 per node (flat Azure CNI: maxPods "
            "+ 1); AKS would refuse with InsufficientSubnetSize allows 1",
            "cut: +1 instead of +2; daily budget: 0 of 1 nodes added today",
        ],
    },
    "the-pool-ceiling": {
        "actions": [raised(999, 1000, 1, 4)],
        "protected": [],
        "notes": [
            "subnet: user uses the AKS-managed virtual network; not checked",
            "limit: ceiling: maxCountCeiling 1000 allows 1",
            "cut: +1 instead of +2; ceiling: AKS allows 1,000 nodes a pool",
        ],
    },
    "the-cluster-ceiling": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": [
            "subnet: user uses the AKS-managed virtual network; not checked",
            "cut: +1 instead of +2; ceiling: AKS allows 5000 nodes a cluster",
        ],
    },
    "no-pod-pending": {
        "actions": [],
        "protected": ["condition cleared: no pod is Pending as Unschedulable"],
        "notes": [],
    },
    "not-confirmed": {
        "actions": [],
        "protected": [
            "not confirmed: the autoscaler reports no node group at max size (events or status ConfigMap)"
        ],
        "notes": [],
    },
    "a-tie-goes-to-the-first-limit": {
        "actions": [raised(4, 5, 1, 4)],
        "protected": [],
        "notes": [
            "limit: quota: 5 of 100 cores vCPUs free, 4 a node allows 1",
            "cut: +1 instead of +2; subnet: 40 of 2000 addresses free in aks, 31 per node (flat "
            "Azure CNI: maxPods + 1); AKS would refuse with InsufficientSubnetSize",
        ],
    },
    "two-limits-at-zero": {
        "actions": [],
        "protected": [
            "subnet: 20 of 2000 addresses free in aks, 31 per node (flat Azure CNI: maxPods + "
            "1); AKS would refuse with InsufficientSubnetSize; so user maxCount 4 cannot be "
            "raised"
        ],
        "notes": [],
    },
    "other-autoscaled-pools-keep-their-max": {
        "actions": [raised(4, 8, 4, 16, ips=2)],
        "protected": [],
        "notes": [
            "subnet: user uses the AKS-managed virtual network; not checked",
            "snat: 3000 ports x 32 nodes needs 2 outbound IPs (has 1); added in the same change",
        ],
    },
}


@pytest.mark.parametrize("name", list(SNAT_EXPECTED))
def test_a_snat_plan_word_for_word(name: str) -> None:
    observed, signal, fields = snat_scenarios()[name]
    plan = plan_snat(cluster(**observed), signal, History(), policy(fields), NOW)
    assert shown(plan) == SNAT_EXPECTED[name]


@pytest.mark.parametrize("name", list(MAX_COUNT_EXPECTED))
def test_a_max_count_plan_word_for_word(name: str) -> None:
    observed, signal, subnets, quotas, fields = max_count_scenarios()[name]
    wanted = {"no-such-pool": "nope", "named-pool": "user"}.get(name)
    plan = plan_max_count(
        cluster(**observed), signal, subnets, quotas, History(), policy(fields), NOW, pool_name=wanted
    )
    assert shown(plan) == MAX_COUNT_EXPECTED[name]


def test_a_guard_refuses_the_change_with_its_reason() -> None:
    history = History(last_change=NOW - timedelta(minutes=10))
    plan = plan_max_count(cluster(), SIGNAL, _subnets(2000, 186), QUOTAS, history, policy({}), NOW)
    shown_plan = shown(plan)
    assert shown_plan["actions"] == [] and shown_plan["notes"] == []
    (reason,) = shown_plan["protected"]
    assert reason.startswith("cooldown:")


def test_a_guarded_snat_plan_keeps_its_notes() -> None:
    history = History(last_change=NOW - timedelta(minutes=10))
    plan = plan_snat(cluster(), snat_signal(3000, 1024), history, policy({}), NOW)
    shown_plan = shown(plan)
    assert shown_plan["actions"] == []
    assert shown_plan["notes"] == [
        "recommendation: lower idleTimeoutInMinutes 30 → 4 and reuse connections in the application; "
        "not applied automatically"
    ]
    (reason,) = shown_plan["protected"]
    assert reason.startswith("cooldown:")


def test_the_days_budget_counts_what_was_added_today() -> None:
    today = History(day="2026-12-03", nodes_added_today=2, vcpus_added_today=8)
    nodes = policy({"autoscaler": {"maxNodesAddedPerDay": 3}})
    plan = plan_max_count(cluster(), SIGNAL, _subnets(2000, 186), QUOTAS, today, nodes, NOW)
    assert shown(plan)["notes"] == ["cut: +1 instead of +2; daily budget: 2 of 3 nodes added today"]
    vcpus = policy({"autoscaler": {"maxVcpusAddedPerDay": 12}})
    plan = plan_max_count(cluster(), SIGNAL, _subnets(2000, 186), QUOTAS, today, vcpus, NOW)
    assert shown(plan)["notes"] == [
        "cut: +1 instead of +2; daily budget: 8 of 12 vCPUs added today (4 a node)"
    ]
