"""The SNAT planner: more outbound ports for a cluster whose connections fail for want of them.

Pure: (cluster, re-read metrics, history, policy, now) → Plan. The order is the one the
AKS docs recommend once the application side is ruled out, each step within the
policy's ceilings and AKS's own rule (ports x Σ(maxCount + surge) ≤ 64,000 x IPs):

1. with dynamic ports (``allocatedOutboundPorts: 0``) set explicit ports, sized to the
   demand seen times ``headroom`` (leaving the default tiers resets connections once);
2. add managed outbound IPs when those ports need them (at most ``maxOutboundIPs``);
3. with explicit ports already, raise them the same way.

A NAT gateway shares 64,512 ports per IP among all nodes: its plan adds IPs (at most
``maxNatGatewayIPs``). Lowering the idle timeout is only ever recommended, in the notes.
A plan is one action, ``aks.update_outbound``, that the executor applies as a GET, a
change to ``networkProfile`` only, and a PUT with ``If-Match`` on the eTag observed here.
"""

from __future__ import annotations

from datetime import datetime

from ops.plan import Action, Guard, Plan
from ops.remediate.capacity import (
    MAX_LB_IPS,
    MAX_NAT_IPS,
    NAT_PORTS_PER_IP,
    PORTS_PER_IP,
    dynamic_ports,
    ips_for_ports,
    ports_fit,
    round_ports,
    validated_nodes,
)
from ops.remediate.clusters import ObservedCluster, SnatSignal
from ops.remediate.guards import History, check_guards
from ops.remediate.policy import RemediatePolicy

CAPABILITY = "remediate"
UPDATE_OUTBOUND = "aks.update_outbound"


def plan_snat(
    cluster: ObservedCluster,
    signal: SnatSignal,
    history: History,
    policy: RemediatePolicy,
    now: datetime,
) -> Plan:
    """The change (or the refusal, with its reason) for a SNAT alert on ``cluster``."""
    snat = policy.snat
    outbound = cluster.outbound
    notes = _notes(cluster, policy)
    if outbound.outbound_type not in ("loadBalancer", "managedNATGateway"):
        return _refused(
            cluster, f"unsupported: outboundType {outbound.outbound_type} has no managed SNAT to raise"
        )
    if outbound.outbound_type == "loadBalancer" and outbound.custom_outbound_ips:
        return _refused(cluster, "unsupported: the load balancer uses its own outboundIPs or prefixes")
    if signal.failed_connections < snat.min_failed_connections and signal.max_used_ratio < snat.used_ratio:
        return _refused(
            cluster,
            f"condition cleared: {signal.failed_connections:g} failed SNAT connections (< "
            f"{snat.min_failed_connections:g}) and busiest backend at {signal.max_used_ratio:.0%} of its "
            f"ports (< {snat.used_ratio:.0%})",
            notes,
        )
    guard = check_guards(cluster, history, policy.guards, now)
    if guard is not None:
        return Plan(CAPABILITY, protected=[guard], notes=notes)
    if outbound.outbound_type == "managedNATGateway":
        return _plan_nat(cluster, signal, policy, notes)
    return _plan_load_balancer(cluster, signal, policy, notes)


def _plan_load_balancer(
    cluster: ObservedCluster, signal: SnatSignal, policy: RemediatePolicy, notes: list[str]
) -> Plan:
    snat = policy.snat
    outbound = cluster.outbound
    nodes = validated_nodes(cluster.pools)
    running = sum(p.count for p in cluster.pools)
    current = outbound.allocated_outbound_ports or dynamic_ports(running)
    wanted = round_ports(max(signal.demand_per_node * snat.headroom, current + 8, snat.min_ports_per_node))
    ports = min(wanted, snat.max_ports_per_node)
    ip_ceiling = min(snat.max_outbound_ips, MAX_LB_IPS)
    ips = max(outbound.managed_outbound_ips, ips_for_ports(ports, nodes))
    if ips > ip_ceiling:
        ips = max(outbound.managed_outbound_ips, ip_ceiling)
        ports = (PORTS_PER_IP * ips // nodes) // 8 * 8
        notes.append(
            f"capped: {wanted} ports x {nodes} nodes needs {ips_for_ports(wanted, nodes)} IPs, over the "
            f"ceiling of {ip_ceiling} (remediate.snat.maxOutboundIPs); {ports} ports is the most "
            f"{ips} IPs allow"
        )
    if ports <= current or not ports_fit(ports, ips, cluster.pools):
        return _refused(
            cluster,
            f"ceiling: no more ports fit; {current} ports per node now, {nodes} nodes to validate "
            f"(maxCount + surge), {ips} IPs at most ({ip_ceiling} by policy)",
            notes,
        )
    steps = []
    if outbound.allocated_outbound_ports == 0:
        steps.append(
            f"set explicit ports {ports} per node (dynamic gave {current} at {running} nodes; leaving the "
            "default tiers resets existing connections once)"
        )
    else:
        steps.append(f"raise allocatedOutboundPorts {current} → {ports}")
    if ips > outbound.managed_outbound_ips:
        steps.append(
            f"add outbound IPs {outbound.managed_outbound_ips} → {ips} ({ports} x {nodes} nodes needs "
            f"{ports * nodes} ports of {PORTS_PER_IP * ips})"
        )
    reason = (
        f"snat: busiest node wants ~{signal.demand_per_node:.0f} ports, {signal.failed_connections:g} failed "
        f"connections; " + "; ".join(steps)
    )
    params = {
        "etag": cluster.etag,
        "allocatedOutboundPorts": ports,
        "managedOutboundIPs": ips,
        "before": {
            "allocatedOutboundPorts": outbound.allocated_outbound_ports,
            "managedOutboundIPs": outbound.managed_outbound_ips,
        },
    }
    return Plan(CAPABILITY, actions=[Action(UPDATE_OUTBOUND, cluster.id, reason, "arm", params)], notes=notes)


def _plan_nat(
    cluster: ObservedCluster, signal: SnatSignal, policy: RemediatePolicy, notes: list[str]
) -> Plan:
    snat = policy.snat
    current = cluster.outbound.nat_gateway_ips
    ceiling = min(snat.max_nat_gateway_ips, MAX_NAT_IPS)
    needed = -(-int(signal.attempted_connections * snat.headroom) // NAT_PORTS_PER_IP)
    ips = min(max(current + 1, needed), ceiling)
    if ips <= current:
        return _refused(
            cluster,
            f"ceiling: the NAT gateway has {current} IPs, the most remediate.snat.maxNatGatewayIPs allows "
            f"({ceiling})",
            notes,
        )
    reason = (
        f"snat: NAT gateway {signal.attempted_connections:g} connections attempted, "
        f"{signal.failed_connections:g} failed, {current} IPs give {current * NAT_PORTS_PER_IP} ports; "
        f"add outbound IPs {current} → {ips}"
    )
    params = {"etag": cluster.etag, "natGatewayIPs": ips, "before": {"natGatewayIPs": current}}
    return Plan(CAPABILITY, actions=[Action(UPDATE_OUTBOUND, cluster.id, reason, "arm", params)], notes=notes)


def _notes(cluster: ObservedCluster, policy: RemediatePolicy) -> list[str]:
    idle = cluster.outbound.idle_timeout_minutes
    wanted = policy.snat.recommend_idle_timeout
    if cluster.outbound.outbound_type == "loadBalancer" and idle > wanted:
        return [
            f"recommendation: lower idleTimeoutInMinutes {idle} → {wanted} and reuse connections in the "
            "application; not applied automatically"
        ]
    return []


def _refused(cluster: ObservedCluster, reason: str, notes: list[str] | None = None) -> Plan:
    return Plan(CAPABILITY, protected=[Guard(cluster.id, reason)], notes=notes or [])
