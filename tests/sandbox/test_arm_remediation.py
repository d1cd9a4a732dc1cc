"""The sandbox's remediation surface through the unmodified SDKs (network, compute, monitor,
containerservice, kubernetes).

Cases:
- a node resource group's load balancer ``kubernetes`` (NetworkManagementClient): one
  frontend per managed outbound IP, outbound rule with allocatedOutboundPorts; its public
  IPs list; a managedNATGateway cluster's NAT gateway with its IPs; an unknown load
  balancer is 404;
- virtual network usages: per-subnet ``Subnet size and usage`` counting flat-CNI pools at
  (maxCount + surge) x (maxPods + 1) and overlay pools at node IPs;
- Compute usages: the family's currentValue from running nodes, the estate's limit;
- metrics (MonitorManagementClient.metrics.list): AllocatedSnatPorts, UsedSnatPorts and
  SnatConnectionCount Failed per backend follow the estate's SNAT demand, change when
  the demand changes at run time (``/_sandbox/signals``) and when ports change through
  AKS; an unsupported filter dimension is 400;
- managedClusters PUT with If-Match: the current eTag is accepted and the eTag changes;
  a stale one is 412 (ResourceModifiedError); the LB reflects the new profile;
- AKS's validation in AKS's error shape: InvalidLoadBalancerProfileAllocatedOutboundPorts,
  InsufficientSubnetSize (a raised maxCount that outgrows the subnet), QuotaExceeded (a
  count beyond the vCPU quota); nothing changes after a refusal;
- the autoscaler: NotTriggerScaleUp events and the cluster-autoscaler-status ConfigMap
  at maxCount; raising maxCount through AKS lets pending pods schedule and clears them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError

from sandbox.server import SandboxServer
from tests.support.remediate import RG, lb_id, natgw_id, node_group, remediate_estate
from tests.support.sandbox import arm_client, control, kube_configuration, running_sandbox, sandbox_env


@pytest.fixture
def estate_sandbox(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SandboxServer]:
    with running_sandbox(remediate_estate(), tmp_path_factory.mktemp("sandbox")) as server:
        sandbox_env(server, monkeypatch)
        yield server


def _clients(server: SandboxServer) -> dict[str, Any]:
    from azure.mgmt.compute import ComputeManagementClient
    from azure.mgmt.containerservice import ContainerServiceClient
    from azure.mgmt.monitor import MonitorManagementClient
    from azure.mgmt.network import NetworkManagementClient

    return {
        "net": arm_client(NetworkManagementClient, server),
        "compute": arm_client(ComputeManagementClient, server),
        "monitor": arm_client(MonitorManagementClient, server),
        "aks": arm_client(ContainerServiceClient, server),
    }


def _metric(monitor: Any, resource: str, name: str, flt: str) -> dict[str, float]:
    result = monitor.metrics.list(
        resource.lstrip("/"), metricnames=name, aggregation="Average,Total", filter=flt, timespan=None
    )
    out: dict[str, float] = {}
    for series in result.value[0].timeseries:
        key = ",".join(m.value for m in series.metadatavalues) or "*"
        point = series.data[-1]
        out[key] = point.average if point.average is not None else point.total
    return out


def test_load_balancer_public_ips_and_nat_gateway(estate_sandbox: SandboxServer) -> None:
    net = _clients(estate_sandbox)["net"]
    lb = net.load_balancers.get(node_group("aks-snat"), "kubernetes")
    assert lb.id.lower() == lb_id("aks-snat").lower()
    assert len(lb.frontend_ip_configurations) == 1
    assert lb.outbound_rules[0].allocated_outbound_ports == 0
    ips = list(net.public_ip_addresses.list(node_group("aks-snat")))
    assert [ip.id for ip in ips] == [f.public_ip_address.id for f in lb.frontend_ip_configurations]
    gateway = net.nat_gateways.get(node_group("aks-natgw"), "kubernetes-natgw")
    assert gateway.id.lower() == natgw_id("aks-natgw").lower() and len(gateway.public_ip_addresses) == 1
    with pytest.raises(ResourceNotFoundError):
        net.load_balancers.get(node_group("aks-natgw"), "kubernetes")


def test_subnet_usage_and_compute_quota(estate_sandbox: SandboxServer) -> None:
    clients = _clients(estate_sandbox)
    usages = {
        u.id.rsplit("/", 1)[1]: u for u in clients["net"].virtual_networks.list_usage("rg-net", "vnet-aks")
    }
    # flat CNI: system (1+1) x 31 + user (maxCount 3 + 1) x 31, plus 40 other addresses
    assert (usages["tight"].current_value, usages["tight"].limit) == (226, 251)
    assert usages["snat"].current_value == 2 + 7  # overlay: node IPs only, at maxCount + surge
    assert usages["tight"].name.value == "Subnet size and usage"
    family = next(u for u in clients["compute"].usage.list("eastus2") if u.name.value == "standardDSv5Family")
    nodes = 5 + 10 + 4 + 4  # every running node is a Standard_D4s_v5
    assert (family.current_value, family.limit) == (nodes * 4, 400)


def test_snat_metrics_follow_demand_and_ports(estate_sandbox: SandboxServer) -> None:
    clients = _clients(estate_sandbox)
    monitor, aks = clients["monitor"], clients["aks"]
    lb = lb_id("aks-snat")
    allocated = _metric(monitor, lb, "AllocatedSnatPorts", "BackendIPAddress eq '*'")
    assert len(allocated) == 5 and set(allocated.values()) == {1024.0}
    failed = _metric(
        monitor, lb, "SnatConnectionCount", "BackendIPAddress eq '*' and ConnectionState eq 'Failed'"
    )
    assert set(failed.values()) == {8000.0 - 1024}
    control(estate_sandbox, "POST", "signals", {"cluster": "aks-snat", "snatPortsWantedPerNode": 900})
    assert set(_metric(monitor, lb, "SnatConnectionCount", "ConnectionState eq 'Failed'").values()) == {0.0}
    assert _metric(monitor, lb, "UsedSnatPorts", "") == {"*": 900.0}
    cluster = aks.managed_clusters.get(RG, "aks-snat")
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 4000
    aks.managed_clusters.begin_create_or_update(RG, "aks-snat", cluster).result()
    assert _metric(monitor, lb, "AllocatedSnatPorts", "") == {"*": 4000.0}
    with pytest.raises(HttpResponseError) as refused:
        _metric(monitor, lb, "UsedSnatPorts", "Region eq 'x'")
    assert refused.value.status_code == 400


def test_put_with_if_match_and_stale_etag(estate_sandbox: SandboxServer) -> None:
    aks = _clients(estate_sandbox)["aks"]
    net = _clients(estate_sandbox)["net"]
    first = aks.managed_clusters.get(RG, "aks-snat")
    stale = first.e_tag
    first.network_profile.load_balancer_profile.managed_outbound_i_ps.count = 2
    first.network_profile.load_balancer_profile.allocated_outbound_ports = 8000
    done = aks.managed_clusters.begin_create_or_update(
        RG, "aks-snat", first, etag=stale, match_condition=MatchConditions.IfNotModified
    ).result()
    assert done.e_tag != stale
    assert len(net.load_balancers.get(node_group("aks-snat"), "kubernetes").frontend_ip_configurations) == 2
    with pytest.raises(ResourceModifiedError) as raced:
        aks.managed_clusters.begin_create_or_update(
            RG, "aks-snat", first, etag=stale, match_condition=MatchConditions.IfNotModified
        )
    assert raced.value.status_code == 412


@pytest.mark.parametrize(
    ("cluster", "change", "code"),
    [
        ("aks-snat", {"ports": 64000}, "InvalidLoadBalancerProfileAllocatedOutboundPorts"),
        ("aks-tight", {"max": 4}, "InsufficientSubnetSize"),
        ("aks-natgw", {"count": 200}, "QuotaExceeded"),
    ],
)
def test_aks_validation_errors(
    estate_sandbox: SandboxServer, cluster: str, change: dict[str, int], code: str
) -> None:
    aks = _clients(estate_sandbox)["aks"]
    body = aks.managed_clusters.get(RG, cluster)
    user = next(p for p in body.agent_pool_profiles if p.name == "user")
    if "ports" in change:
        body.network_profile.load_balancer_profile.allocated_outbound_ports = change["ports"]
    if "max" in change:
        user.max_count = change["max"]
    if "count" in change:
        user.count = change["count"]
    with pytest.raises(HttpResponseError) as refused:
        aks.managed_clusters.begin_create_or_update(RG, cluster, body)
    assert refused.value.status_code == 400
    assert refused.value.error is not None and refused.value.error.code == code
    after = aks.managed_clusters.get(RG, cluster)
    assert after.e_tag == body.e_tag


def test_autoscaler_events_configmap_and_scale_up(estate_sandbox: SandboxServer) -> None:
    from kubernetes import client

    aks = _clients(estate_sandbox)["aks"]
    api = client.CoreV1Api(client.ApiClient(kube_configuration(aks, RG, "aks-scale")))
    events = api.list_namespaced_event("default", field_selector="reason=NotTriggerScaleUp").items
    assert len(events) == 8 and "max node group size reached" in events[0].message
    status = yaml.safe_load(
        api.read_namespaced_config_map("cluster-autoscaler-status", "kube-system").data["status"]
    )
    group = status["nodeGroups"][0]
    assert (group["health"]["maxSize"], group["scaleUp"]["reason"]) == (3, "MaxNodeGroupSizeReached")
    body = aks.managed_clusters.get(RG, "aks-scale")
    next(p for p in body.agent_pool_profiles if p.name == "user").max_count = 5
    aks.managed_clusters.begin_create_or_update(RG, "aks-scale", body).result()
    user = next(p for p in aks.managed_clusters.get(RG, "aks-scale").agent_pool_profiles if p.name == "user")
    assert (user.count, user.max_count) == (5, 5)
    assert api.list_namespaced_event("default", field_selector="reason=NotTriggerScaleUp").items == []
    pending = [p for p in api.list_namespaced_pod("default").items if p.status.phase == "Pending"]
    assert pending == []
