"""Microsoft.ContainerService: managedClusters and agentPools, with AKS's rules.

What the product relies on, and what AKS enforces, is emulated:
- stop/start are POST LROs (202, Azure-AsyncOperation + Location); the cluster is
  ``Stopping``/``Starting`` for ``lro_seconds``, and its API server stops answering
  once stopped and answers again only once started;
- a stopped cluster allows only start (and reads); a cluster with an operation in
  progress refuses another (409 ``OperationNotAllowed``), as AKS does; so does a
  running cluster asked to start and a stopped one asked to stop;
- a start that fails (an ``lro_failure`` fault, standing in for a capacity error) leaves
  what AKS leaves (Azure/AKS#2171): the control plane up, so the cluster
  ``provisioningState: Failed`` with ``powerState: Running``, and every agent pool
  ``Failed`` and ``Running``. Such a cluster refuses another start (it is running), takes
  agent pool PUTs (each reconciles its pool to ``Succeeded``) and stops; the cluster's
  own ``Failed`` clears only when an operation on the cluster itself succeeds (a stop,
  a tags update, a PUT): each agent pool is a resource with its own state. A failed stop
  leaves the cluster ``Failed`` in the power state it had;
- a System pool cannot be scaled to 0 (400 ``InvalidParameter`` on
  ``agentPoolProfile.count``); the SNAT rule ports x (maxCount + maxSurge) ≤ 64,000 x
  IPs is validated on load-balancer profile changes;
- listClusterUserCredential returns a kubeconfig for the sandbox API server with the
  sandbox CA and the kubelogin exec user of an AAD cluster.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import Any

import yaml
from starlette.responses import Response

from sandbox.arm.capacity import check_capacity
from sandbox.arm.lro import Operation
from sandbox.arm.resources import cluster_etag, render_agent_pool, render_cluster
from sandbox.arm.routing import (
    ArmCall,
    arm_route,
    find_in_group,
    list_in_group,
    list_in_subscription,
    lro_headers,
    ok,
    page,
)
from sandbox.authz import check_action
from sandbox.estate.kubeobjects import ObjectFactory
from sandbox.estate.nodes import DEFAULT_NAMESPACES, sync_pool_nodes
from sandbox.http import AKS_AUDIENCE, SandboxHTTPError
from sandbox.kube.autoscaler import run_autoscaler
from sandbox.kube.controllers import evict_from_missing_nodes
from sandbox.world import AgentPool, Cluster, NetworkProfile, resource_id

_PROVIDER = "Microsoft.ContainerService"
_MC = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.ContainerService/managedClusters"
)
_OPS = "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerService/locations/{location}"
_READ = f"{_PROVIDER}/managedClusters/read"
_WRITE = f"{_PROVIDER}/managedClusters/write"
_POOL_READ = f"{_PROVIDER}/managedClusters/agentPools/read"
_POOL_WRITE = f"{_PROVIDER}/managedClusters/agentPools/write"
#: The Azure CLI's public client, which kubelogin uses for device-code logins.
_KUBELOGIN_CLIENT = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"


def _cluster(call: ArmCall) -> Cluster:
    return find_in_group(
        call, call.world.clusters.values(), call.params["resourceName"], f"{_PROVIDER}/managedClusters"
    )


def _pool(call: ArmCall, cluster: Cluster) -> AgentPool:
    name = call.params["agentPoolName"]
    pool = cluster.agent_pools.get(name) or next(
        (p for p in cluster.agent_pools.values() if p.name.lower() == name.lower()), None
    )
    if pool is None:
        raise SandboxHTTPError(
            404, "NotFound", f"Agent pool '{name}' was not found in managed cluster '{cluster.name}'."
        )
    return pool


def _assert_idle(call: ArmCall, cluster: Cluster) -> None:
    busy = call.ctx.engine.in_progress(cluster.id)
    if busy is not None:
        raise SandboxHTTPError(
            409,
            "OperationNotAllowed",
            f"Operation is not allowed: Another operation ({busy.name}) is in progress, please wait for it "
            "to finish before starting a new operation. See https://aka.ms/aks-pending-operation for more "
            "details",
        )


def _assert_running(cluster: Cluster, what: str) -> None:
    if cluster.power_state == "Stopped":
        raise SandboxHTTPError(
            409,
            "OperationNotAllowed",
            "Operation is not allowed: managed cluster is in Provisioning State"
            f"({cluster.provisioning_state}) and Power State(Stopped), {what} cannot be performed. "
            "A stopped cluster only allows start and delete.",
        )


def _status_paths(cluster: Cluster) -> tuple[str, str]:
    base = f"/subscriptions/{cluster.subscription}/providers/{_PROVIDER}/locations/{cluster.location}"
    return f"{base}/operations", f"{base}/operationresults"


def _accepted(call: ArmCall, cluster: Cluster, op: Operation, body: dict[str, Any], status: int) -> Response:
    """The answer to a PUT or PATCH that started ``op``: the resource, and where to poll it."""
    status_path, _ = _status_paths(cluster)
    return ok(body, status, lro_headers(call, op, status_path=status_path, result_path=None))


def _tags_of(tags: dict[Any, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in tags.items()}


def _check_if_match(call: ArmCall, cluster: Cluster | None) -> None:
    """Optimistic concurrency: an ``If-Match`` that is not the current eTag is refused with 412."""
    wanted = call.request.headers.get("if-match")
    if wanted is None:
        return
    wanted = wanted.strip()
    if wanted == "*" and cluster is not None:
        return
    current = None if cluster is None else cluster_etag(cluster)
    if current is None or wanted.strip('"') != current:
        raise SandboxHTTPError(
            412,
            "PreconditionFailed",
            f"Operation failed because the eTag in the If-Match header ({wanted}) does not match the "
            f"resource's current eTag ({current}). Read the resource again and retry with its eTag.",
        )


# -- managedClusters: reads ------------------------------------------------------------------


@arm_route(
    "GET",
    "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerService/managedClusters",
    "managed_clusters.list",
)
async def list_clusters(call: ArmCall) -> Response:
    world = call.world
    return page(
        call, [render_cluster(c, world) for c in list_in_subscription(call, world.clusters.values(), _READ)]
    )


@arm_route("GET", _MC, "managed_clusters.list_by_resource_group")
async def list_clusters_by_group(call: ArmCall) -> Response:
    world = call.world
    return page(call, [render_cluster(c, world) for c in list_in_group(call, world.clusters.values(), _READ)])


@arm_route("GET", _MC + "/{resourceName}", "managed_clusters.get")
async def get_cluster(call: ArmCall) -> Response:
    cluster = _cluster(call)
    check_action(call.world, cluster.id, _READ)
    return ok(render_cluster(cluster, call.world), headers={"ETag": f'"{cluster_etag(cluster)}"'})


@arm_route("POST", _MC + "/{resourceName}/listClusterUserCredential", "managed_clusters.list_user_credential")
async def list_user_credential(call: ArmCall) -> Response:
    cluster = _cluster(call)
    check_action(call.world, cluster.id, f"{_PROVIDER}/managedClusters/listClusterUserCredential/action")
    fmt = call.request.query_params.get("format", "exec")
    if fmt.lower() not in ("exec", "azure"):
        raise SandboxHTTPError(400, "InvalidParameter", f"The value of parameter format '{fmt}' is invalid.")
    kubeconfig = build_kubeconfig(cluster, ca_pem=call.ctx.ca_pem, tenant=call.world.identity.tenant_id)
    value = base64.b64encode(kubeconfig.encode()).decode()
    return ok({"kubeconfigs": [{"name": "clusterUser", "value": value}]})


def build_kubeconfig(cluster: Cluster, *, ca_pem: bytes, tenant: str) -> str:
    """The kubeconfig AKS returns for an AAD cluster, pointing at the sandbox API server."""
    user = f"clusterUser_{cluster.resource_group}_{cluster.name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster.name,
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    "server": f"https://127.0.0.1:{cluster.port}",
                },
            }
        ],
        "contexts": [{"name": cluster.name, "context": {"cluster": cluster.name, "user": user}}],
        "current-context": cluster.name,
        "preferences": {},
        "users": [
            {
                "name": user,
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "kubelogin",
                        "args": [
                            "get-token",
                            "--environment",
                            "AzurePublicCloud",
                            "--server-id",
                            AKS_AUDIENCE,
                            "--client-id",
                            _KUBELOGIN_CLIENT,
                            "--tenant-id",
                            tenant,
                            "--login",
                            "devicecode",
                        ],
                        "env": None,
                        "installHint": "\nkubelogin is not installed which is required to connect to AAD "
                        "enabled cluster.\n\nTo learn more, please go to https://aka.ms/aks/kubelogin\n",
                        "interactiveMode": "IfAvailable",
                        "provideClusterInfo": False,
                    }
                },
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)


# -- managedClusters: stop / start -------------------------------------------------------------


@arm_route("POST", _MC + "/{resourceName}/stop", "managed_clusters.stop")
async def stop_cluster(call: ArmCall) -> Response:
    return _power(call, target="Stopped")


@arm_route("POST", _MC + "/{resourceName}/start", "managed_clusters.start")
async def start_cluster(call: ArmCall) -> Response:
    return _power(call, target="Running")


def _power(call: ArmCall, *, target: str) -> Response:
    cluster = _cluster(call)
    verb = "stop" if target == "Stopped" else "start"
    check_action(call.world, cluster.id, f"{_PROVIDER}/managedClusters/{verb}/action")
    world = call.world
    with world.lock:
        _assert_idle(call, cluster)
        if cluster.power_state == target:
            # AKS's own wording for each (learn.microsoft.com, troubleshoot/azure/azure-kubernetes/
            # create-upgrade-delete/operationnotallowed). A start failed half-way leaves the
            # cluster Running, so it too refuses another start.
            message = (
                "managed cluster is not currently running, stopping cannot be performed"
                if verb == "stop"
                else f"managed cluster is in Provisioning State({cluster.provisioning_state}) and Power "
                f"State({cluster.power_state}), starting cannot be performed"
            )
            raise SandboxHTTPError(409, "OperationNotAllowed", message)
        cluster.provisioning_state = "Stopping" if verb == "stop" else "Starting"

        def finish() -> None:
            cluster.power_state = target
            cluster.provisioning_state = "Succeeded"
            for pool in cluster.agent_pools.values():
                pool.power_state = target
                pool.provisioning_state = "Succeeded"

        def fail(_: dict[str, str]) -> None:
            cluster.provisioning_state = "Failed"
            if verb == "start":
                # The control plane came up and the pools did not (Azure/AKS#2171): AKS
                # reports the cluster and every pool Running, each in provisioningState Failed.
                cluster.power_state = "Running"
                for pool in cluster.agent_pools.values():
                    pool.power_state = "Running"
                    pool.provisioning_state = "Failed"

        op = call.begin_operation(
            name="Stopping" if verb == "stop" else "Starting",
            resource_id=cluster.id,
            finish=finish,
            fail=fail,
        )
    status_path, result_path = _status_paths(cluster)
    return Response(
        status_code=202, headers=lro_headers(call, op, status_path=status_path, result_path=result_path)
    )


# -- managedClusters: writes ------------------------------------------------------------------


@arm_route("PATCH", _MC + "/{resourceName}", "managed_clusters.update_tags")
async def update_tags(call: ArmCall) -> Response:
    cluster = _cluster(call)
    check_action(call.world, cluster.id, _WRITE)
    body = await call.json()
    unknown = set(body) - {"tags"}
    if unknown:
        raise SandboxHTTPError(
            400, "InvalidParameter", f"Only tags can be updated with PATCH (got {sorted(unknown)})."
        )
    tags = body.get("tags") or {}
    if not isinstance(tags, dict):
        raise SandboxHTTPError(400, "InvalidParameter", "tags must be an object.")
    world = call.world
    with world.lock:
        _assert_idle(call, cluster)
        _assert_running(cluster, "updating tags")
        cluster.tags = _tags_of(tags)
        cluster.revision += 1
        op = _begin_update(call, cluster, finish_extra=None)
    return _accepted(call, cluster, op, render_cluster(cluster, world), 200)


def _begin_update(call: ArmCall, cluster: Cluster, *, finish_extra: Callable[[], None] | None) -> Operation:
    """Mark the cluster Updating and start the LRO that applies ``finish_extra`` at its end."""
    cluster.provisioning_state = "Updating"

    def finish() -> None:
        if finish_extra is not None:
            finish_extra()
        cluster.provisioning_state = "Succeeded"

    def fail(_: dict[str, str]) -> None:
        cluster.provisioning_state = "Failed"

    return call.begin_operation(name="Updating", resource_id=cluster.id, finish=finish, fail=fail)


@arm_route("PUT", _MC + "/{resourceName}", "managed_clusters.create_or_update")
async def create_or_update_cluster(call: ArmCall) -> Response:
    world = call.world
    group = call.resource_group()
    sub = call.subscription()
    name = call.params["resourceName"]
    check_action(world, resource_id(sub.id, group, f"{_PROVIDER}/managedClusters", name), _WRITE)
    body = await call.json()
    props = body.get("properties") or {}
    try:
        existing = _cluster(call)
    except SandboxHTTPError:
        existing = None
    with world.lock:
        if existing is not None:
            _land_concurrent_write(call, existing)
        _check_if_match(call, existing)
        if existing is None:
            return _create_cluster(call, body, props, sub.id, group, name)
        cluster = existing
        _assert_idle(call, cluster)
        _assert_running(cluster, "updating the cluster")
        version = props.get("kubernetesVersion")
        if version and version != cluster.kubernetes_version:
            raise SandboxHTTPError(
                400,
                "UnsupportedBySandbox",
                "The sandbox does not emulate Kubernetes upgrades (kubernetesVersion).",
            )
        pools = {p.name: _copy_pool(p) for p in cluster.agent_pools.values()}
        _apply_profiles(pools, props.get("agentPoolProfiles") or [], version=cluster.kubernetes_version)
        network = _network_from(props.get("networkProfile"), cluster.network)
        check_capacity(world, cluster, network, cluster.agent_pools, list(pools.values()))
        if "tags" in body:
            cluster.tags = _tags_of(body.get("tags") or {})
        changed = [
            p for p in pools.values() if p.name not in cluster.agent_pools or p != cluster.agent_pools[p.name]
        ]
        raised = _raised(cluster.agent_pools, changed)
        for pool in changed:
            if pool.name in cluster.agent_pools:
                cluster.agent_pools[pool.name].provisioning_state = "Updating"

        def apply() -> None:
            cluster.network = network
            for pool in changed:
                pool.provisioning_state = "Succeeded"
                cluster.agent_pools[pool.name] = pool
                sync_pool_nodes(cluster, pool, world.now())
            evict_from_missing_nodes(cluster, world.now())
            run_autoscaler(world, cluster, raised)

        cluster.revision += 1
        op = _begin_update(call, cluster, finish_extra=apply)
    return _accepted(call, cluster, op, render_cluster(cluster, world), 200)


def _land_concurrent_write(call: ArmCall, cluster: Cluster) -> None:
    """Another writer's change to ``cluster``, accepted and finished just before this request
    is evaluated (a ``concurrent_write`` fault): it gets a new eTag, so this request's
    ``If-Match`` (read before) no longer matches and it gets 412; a request without one
    overwrites that change, as ARM lets it."""
    fault = call.ctx.faults.take_concurrent_write("arm", call.request.method, call.request.url.path)
    if fault is None or fault.change is None:
        return
    world = call.world
    props = fault.change.get("properties") or {}
    pools = {p.name: _copy_pool(p) for p in cluster.agent_pools.values()}
    _apply_profiles(pools, props.get("agentPoolProfiles") or [], version=cluster.kubernetes_version)
    network = _network_from(props.get("networkProfile"), cluster.network)
    check_capacity(world, cluster, network, cluster.agent_pools, list(pools.values()))
    if "tags" in fault.change:
        cluster.tags = {**cluster.tags, **_tags_of(fault.change["tags"])}
    cluster.network = network
    for pool in pools.values():
        if pool.name not in cluster.agent_pools or pool != cluster.agent_pools[pool.name]:
            cluster.agent_pools[pool.name] = pool
            sync_pool_nodes(cluster, pool, world.now())
    cluster.revision += 1


def _create_cluster(
    call: ArmCall, body: dict[str, Any], props: dict[str, Any], sub: str, group: str, name: str
) -> Response:
    world = call.world
    location = body.get("location")
    if not location:
        raise _invalid("location", "is required to create a managed cluster")
    version = props.get("kubernetesVersion") or "1.30.5"
    cluster = Cluster(
        name=name,
        subscription=sub,
        resource_group=group,
        location=location,
        kubernetes_version=version,
        tags=_tags_of(body.get("tags") or {}),
        dns_prefix=props.get("dnsPrefix") or f"{name}-dns",
        provisioning_state="Creating",
    )
    profiles = props.get("agentPoolProfiles") or []
    if not profiles:
        raise _invalid("agentPoolProfiles", "at least one agent pool is required")
    _apply_profiles(cluster.agent_pools, profiles, version=version, first_is_system=True)
    cluster.network = _network_from(props.get("networkProfile"), NetworkProfile())
    check_capacity(world, cluster, cluster.network, {}, list(cluster.agent_pools.values()))
    aad = props.get("aadProfile") or {}
    cluster.aad_managed = bool(aad.get("managed", True))
    cluster.azure_rbac = bool(aad.get("enableAzureRBAC", True))
    factory = ObjectFactory(cluster)
    now = world.now()
    for ns in DEFAULT_NAMESPACES:
        cluster.kube.namespaces[ns] = factory.namespace(ns, labels={}, created=now)
    cluster.kube.services[("default", "kubernetes")] = factory.default_service(created=now)
    for pool in cluster.agent_pools.values():
        sync_pool_nodes(cluster, pool, now)
    world.clusters[name] = cluster
    if call.ctx.bind_resource is not None:
        call.ctx.bind_resource("cluster", name)

    def finish() -> None:
        cluster.provisioning_state = "Succeeded"

    def fail(_: dict[str, str]) -> None:
        cluster.provisioning_state = "Failed"

    op = call.begin_operation(name="Creating", resource_id=cluster.id, finish=finish, fail=fail)
    return _accepted(call, cluster, op, render_cluster(cluster, world), 201)


def _raised(before: dict[str, AgentPool], after: list[AgentPool]) -> set[str]:
    """Pools that were autoscaled before a write and whose maxCount it raised."""
    out = set()
    for pool in after:
        old = before.get(pool.name)
        if (
            old is not None
            and old.enable_auto_scaling
            and pool.enable_auto_scaling
            and (pool.max_count or 0) > (old.max_count or 0)
        ):
            out.add(pool.name)
    return out


def _invalid(target: str, message: str) -> SandboxHTTPError:
    return SandboxHTTPError(
        400, "InvalidParameter", f"The value of parameter {target} is invalid: {message}."
    )


def _apply_profiles(
    pools: dict[str, AgentPool],
    profiles: list[dict[str, Any]],
    *,
    version: str,
    first_is_system: bool = False,
) -> None:
    """Apply ``agentPoolProfiles`` entries to ``pools`` by name, making the pools not there yet
    (a new cluster's first profile is its System pool); 400 unless a System pool remains."""
    for index, profile in enumerate(profiles):
        name = profile.get("name")
        if not name:
            raise _invalid(f"agentPoolProfiles[{index}].name", "is required")
        pool = pools.get(name) or AgentPool(
            name=name,
            orchestrator_version=version,
            mode="System" if first_is_system and index == 0 else "User",
        )
        _apply_pool_properties(pool, profile, "agentPoolProfile")
        pools[name] = pool
    _validate_pools(list(pools.values()))


def _copy_pool(pool: AgentPool) -> AgentPool:
    return dataclasses.replace(pool)


def _apply_pool_properties(pool: AgentPool, props: dict[str, Any], target: str) -> None:
    """Apply an agent pool body (PUT agentPools properties, or one agentPoolProfiles entry)."""
    if "count" in props and props["count"] is not None:
        pool.count = int(props["count"])
    if props.get("vmSize"):
        pool.vm_size = props["vmSize"]
    if props.get("mode"):
        if props["mode"] not in ("System", "User"):
            raise _invalid(f"{target}.mode", f"{props['mode']!r} is not System or User")
        pool.mode = props["mode"]
    if "enableAutoScaling" in props and props["enableAutoScaling"] is not None:
        pool.enable_auto_scaling = bool(props["enableAutoScaling"])
    if pool.enable_auto_scaling:
        pool.min_count = props.get("minCount", pool.min_count)
        pool.max_count = props.get("maxCount", pool.max_count)
    else:
        pool.min_count = pool.max_count = None
    if props.get("maxPods"):
        pool.max_pods = int(props["maxPods"])
    subnet = props.get("vnetSubnetID")
    if subnet:
        if pool.vnet_subnet_id is None:
            pool.vnet_subnet_id = subnet
        elif subnet.lower() != pool.vnet_subnet_id.lower():
            raise _invalid(f"{target}.vnetSubnetID", "the subnet of an existing agent pool cannot change")
    if props.get("osType"):
        pool.os_type = props["osType"]
    surge = (props.get("upgradeSettings") or {}).get("maxSurge")
    if surge:
        pool.max_surge = surge
    power = (props.get("powerState") or {}).get("code")
    if power:
        if power not in ("Running", "Stopped"):
            raise _invalid(f"{target}.powerState.code", f"{power!r} is not Running or Stopped")
        pool.power_state = power
    if pool.count < 0 or pool.count > 1000:
        raise _invalid(f"{target}.count", f"{pool.count} is not between 0 and 1000")
    if pool.mode == "System" and pool.count == 0:
        raise SandboxHTTPError(
            400,
            "InvalidParameter",
            f"{target}.count was {pool.count}. It must be greater or equal to minCount:1 and less than or "
            "equal to maxCount:1000. If allowedMinCount was expected to be 0 but is 1: 1) The nodepool is a "
            "VMAS pool. "
            "2) api Version is less than 2020-03-01. 3) The node is a system pool.",
        )
    if pool.mode == "System" and pool.power_state == "Stopped":
        raise _invalid(f"{target}.powerState", "a System node pool cannot be stopped")
    if pool.enable_auto_scaling:
        if pool.min_count is None or pool.max_count is None:
            raise _invalid(f"{target}.minCount", "enableAutoScaling needs minCount and maxCount")
        if pool.min_count > pool.max_count:
            raise _invalid(
                f"{target}.minCount", f"minCount {pool.min_count} is greater than maxCount {pool.max_count}"
            )
        if pool.max_count > 1000:
            raise _invalid(f"{target}.maxCount", f"maxCount {pool.max_count} is greater than 1000")
        if not pool.min_count <= pool.count <= pool.max_count:
            raise _invalid(f"{target}.count", f"count {pool.count} is not within minCount and maxCount")


def _validate_pools(pools: list[AgentPool]) -> None:
    if not any(p.mode == "System" for p in pools):
        raise SandboxHTTPError(
            400,
            "InvalidParameter",
            "A managed cluster needs at least one System node pool (agentPoolProfile.mode).",
        )


def _network_from(profile: dict[str, Any] | None, current: NetworkProfile) -> NetworkProfile:
    net = dataclasses.replace(current)
    if not profile:
        return net
    outbound = profile.get("outboundType")
    if outbound and outbound != current.outbound_type and current.outbound_type:
        raise SandboxHTTPError(
            400, "UnsupportedBySandbox", "The sandbox does not emulate changing outboundType."
        )
    lb = profile.get("loadBalancerProfile") or {}
    ips = (lb.get("managedOutboundIPs") or {}).get("count")
    if ips is not None:
        if not 1 <= int(ips) <= 100:
            raise _invalid("loadBalancerProfile.managedOutboundIPs.count", f"{ips} is not between 1 and 100")
        net.managed_outbound_ip_count = int(ips)
    ports = lb.get("allocatedOutboundPorts")
    if ports is not None:
        if not 0 <= int(ports) <= 64000 or int(ports) % 8:
            raise _invalid(
                "loadBalancerProfile.allocatedOutboundPorts", f"{ports} is not 0..64000 in multiples of 8"
            )
        net.allocated_outbound_ports = int(ports)
    nat_ips = ((profile.get("natGatewayProfile") or {}).get("managedOutboundIPProfile") or {}).get("count")
    if nat_ips is not None:
        if not 1 <= int(nat_ips) <= 16:
            raise _invalid(
                "natGatewayProfile.managedOutboundIPProfile.count", f"{nat_ips} is not between 1 and 16"
            )
        net.nat_gateway_ip_count = int(nat_ips)
    mode = profile.get("networkPluginMode")
    if mode is not None and mode != current.network_plugin_mode:
        raise SandboxHTTPError(
            400, "UnsupportedBySandbox", "The sandbox does not emulate changing networkPluginMode."
        )
    idle = lb.get("idleTimeoutInMinutes")
    if idle is not None:
        if not 4 <= int(idle) <= 120:
            raise _invalid("loadBalancerProfile.idleTimeoutInMinutes", f"{idle} is not between 4 and 120")
        net.idle_timeout_minutes = int(idle)
    return net


# -- agentPools ------------------------------------------------------------------------------


@arm_route("GET", _MC + "/{resourceName}/agentPools", "agent_pools.list")
async def list_pools(call: ArmCall) -> Response:
    cluster = _cluster(call)
    check_action(call.world, cluster.id, _POOL_READ)
    return page(call, [render_agent_pool(cluster, p) for p in cluster.agent_pools.values()])


@arm_route("GET", _MC + "/{resourceName}/agentPools/{agentPoolName}", "agent_pools.get")
async def get_pool(call: ArmCall) -> Response:
    cluster = _cluster(call)
    check_action(call.world, f"{cluster.id}/agentPools/{call.params['agentPoolName']}", _POOL_READ)
    return ok(render_agent_pool(cluster, _pool(call, cluster)))


@arm_route("PUT", _MC + "/{resourceName}/agentPools/{agentPoolName}", "agent_pools.create_or_update")
async def create_or_update_pool(call: ArmCall) -> Response:
    cluster = _cluster(call)
    name = call.params["agentPoolName"]
    check_action(call.world, f"{cluster.id}/agentPools/{name}", _POOL_WRITE)
    body = await call.json()
    props = body.get("properties") or {}
    world = call.world
    with world.lock:
        _assert_idle(call, cluster)
        _assert_running(cluster, "updating an agent pool")
        existing = cluster.agent_pools.get(name)
        pool = (
            _copy_pool(existing)
            if existing
            else AgentPool(name=name, orchestrator_version=cluster.kubernetes_version)
        )
        _apply_pool_properties(pool, props, "agentPoolProfile")
        others = [p for p in cluster.agent_pools.values() if p.name != name]
        _validate_pools([*others, pool])
        check_capacity(world, cluster, cluster.network, cluster.agent_pools, [*others, pool])
        cluster.revision += 1
        if existing is not None:
            # GETs show the pool as it is (Updating) until the operation ends; the
            # answer to the PUT shows what was asked for, as AKS's does.
            existing.provisioning_state = "Updating"
            shown = dataclasses.replace(pool, provisioning_state="Updating")
        else:
            pool.provisioning_state = "Creating"
            cluster.agent_pools[name] = pool
            shown = pool

        raised = _raised(cluster.agent_pools, [pool])

        def finish() -> None:
            pool.provisioning_state = "Succeeded"
            cluster.agent_pools[name] = pool
            sync_pool_nodes(cluster, pool, world.now())
            evict_from_missing_nodes(cluster, world.now())
            run_autoscaler(world, cluster, raised)

        def fail(_: dict[str, str]) -> None:
            cluster.agent_pools[name].provisioning_state = "Failed"

        op = call.begin_operation(
            name=f"{name} - {'Updating' if existing else 'Creating'}",
            resource_id=f"{cluster.id}/agentPools/{name}",
            finish=finish,
            fail=fail,
        )
    return _accepted(call, cluster, op, render_agent_pool(cluster, shown), 200 if existing else 201)


# -- operation status ---------------------------------------------------------------------------


@arm_route("GET", _OPS + "/operations/{operationId}", "managed_clusters.operation_status")
async def operation_status(call: ArmCall) -> Response:
    call.subscription()
    op = call.ctx.engine.operations.get(call.params["operationId"])
    if op is None:
        raise SandboxHTTPError(404, "NotFound", f"Operation '{call.params['operationId']}' was not found.")
    headers = {"Retry-After": str(call.ctx.engine.retry_after(op))} if op.status == "InProgress" else None
    return ok(op.body(), headers=headers)


@arm_route("GET", _OPS + "/operationresults/{operationId}", "managed_clusters.operation_result")
async def operation_result(call: ArmCall) -> Response:
    call.subscription()
    engine = call.ctx.engine
    op = engine.operations.get(call.params["operationId"])
    if op is None:
        raise SandboxHTTPError(404, "NotFound", f"Operation '{call.params['operationId']}' was not found.")
    if op.status == "InProgress":
        return Response(
            status_code=202,
            headers={"Location": str(call.request.url), "Retry-After": str(engine.retry_after(op))},
        )
    if op.status == "Failed" and op.error is not None:
        return ok({"error": op.error}, 400)
    return Response(status_code=op.result_status)
