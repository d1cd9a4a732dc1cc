"""Remediation's reads and writes through ARM: clusters with their eTag, outbound resources,
SNAT metrics, subnet usage and vCPU quotas.

- azure-mgmt-containerservice: ``managed_clusters.get`` (with ``eTag``) and
  ``begin_create_or_update(..., etag=, match_condition=IfNotModified)``: a GET, the change
  to ``networkProfile`` or one pool's ``maxCount`` only, and a PUT of the whole cluster as
  read (a managedClusters PUT replaces what it is not sent). A 412 is a Conflict: the
  cluster changed since the plan, so the service reads it again and plans again. The
  PUT is started with ``polling=False``; its ``Azure-AsyncOperation`` is polled later
  (``ops.adapters.aks.AksClusters.get_operation``).
- azure-mgmt-network: ``virtual_networks.list_usage`` gives each subnet's ``Subnet size and
  usage``.
- azure-mgmt-compute: ``usage.list(location)``, the regional vCPU quotas by family.
- azure-mgmt-monitor: ``metrics.list`` on the load balancer (``AllocatedSnatPorts``,
  ``UsedSnatPorts`` per backend, ``SnatConnectionCount`` Failed), the last minute of five or NAT gateway
  (``SNATConnectionCount`` by state). azure-monitor-query 2.x no longer ships
  ``MetricsQueryClient``; this is the same ``Microsoft.Insights/metrics`` API, through
  the management SDK.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ops.adapters.aks import AksClusters, container_service_client
from ops.adapters.clients import management_client, parse_resource_id
from ops.adapters.errors import translated_errors
from ops.config import Settings
from ops.errors import NotFound
from ops.remediate.clusters import (
    ClusterChange,
    ObservedCluster,
    QuotaUsage,
    SnatSignal,
    SubnetUsage,
    cluster_from_arm,
)
from ops.schedule.protocols import OperationRef, OperationResult

MANAGED_CLUSTERS = "Microsoft.ContainerService/managedClusters"
_WINDOW = timedelta(minutes=5)


def _network(settings: Settings, subscription: str) -> Any:
    from azure.mgmt.network import NetworkManagementClient

    return management_client(settings, NetworkManagementClient, subscription=subscription)


def _compute(settings: Settings, subscription: str) -> Any:
    from azure.mgmt.compute import ComputeManagementClient

    return management_client(settings, ComputeManagementClient, subscription=subscription)


def _monitor(settings: Settings, subscription: str) -> Any:
    from azure.mgmt.monitor import MonitorManagementClient

    return management_client(settings, MonitorManagementClient, subscription=subscription)


_LOCATE_TTL_S = 60.0
_LOCATE: dict[tuple[str, str], tuple[float, list[tuple[str, str, str]]]] = {}
_LOCATE_LOCK = threading.Lock()


class ArmClusters:
    """Remediation's ClusterWriter: managed clusters with their eTag, changed by If-Match PUTs.

    Finding which cluster an alert names (by node resource group or by name) lists the
    subscription's clusters; that list is kept a minute per process, since a burst of
    alerts would otherwise list the same clusters once per alert. Only ids are taken from
    it: the cluster itself is always read fresh (GET, with its eTag)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._operations = AksClusters(settings)

    def _locate(self, cluster_id: str) -> tuple[Any, str, str]:
        found = parse_resource_id(cluster_id, of_type=MANAGED_CLUSTERS, field="cluster")
        return container_service_client(self.settings, found.subscription), found.resource_group, found.name

    def get_cluster(self, cluster_id: str) -> ObservedCluster:
        client, group, name = self._locate(cluster_id)
        with translated_errors(f"get managed cluster {name}"):
            model = client.managed_clusters.get(group, name)
        return cluster_from_arm(model.as_dict())

    def _index(self, subscription: str) -> list[tuple[str, str, str]]:
        """(id, name, node resource group) of every cluster of ``subscription``, a minute old at most."""
        key = (self.settings.endpoints.arm_endpoint, subscription.lower())
        now = time.monotonic()
        with _LOCATE_LOCK:
            cached = _LOCATE.get(key)
        if cached is not None and now - cached[0] < _LOCATE_TTL_S:
            return cached[1]
        client = container_service_client(self.settings, subscription)
        with translated_errors(f"list managed clusters of subscription {subscription}"):
            found = [cluster_from_arm(c.as_dict()) for c in client.managed_clusters.list()]
        index = [(c.id, c.name, c.node_resource_group) for c in found]
        with _LOCATE_LOCK:
            _LOCATE[key] = (now, index)
        return index

    def find_by_node_resource_group(self, subscription: str, node_resource_group: str) -> str | None:
        wanted = node_resource_group.lower()
        return next((cid for cid, _, group in self._index(subscription) if group.lower() == wanted), None)

    def find_by_name(self, subscriptions: list[str], name: str) -> list[str]:
        return [
            cid
            for sub in subscriptions
            for cid, cname, _ in self._index(sub)
            if cname.lower() == name.lower()
        ]

    def begin_update(self, cluster_id: str, *, etag: str | None, change: ClusterChange) -> OperationRef:
        from azure.core import MatchConditions
        from azure.mgmt.containerservice import models

        from ops.adapters.aks import _FirstResponse

        client, group, name = self._locate(cluster_id)
        with translated_errors(f"get managed cluster {name}"):
            model = client.managed_clusters.get(group, name)
        if etag is not None and model.e_tag != etag:
            from ops.errors import Conflict

            raise Conflict(
                f"managed cluster {name} changed since it was planned (eTag {model.e_tag}, planned {etag})"
            )
        net = model.network_profile
        if change.allocated_outbound_ports is not None or change.managed_outbound_ips is not None:
            lb = net.load_balancer_profile
            if change.allocated_outbound_ports is not None:
                lb.allocated_outbound_ports = change.allocated_outbound_ports
            if change.managed_outbound_ips is not None:
                lb.managed_outbound_i_ps = models.ManagedClusterLoadBalancerProfileManagedOutboundIPs(
                    count=change.managed_outbound_ips
                )
        if change.nat_gateway_ips is not None:
            nat = net.nat_gateway_profile or models.ManagedClusterNATGatewayProfile()
            nat.managed_outbound_ip_profile = models.ManagedClusterManagedOutboundIPProfile(
                count=change.nat_gateway_ips
            )
            net.nat_gateway_profile = nat
        if change.pool is not None and change.max_count is not None:
            pool = next((p for p in model.agent_pool_profiles or [] if p.name == change.pool), None)
            if pool is None:
                raise NotFound(f"managed cluster {name} has no agent pool {change.pool}")
            pool.max_count = change.max_count
        first = _FirstResponse()
        with translated_errors(f"update managed cluster {name}"):
            client.managed_clusters.begin_create_or_update(
                group,
                name,
                model,
                etag=model.e_tag,
                match_condition=MatchConditions.IfNotModified,
                polling=False,
                raw_response_hook=first,
            )
        return first.ref()

    def get_operation(self, ref: OperationRef) -> OperationResult:
        return self._operations.get_operation(ref)


class ArmOutbound:
    """Remediation's OutboundReader and CapacityReader."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def read_snat(self, resource_id: str, *, nat_gateway: bool, now: datetime) -> SnatSignal:
        found = parse_resource_id(resource_id, field="alert target")
        client = _monitor(self.settings, found.subscription)
        timespan = f"{(now - _WINDOW).strftime('%Y-%m-%dT%H:%M:%SZ')}/{now.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        uri = resource_id.lstrip("/")

        def query(names: str, aggregation: str, flt: str) -> list[Any]:
            with translated_errors(f"read metrics {names} of {found.name}"):
                result = client.metrics.list(
                    uri,
                    timespan=timespan,
                    interval="PT1M",
                    metricnames=names,
                    aggregation=aggregation,
                    filter=flt,
                )
            return list(result.value or [])

        if nat_gateway:
            states: dict[str, float] = {}
            for metric in query("SNATConnectionCount", "Total", "ConnectionState eq '*'"):
                for series in metric.timeseries or []:
                    state = _dimension(series, "connectionstate")
                    points = [p.total or 0.0 for p in series.data or []]
                    states[state] = states.get(state, 0.0) + (points[-1] if points else 0.0)
            return SnatSignal(
                failed_connections=states.get("failed", 0.0),
                attempted_connections=states.get("attempted", 0.0),
            )
        per: dict[str, dict[str, float]] = {"allocatedsnatports": {}, "usedsnatports": {}}
        for metric in query("AllocatedSnatPorts,UsedSnatPorts", "Average", "BackendIPAddress eq '*'"):
            target = per[str(metric.name.value).lower()]
            for series in metric.timeseries or []:
                points = [p.average for p in series.data or [] if p.average is not None]
                if points:
                    target[_dimension(series, "backendipaddress")] = points[-1]
        failed: dict[str, float] = {}
        total = 0.0
        flt = "BackendIPAddress eq '*' and ConnectionState eq 'Failed'"
        for metric in query("SnatConnectionCount", "Total", flt):
            for series in metric.timeseries or []:
                points = [p.total or 0.0 for p in series.data or []]
                if points:
                    failed[_dimension(series, "backendipaddress")] = points[-1]
                    total += points[-1]
        return SnatSignal(
            allocated_per_backend=per["allocatedsnatports"],
            used_per_backend=per["usedsnatports"],
            failed_per_backend=failed,
            failed_connections=total,
        )

    def subnet_usage(self, subnet_id: str) -> SubnetUsage:
        head, _, subnet = subnet_id.rpartition("/subnets/")
        found = parse_resource_id(head, field="subnet")
        client = _network(self.settings, found.subscription)
        with translated_errors(f"list usage of virtual network {found.name}"):
            usages = list(client.virtual_networks.list_usage(found.resource_group, found.name))
        for usage in usages:
            if str(usage.id).lower() == subnet_id.lower():
                return SubnetUsage(subnet_id, int(usage.limit), int(usage.current_value))
        raise NotFound(f"virtual network {found.name} reports no usage for subnet {subnet}")

    def quota_usage(self, subscription: str, location: str) -> Mapping[str, QuotaUsage]:
        client = _compute(self.settings, subscription)
        with translated_errors(f"list Compute usages in {location}"):
            usages = list(client.usage.list(location))
        return {
            str(u.name.value): QuotaUsage(str(u.name.value), int(u.limit), int(u.current_value))
            for u in usages
        }


def _dimension(series: Any, name: str) -> str:
    for item in series.metadatavalues or []:
        if str(item.name.value).lower() == name:
            return str(item.value).lower() if name == "connectionstate" else str(item.value)
    return ""


class KubeAutoscaler:
    """Remediation's AutoscalerReader: the cluster's API server, as purge reaches it."""

    def __init__(self, settings: Settings) -> None:
        from ops.adapters.arm import ArmDirectory
        from ops.adapters.kube import kube_reader

        self.reader = kube_reader(settings, ArmDirectory(settings))

    def read_autoscaler(self, cluster: ObservedCluster) -> Any:
        from ops.purge.inventory import ClusterRef

        found = parse_resource_id(cluster.id, of_type=MANAGED_CLUSTERS, field="cluster")
        ref = ClusterRef(cluster.name, found.resource_group, found.subscription, id=cluster.id)
        return self.reader.read_autoscaler(ref)
