"""Agent pools, their nodes, and where pods run: shared by estate loading and ARM.

An estate's clusters get one Node object per pool member, with AKS's names and
labels; a scale through ARM (an agent pool update) adds or removes them the same way;
controller pods are placed round-robin on schedulable user-pool nodes. The SNAT rule
AKS validates (ports x (maxCount + maxSurge) <= 64,000 x IPs) lives here too, since
both the loader and the ARM endpoint enforce it.
"""

from __future__ import annotations

import math
from datetime import datetime

from sandbox.estate.kubeobjects import ObjectFactory, short_hash, template_hash
from sandbox.estate.models import AgentPoolModel
from sandbox.world import AgentPool, Cluster, NetworkProfile

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def agent_pool_of(model: AgentPoolModel, version: str, cluster_power: str) -> AgentPool:
    return AgentPool(
        name=model.name,
        mode=model.mode,
        count=model.count,
        vm_size=model.vm_size,
        enable_auto_scaling=model.enable_auto_scaling,
        min_count=model.min_count,
        max_count=model.max_count,
        max_surge=model.max_surge,
        power_state="Stopped" if cluster_power == "Stopped" else model.power_state,
        os_type=model.os_type,
        max_pods=model.max_pods,
        orchestrator_version=model.orchestrator_version or version,
        vnet_subnet_id=model.vnet_subnet_id,
    )


def snat_problem(net: NetworkProfile, pools: list[AgentPool]) -> str | None:
    """AKS's SNAT validation: ports x (maxCount + maxSurge) over all pools <= 64,000 x IPs."""
    if net.outbound_type != "loadBalancer" or not net.allocated_outbound_ports:
        return None
    nodes = sum(max_nodes(pool) for pool in pools)
    if net.allocated_outbound_ports * nodes > 64_000 * net.managed_outbound_ip_count:
        # AKS's own wording (InvalidLoadBalancerProfileAllocatedOutboundPorts).
        return (
            f"Total node count {nodes} requires {net.allocated_outbound_ports * nodes} ports but only "
            f"{64_000 * net.managed_outbound_ip_count} ports are available given "
            f"{net.managed_outbound_ip_count} outbound public IPs"
        )
    return None


def sync_pool_nodes(cluster: Cluster, pool: AgentPool, now: datetime) -> None:
    """Make the cluster's Node objects match a pool's count after a scale."""
    wanted = node_names(cluster, pool) if pool.power_state == "Running" else []
    nodes = cluster.kube.nodes
    current = [
        name for name, node in nodes.items() if node["metadata"]["labels"].get("agentpool") == pool.name
    ]
    for name in current:
        if name not in wanted:
            del nodes[name]
    factory = ObjectFactory(cluster)
    for index, name in enumerate(wanted):
        if name not in nodes:
            nodes[name] = factory.node(
                name,
                pool=pool,
                index=len(nodes) + index,
                ready=True,
                unschedulable=False,
                labels={},
                created=now,
            )


def max_nodes(pool: AgentPool) -> int:
    """Nodes a pool can reach during an upgrade: (maxCount or count) + surge."""
    top = pool.max_count if pool.enable_auto_scaling and pool.max_count else pool.count
    surge = pool.max_surge or "1"
    extra = math.ceil(top * float(surge[:-1]) / 100) if surge.endswith("%") else int(surge)
    return top + extra


def node_names(cluster: Cluster, pool: AgentPool) -> list[str]:
    """AKS node names: aks-<pool>-<8 digits>-vmss<6 base-36 digits>."""
    digits = str(int(short_hash(cluster.name + pool.name, 8).encode().hex(), 16))[:8].rjust(8, "1")
    return [f"aks-{pool.name}-{digits}-vmss{_base36(i).rjust(6, '0')}" for i in range(pool.count)]


def _base36(value: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = chars[rest] + out
        if not value:
            return out


def add_pool_nodes(factory: ObjectFactory, cluster: Cluster, created: datetime) -> None:
    index = 0
    for pool in cluster.agent_pools.values():
        for name in node_names(cluster, pool):
            cluster.kube.nodes[name] = factory.node(
                name, pool=pool, index=index, ready=True, unschedulable=False, labels={}, created=created
            )
            index += 1


class NodePlacer:
    """Round-robin placement of pods on schedulable nodes (user pools first, as taints would)."""

    def __init__(self, cluster: Cluster) -> None:
        nodes = cluster.kube.nodes
        self.all_nodes = list(nodes)
        user = [
            name
            for name, node in nodes.items()
            if node["metadata"]["labels"].get("kubernetes.azure.com/mode") == "user"
            and not node["spec"].get("unschedulable")
        ]
        schedulable = [name for name, node in nodes.items() if not node["spec"].get("unschedulable")]
        self.targets = user or schedulable or self.all_nodes
        self._ips = {name: node["status"]["addresses"][0]["address"] for name, node in nodes.items()}
        self._next = 0

    def next(self) -> str | None:
        if not self.targets:
            return None
        name = self.targets[self._next % len(self.targets)]
        self._next += 1
        return name

    def ip_of(self, node: str | None) -> str | None:
        return self._ips.get(node) if node else None


def add_workload_pods(
    factory: ObjectFactory,
    placer: NodePlacer,
    *,
    kind: str,
    name: str,
    namespace: str,
    replicas: int,
    containers: list[tuple[str, str, str | None]],
    labels: dict[str, str],
    created: datetime,
    pending: int = 0,
    pending_message: str | None = None,
) -> int:
    """Create the pods a controller runs; returns how many are Running (ready)."""
    kube = factory.cluster.kube
    pod_labels = {"app": name, **labels}
    if kind == "DaemonSet":
        targets: list[str | None] = list(placer.all_nodes)
        owner = ("DaemonSet", name)
        names = [f"{name}-{short_hash(f'{namespace}/{name}/{node}', 5)}" for node in targets]
    elif kind == "StatefulSet":
        targets = [placer.next() for _ in range(replicas)]
        owner = ("StatefulSet", name)
        names = [f"{name}-{i}" for i in range(replicas)]
    elif kind in ("ReplicaSet", "ReplicationController"):  # one of its own, not a deployment's
        targets = [placer.next() for _ in range(replicas)]
        owner = (kind, name)
        names = [f"{name}-{short_hash(f'{namespace}/{name}/{i}', 5)}" for i in range(replicas)]
    else:
        template = template_hash(namespace, name)
        replica_set = f"{name}-{template}"
        owner = ("ReplicaSet", replica_set)
        pod_labels["pod-template-hash"] = template
        targets = [placer.next() for _ in range(replicas)]
        names = [f"{replica_set}-{short_hash(f'{namespace}/{name}/{i}', 5)}" for i in range(replicas)]
    running = 0
    for i, (pod_name, node) in enumerate(zip(names, targets, strict=True)):
        is_pending = i >= len(names) - pending
        obj = factory.pod(
            pod_name,
            namespace=namespace,
            containers=containers,
            phase="Pending" if is_pending else "Running",
            reason="Unschedulable" if is_pending else None,
            message=pending_message if is_pending else None,
            node=None if is_pending else node,
            node_ip=None if is_pending else placer.ip_of(node),
            labels=pod_labels,
            owner=owner,
            created=created,
            index=len(kube.pods),
        )
        kube.pods[(namespace, pod_name)] = obj
        if is_pending:
            event = factory.scheduling_event(obj, created=created)
            kube.events[(namespace, event["metadata"]["name"])] = event
        else:
            running += 1
    return running
