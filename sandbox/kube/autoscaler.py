"""The cluster autoscaler, as far as remediation can see it: scale-ups, its events, its status.

The real autoscaler adds nodes to a pool while pods are Pending as ``Unschedulable`` and
the pool is below its ``maxCount``. At ``maxCount`` it records ``NotTriggerScaleUp``
events ("pod didn't trigger scale-up: 1 max node group size reached") and says so in the
``kube-system/cluster-autoscaler-status`` ConfigMap. The sandbox does the same whenever
a cluster changes (an agent pool or cluster PUT finishing) or pending pods are added:
each new node takes ``Cluster.pods_per_new_node`` Pending pods; a scale-up that the
regional vCPU quota refuses does not happen.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection
from datetime import datetime
from typing import Any

import yaml

from sandbox.estate.kubeobjects import ObjectFactory, kube_time
from sandbox.estate.nodes import sync_pool_nodes
from sandbox.world import AgentPool, Cluster, World

STATUS_CONFIGMAP = ("kube-system", "cluster-autoscaler-status")
_COMPONENT = "cluster-autoscaler"
_MAX_REACHED = "pod didn't trigger scale-up: {n} max node group size reached"


def pending_pods(cluster: Cluster) -> list[dict[str, Any]]:
    """Pods the scheduler could not place: Pending with PodScheduled False/Unschedulable."""
    out = []
    for pod in cluster.kube.pods.values():
        status = pod.get("status") or {}
        if status.get("phase") != "Pending":
            continue
        conditions = status.get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" for c in conditions):
            out.append(pod)
    return out


def _autoscaled(cluster: Cluster) -> list[AgentPool]:
    return [
        p
        for p in cluster.agent_pools.values()
        if p.enable_auto_scaling and p.max_count is not None and p.power_state == "Running"
    ]


def run_autoscaler(world: World, cluster: Cluster, pools: Collection[str] | None = None) -> None:
    """Scale autoscaled pools (``pools``, or every one) up for Pending pods within maxCount and
    quota, then refresh the autoscaler's events and status ConfigMap.

    After a write, only the pools whose maxCount it raised are scaled: the sandbox does not
    model pods' node affinity, and a pool that merely came back (a restore) must come back
    exactly as it was."""
    from sandbox.arm.capacity import AksRejection, check_quota

    now = world.now()
    pending = pending_pods(cluster)
    candidates = [p for p in _autoscaled(cluster) if pools is None or p.name in pools]
    for pool in sorted(candidates, key=lambda p: p.mode != "User"):
        if not pending or pool.max_count is None:
            break
        grow = min(pool.max_count - pool.count, math.ceil(len(pending) / max(1, cluster.pods_per_new_node)))
        if grow <= 0:
            continue
        before = {p.name: p for p in cluster.agent_pools.values()}
        grown = dataclasses.replace(pool, count=pool.count + grow)
        try:
            check_quota(world, cluster, before, [grown])
        except AksRejection:
            continue
        pool.count = grown.count
        sync_pool_nodes(cluster, pool, now)
        placed, pending = (
            pending[: grow * cluster.pods_per_new_node],
            pending[grow * cluster.pods_per_new_node :],
        )
        nodes = [
            n
            for n, node in cluster.kube.nodes.items()
            if node["metadata"]["labels"].get("agentpool") == pool.name
        ]
        for index, pod in enumerate(placed):
            _schedule(cluster, pod, nodes[-1 - index % grow], now)
    refresh_autoscaler_status(cluster, now)


def _schedule(cluster: Cluster, pod: dict[str, Any], node: str, now: datetime) -> None:
    stamp = kube_time(now)
    pod["spec"]["nodeName"] = node
    pod["status"]["phase"] = "Running"
    pod["status"]["conditions"] = [
        {"type": kind, "status": "True", "lastTransitionTime": stamp}
        for kind in ("PodScheduled", "Initialized", "Ready", "ContainersReady")
    ]
    meta = pod["metadata"]
    for key in [k for k, e in cluster.kube.events.items() if e["involvedObject"].get("uid") == meta["uid"]]:
        del cluster.kube.events[key]


def refresh_autoscaler_status(cluster: Cluster, now: datetime) -> None:
    """NotTriggerScaleUp events for pods no pool can take, and the status ConfigMap."""
    kube = cluster.kube
    factory = ObjectFactory(cluster)
    pools = _autoscaled(cluster)
    at_max = [p for p in pools if p.max_count is not None and p.count >= p.max_count]
    pending = pending_pods(cluster)
    blocked = bool(pending) and bool(pools) and len(at_max) == len(pools)
    for key in [k for k, e in kube.events.items() if e.get("reason") == "NotTriggerScaleUp"]:
        del kube.events[key]
    if blocked:
        for pod in pending:
            event = factory.pod_event(
                pod,
                reason="NotTriggerScaleUp",
                message=_MAX_REACHED.format(n=len(at_max)),
                component=_COMPONENT,
                created=now,
            )
            kube.events[(event["metadata"]["namespace"], event["metadata"]["name"])] = event
    if not pools:
        kube.configmaps.pop(STATUS_CONFIGMAP, None)
        return
    status = _status_document(cluster, pools, blocked, now)
    kube.configmaps[STATUS_CONFIGMAP] = factory.config_map(
        *STATUS_CONFIGMAP, {"status": yaml.safe_dump(status, sort_keys=False)}, created=now
    )


def _status_document(
    cluster: Cluster, pools: list[AgentPool], blocked: bool, now: datetime
) -> dict[str, Any]:
    """The autoscaler's YAML status (the format of cluster-autoscaler 1.30 and later)."""
    stamp = kube_time(now)
    ready = sum(p.count for p in cluster.agent_pools.values() if p.power_state == "Running")
    scale_up = {"status": "NoActivity", "lastProbeTime": stamp, "lastTransitionTime": stamp}
    groups = []
    for pool in pools:
        at_max = pool.max_count is not None and pool.count >= pool.max_count
        groups.append(
            {
                "name": f"aks-{pool.name}-vmss",
                "health": {
                    "status": "Healthy",
                    "nodeCounts": {"registered": {"total": pool.count, "ready": pool.count}},
                    "cloudProviderTarget": pool.count,
                    "minSize": pool.min_count,
                    "maxSize": pool.max_count,
                    "lastProbeTime": stamp,
                    "lastTransitionTime": stamp,
                },
                "scaleUp": {
                    "status": "NoActivity",
                    "lastProbeTime": stamp,
                    "lastTransitionTime": stamp,
                    **({"reason": "MaxNodeGroupSizeReached"} if at_max and blocked else {}),
                },
            }
        )
    return {
        "time": stamp,
        "autoscalerStatus": "Running",
        "clusterWide": {
            "health": {
                "status": "Healthy",
                "nodeCounts": {"registered": {"total": ready, "ready": ready}},
                "lastProbeTime": stamp,
                "lastTransitionTime": stamp,
            },
            "scaleUp": scale_up,
        },
        "nodeGroups": groups,
    }
