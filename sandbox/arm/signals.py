"""``POST /_sandbox/signals``: change what a cluster's workloads do, at run time.

Tests, benchmarks and the demo use it to make an alert's condition true (or false)
without touching anything the product could change itself::

    {"cluster": "aks-prod", "snatPortsWantedPerNode": 1500}   # SNAT demand per node
    {"cluster": "aks-prod", "pendingPods": 12}                # 12 more Unschedulable pods
    {"cluster": "aks-prod", "workloadDone": true}             # the default namespace's pods end

Adding pending pods runs the sandbox autoscaler (``sandbox.kube.autoscaler``): pools
below their maxCount take them, and pods no pool can take get ``NotTriggerScaleUp``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.estate.kubeobjects import ObjectFactory
from sandbox.http import SandboxHTTPError
from sandbox.kube.autoscaler import pending_pods, run_autoscaler
from sandbox.world import Cluster, World

_KEYS = {"cluster", "snatPortsWantedPerNode", "pendingPods", "workloadDone"}


def add_pending_pods(world: World, cluster: Cluster, count: int) -> None:
    """``count`` Unschedulable pods in ``default``, with their FailedScheduling events."""
    factory = ObjectFactory(cluster)
    now = world.now()
    start = len(cluster.kube.pods)
    nodes = len(cluster.kube.nodes)
    for offset in range(count):
        name = f"pending-{start + offset}"
        pod = factory.pod(
            name,
            namespace="default",
            containers=[("app", "mcr.microsoft.com/azuredocs/aks-helloworld:v1", None)],
            phase="Pending",
            reason="Unschedulable",
            message=f"0/{nodes} nodes are available: {nodes} Insufficient cpu.",
            node=None,
            node_ip=None,
            labels={"app": "pending"},
            owner=None,
            created=now,
            index=start + offset,
        )
        cluster.kube.pods[("default", name)] = pod
        event = factory.scheduling_event(pod, created=now)
        cluster.kube.events[("default", event["metadata"]["name"])] = event


def build_signal_routes(world: World) -> list[Route]:
    async def signals(request: Request) -> Response:
        try:
            data: Any = json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise SandboxHTTPError(400, "InvalidRequestContent", f"not JSON: {exc}") from None
        if not isinstance(data, dict) or not set(data) <= _KEYS or "cluster" not in data:
            raise SandboxHTTPError(
                400, "InvalidSignal", f"expected an object with cluster and any of {sorted(_KEYS)}"
            )
        with world.lock:
            cluster = next(
                (c for c in world.clusters.values() if c.name.lower() == str(data["cluster"]).lower()), None
            )
            if cluster is None:
                raise SandboxHTTPError(404, "NotFound", f"no cluster {data['cluster']!r} in the estate")
            wanted = data.get("snatPortsWantedPerNode")
            if wanted is not None:
                if not isinstance(wanted, int) or not 0 <= wanted <= 64_000:
                    raise SandboxHTTPError(400, "InvalidSignal", "snatPortsWantedPerNode: expected 0..64000")
                cluster.snat_ports_wanted_per_node = wanted
            done = data.get("workloadDone")
            if done is not None:
                if not isinstance(done, bool):
                    raise SandboxHTTPError(400, "InvalidSignal", "workloadDone: expected true or false")
                if done:  # the load is gone (a batch ended, a deployment scaled to zero)
                    for key in [k for k in cluster.kube.pods if k[0] == "default"]:
                        del cluster.kube.pods[key]
            pending = data.get("pendingPods")
            if pending is not None:
                if not isinstance(pending, int) or not 0 <= pending <= 10_000:
                    raise SandboxHTTPError(400, "InvalidSignal", "pendingPods: expected 0..10000")
                add_pending_pods(world, cluster, pending)
                run_autoscaler(world, cluster)
            body = {
                "cluster": cluster.name,
                "snatPortsWantedPerNode": cluster.snat_ports_wanted_per_node,
                "pendingPods": len(pending_pods(cluster)),
            }
        return JSONResponse(body)

    return [Route("/_sandbox/signals", signals, methods=["POST"], name="control.signals")]
