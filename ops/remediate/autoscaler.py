"""The autoscaler planner: raise the maxCount of a pool the cluster autoscaler cannot grow.

Pure: (cluster, what its API server says, subnet and quota usage, history, policy, now)
→ Plan. The condition is confirmed in the cluster first: pods Pending as Unschedulable,
and the autoscaler saying so (``NotTriggerScaleUp`` "max node group size reached", or
the status ConfigMap), with a pool at ``count == maxCount``. The increase is the
policy's ``step``, cut down by every limit that applies, each cut named in the notes:

- AKS: 1,000 nodes a pool, 5,000 a cluster; the policy's ``maxCountCeiling``;
- the day's budget of nodes and vCPUs added (``maxNodesAddedPerDay``, ``maxVcpusAddedPerDay``);
- the subnet: flat Azure CNI pre-allocates (maxPods + 1) addresses per node, overlay
  one, counted at maxCount + surge, against the subnet's free addresses
  (``InsufficientSubnetSize`` otherwise);
- the regional vCPU quota of the VM family and the regional total;
- the SNAT port budget: with explicit ports, more nodes can break
  ports x Σ(maxCount + surge) ≤ 64,000 x IPs, so the same change adds outbound IPs
  (within ``maxOutboundIPs``) or the increase is cut to what fits.

Whatever is left after the cuts is planned; nothing left is a refusal with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from ops.plan import Action, Guard, Plan
from ops.remediate.capacity import (
    MAX_CLUSTER_NODES,
    MAX_LB_IPS,
    MAX_POOL_NODES,
    ips_for_ports,
    ips_per_node,
    ports_fit,
    validated_nodes,
    vm_size,
)
from ops.remediate.clusters import AutoscalerSignal, ObservedCluster, Pool, QuotaUsage, SubnetUsage
from ops.remediate.guards import History, check_guards
from ops.remediate.policy import RemediatePolicy

CAPABILITY = "remediate"
UPDATE_MAX_COUNT = "aks.update_max_count"


def pick_pool(cluster: ObservedCluster, policy: RemediatePolicy, wanted: str | None = None) -> Pool | Guard:
    """The pool to raise: ``wanted``, or the autoscaled pool at its maxCount (User pools first)."""
    candidates = [p for p in cluster.pools if p.enable_auto_scaling and p.max_count is not None]
    if wanted is not None:
        candidates = [p for p in candidates if p.name == wanted]
        if not candidates:
            return Guard(cluster.id, f"no such pool: {wanted} is not an autoscaled pool of {cluster.name}")
    at_max = [p for p in candidates if p.max_count is not None and p.count >= p.max_count]
    if not at_max:
        return Guard(cluster.id, "condition cleared: no autoscaled pool is at its maxCount")
    users = [p for p in at_max if p.mode == "User"]
    if users:
        return users[0]
    if not policy.autoscaler.allow_system_pools:
        return Guard(
            cluster.id,
            f"protected: {at_max[0].name} is a System pool (remediate.autoscaler.allowSystemPools is false)",
        )
    return at_max[0]


def plan_max_count(
    cluster: ObservedCluster,
    signal: AutoscalerSignal,
    subnets: Mapping[str, SubnetUsage],
    quotas: Mapping[str, QuotaUsage],
    history: History,
    policy: RemediatePolicy,
    now: datetime,
    *,
    pool_name: str | None = None,
) -> Plan:
    """The maxCount change (or the refusal, with its reason) for an autoscaler alert on ``cluster``."""
    if signal.unschedulable_pods == 0:
        return _refused(cluster, "condition cleared: no pod is Pending as Unschedulable")
    if signal.max_size_reached_events == 0 and not signal.status_max_reached:
        return _refused(
            cluster,
            "not confirmed: the autoscaler reports no node group at max size (events or status ConfigMap)",
        )
    picked = pick_pool(cluster, policy, pool_name)
    if isinstance(picked, Guard):
        return Plan(CAPABILITY, protected=[picked])
    pool = picked
    guard = check_guards(cluster, history, policy.guards, now)
    if guard is not None:
        return Plan(CAPABILITY, protected=[guard])
    assert pool.max_count is not None
    scaler = policy.autoscaler
    today = history.for_day(now)
    notes: list[str] = []
    size = vm_size(pool.vm_size)
    vcpus = size.vcpus if size is not None else 0
    limits: list[tuple[int, str]] = [
        (scaler.step, f"step {scaler.step} (remediate.autoscaler.step)"),
        (MAX_POOL_NODES - pool.max_count, "ceiling: AKS allows 1,000 nodes a pool"),
        (scaler.max_count_ceiling - pool.max_count, f"ceiling: maxCountCeiling {scaler.max_count_ceiling}"),
        (
            MAX_CLUSTER_NODES - sum(p.top for p in cluster.pools),
            f"ceiling: AKS allows {MAX_CLUSTER_NODES} nodes a cluster",
        ),
        (
            scaler.max_nodes_added_per_day - today.nodes_added_today,
            f"daily budget: {today.nodes_added_today} of {scaler.max_nodes_added_per_day} nodes added today",
        ),
    ]
    if vcpus:
        limits.append(
            (
                (scaler.max_vcpus_added_per_day - today.vcpus_added_today) // vcpus,
                f"daily budget: {today.vcpus_added_today} of {scaler.max_vcpus_added_per_day} vCPUs "
                f"added today ({vcpus} a node)",
            )
        )
    limits.extend(_subnet_limit(cluster, pool, subnets, notes))
    limits.extend(_quota_limits(pool, vcpus, quotas, notes))
    increase, binding = min(limits, key=lambda item: item[0])
    for value, label in limits:
        if value < scaler.step and value > 0 and label != binding:
            notes.append(f"limit: {label} allows {value}")
    if increase <= 0:
        return _refused(cluster, f"{binding}; so {pool.name} maxCount {pool.max_count} cannot be raised")
    if increase < scaler.step:
        notes.append(f"cut: +{increase} instead of +{scaler.step}; {binding}")
    new_max = pool.max_count + increase
    ips = cluster.outbound.managed_outbound_ips
    raised = [replace(p, max_count=new_max) if p.name == pool.name else p for p in cluster.pools]
    out = cluster.outbound
    if out.outbound_type == "loadBalancer" and not ports_fit(out.allocated_outbound_ports, ips, raised):
        nodes = validated_nodes(raised)
        needed = ips_for_ports(out.allocated_outbound_ports, nodes)
        ceiling = min(policy.snat.max_outbound_ips, MAX_LB_IPS)
        if scaler.raise_ips_with_max_count and needed <= ceiling:
            notes.append(
                f"snat: {out.allocated_outbound_ports} ports x {nodes} nodes needs {needed} outbound IPs "
                f"(has {ips}); added in the same change"
            )
            ips = needed
        else:
            usable = ceiling if scaler.raise_ips_with_max_count else ips
            fits = _max_fitting(cluster, pool, out.allocated_outbound_ports, usable)
            if fits <= pool.max_count:
                return _refused(
                    cluster,
                    f"snat: raising {pool.name} maxCount would need {out.allocated_outbound_ports} x {nodes}"
                    f" = {out.allocated_outbound_ports * nodes} ports, more than {usable} outbound IPs give "
                    "(InvalidLoadBalancerProfileAllocatedOutboundPorts)",
                )
            notes.append(f"cut: maxCount {fits}, the most the SNAT port budget allows")
            new_max = fits
            raised = [replace(p, max_count=new_max) if p.name == pool.name else p for p in cluster.pools]
            if not ports_fit(out.allocated_outbound_ports, ips, raised):
                ips = ips_for_ports(out.allocated_outbound_ports, validated_nodes(raised))
    added = new_max - pool.max_count
    reason = (
        f"autoscaler: {signal.unschedulable_pods} pod(s) Unschedulable, {pool.name} at maxCount "
        f"{pool.max_count}; raise maxCount {pool.max_count} → {new_max} "
        f"(+{added} node(s), +{added * vcpus} vCPUs)"
    )
    params: dict[str, object] = {
        "etag": cluster.etag,
        "pool": pool.name,
        "maxCount": new_max,
        "addedNodes": added,
        "addedVcpus": added * vcpus,
        "before": {"maxCount": pool.max_count, "managedOutboundIPs": cluster.outbound.managed_outbound_ips},
    }
    if ips != cluster.outbound.managed_outbound_ips:
        params["managedOutboundIPs"] = ips
    return Plan(
        CAPABILITY, actions=[Action(UPDATE_MAX_COUNT, cluster.id, reason, "arm", params)], notes=notes
    )


def _subnet_limit(
    cluster: ObservedCluster, pool: Pool, subnets: Mapping[str, SubnetUsage], notes: list[str]
) -> list[tuple[int, str]]:
    if not pool.vnet_subnet_id:
        notes.append(f"subnet: {pool.name} uses the AKS-managed virtual network; not checked")
        return []
    usage = subnets.get(pool.vnet_subnet_id.lower())
    if usage is None:
        return [(0, f"subnet: the usage of {pool.vnet_subnet_id} could not be read")]
    per_node = ips_per_node(cluster.outbound, pool)
    return [
        (
            usage.free // per_node,
            f"subnet: {usage.free} of {usage.limit} addresses free in {usage.id.rsplit('/', 1)[-1]}, "
            f"{per_node} per node ({'flat Azure CNI: maxPods + 1' if per_node > 1 else 'node IP only'}); "
            "AKS would refuse with InsufficientSubnetSize",
        )
    ]


def _quota_limits(
    pool: Pool, vcpus: int, quotas: Mapping[str, QuotaUsage], notes: list[str]
) -> list[tuple[int, str]]:
    size = vm_size(pool.vm_size)
    if size is None or not vcpus:
        notes.append(f"quota: {pool.vm_size} has no known VM family; not checked")
        return []
    out = []
    for name in (size.family, "cores"):
        usage = quotas.get(name)
        if usage is None:
            return [(0, f"quota: the usage of {name} in the region could not be read")]
        out.append(
            (
                usage.free // vcpus,
                f"quota: {usage.free} of {usage.limit} {name} vCPUs free, {vcpus} a node",
            )
        )
    return out


def _max_fitting(cluster: ObservedCluster, pool: Pool, ports: int, ips: int) -> int:
    others = validated_nodes(p for p in cluster.pools if p.name != pool.name)
    budget = 64_000 * ips // ports - others
    surge = pool.surge
    return max(0, budget - surge)


def _refused(cluster: ObservedCluster, reason: str) -> Plan:
    return Plan(CAPABILITY, protected=[Guard(cluster.id, reason)])
