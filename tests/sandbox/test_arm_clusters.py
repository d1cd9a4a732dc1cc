"""ARM Microsoft.ContainerService through the unmodified ContainerServiceClient.

Cases:
- managed clusters list, list by resource group and get, with power state, tags,
  agent pool profiles and the load balancer profile;
- begin_stop().result(): Stopping while running, then Stopped (pools too); stopping a
  stopped cluster is 409 OperationNotAllowed; begin_start() brings it back;
- a stop poller resumes from its continuation token; moving the sandbox clock
  completes an operation without waiting;
- a second operation while one runs is 409; a stopped cluster refuses updates;
- after a start that failed (the cluster Failed but Running, its pools Failed): another
  start is 409 OperationNotAllowed; an agent pool PUT is taken and reconciles that pool
  to Succeeded, leaving the cluster Failed; a tags update, an operation on the cluster
  itself, brings the cluster back to Succeeded; a stop is taken too;
- agent pools list/get; create_or_update scales a pool (its nodes follow) and adds a
  pool (201); a System pool cannot be scaled to 0 (400 InvalidParameter);
- update_tags and create_or_update (load balancer profile) are LROs; a change that
  breaks the SNAT rule is refused;
- listClusterUserCredential returns a kubeconfig for the sandbox API server, with
  the sandbox CA and a kubelogin exec user for the AKS AAD server;
- a cluster created through ARM gets its own API server port.
"""

from __future__ import annotations

import base64
import socket
import ssl
from typing import Any

import pytest
import yaml
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.mgmt.containerservice.models import AgentPool, TagsObject

from sandbox.http import AKS_AUDIENCE
from sandbox.server import SandboxServer
from tests.support.sandbox import control

RG = "rg-aks"
NAME = "aks-test"


def test_list_and_get_clusters(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    listed = list(aks_mgmt.managed_clusters.list())
    by_group = list(aks_mgmt.managed_clusters.list_by_resource_group(RG))
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)

    assert [c.name for c in listed] == [NAME] == [c.name for c in by_group]
    assert cluster.power_state.code == "Running"
    assert cluster.provisioning_state == "Succeeded"
    assert cluster.tags == {"environment": "dev"}
    assert {(p.name, p.mode, p.count) for p in cluster.agent_pool_profiles} == {
        ("system", "System", 1),
        ("user", "User", 2),
    }
    user = next(p for p in cluster.agent_pool_profiles if p.name == "user")
    assert (user.enable_auto_scaling, user.min_count, user.max_count) == (True, 1, 5)
    lb = cluster.network_profile.load_balancer_profile
    assert lb.managed_outbound_i_ps.count == 1
    assert lb.idle_timeout_in_minutes == 30


def test_stop_then_start(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    poller = aks_mgmt.managed_clusters.begin_stop(RG, NAME)
    during = aks_mgmt.managed_clusters.get(RG, NAME)
    poller.result()
    stopped = aks_mgmt.managed_clusters.get(RG, NAME)

    assert (during.provisioning_state, during.power_state.code) == ("Stopping", "Running")
    assert (stopped.provisioning_state, stopped.power_state.code) == ("Succeeded", "Stopped")
    assert {p.power_state.code for p in stopped.agent_pool_profiles} == {"Stopped"}
    with pytest.raises(ResourceExistsError) as again:
        aks_mgmt.managed_clusters.begin_stop(RG, NAME).result()
    assert again.value.error.code == "OperationNotAllowed"

    aks_mgmt.managed_clusters.begin_start(RG, NAME).result()
    assert aks_mgmt.managed_clusters.get(RG, NAME).power_state.code == "Running"
    assert sandbox.world.clusters[NAME].power_state == "Running"


def test_stop_poller_resumes_from_continuation_token(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    token = aks_mgmt.managed_clusters.begin_stop(RG, NAME).continuation_token()

    aks_mgmt.managed_clusters.begin_stop(RG, NAME, continuation_token=token).result()

    assert aks_mgmt.managed_clusters.get(RG, NAME).power_state.code == "Stopped"


def test_clock_advance_completes_operations(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    control(sandbox, "PATCH", "settings", {"lroSeconds": 600})
    aks_mgmt.managed_clusters.begin_stop(RG, NAME, polling=False)
    assert aks_mgmt.managed_clusters.get(RG, NAME).provisioning_state == "Stopping"

    control(sandbox, "POST", "clock", {"advance": 601})

    assert aks_mgmt.managed_clusters.get(RG, NAME).power_state.code == "Stopped"


def test_one_operation_at_a_time_and_stopped_clusters_refuse_updates(
    sandbox: SandboxServer, aks_mgmt: Any
) -> None:
    poller = aks_mgmt.managed_clusters.begin_stop(RG, NAME)
    with pytest.raises(ResourceExistsError) as busy:
        aks_mgmt.managed_clusters.begin_update_tags(RG, NAME, TagsObject(tags={"a": "b"})).result()
    assert busy.value.error.code == "OperationNotAllowed"
    assert "in progress" in busy.value.error.message
    poller.result()

    pool = aks_mgmt.agent_pools.get(RG, NAME, "user")
    pool.count = 3
    with pytest.raises(ResourceExistsError) as stopped:
        aks_mgmt.agent_pools.begin_create_or_update(RG, NAME, "user", pool).result()
    assert stopped.value.error.code == "OperationNotAllowed"
    assert "Stopped" in stopped.value.error.message


def fail_a_start(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    """Stop the cluster, then start it with an injected LRO failure (as a capacity error)."""
    aks_mgmt.managed_clusters.begin_stop(RG, NAME).result()
    control(
        sandbox,
        "POST",
        "faults",
        {"kind": "lro_failure", "service": "arm", "method": "POST", "path": "/start$", "count": 1},
    )
    with pytest.raises(HttpResponseError):
        aks_mgmt.managed_clusters.begin_start(RG, NAME).result()


def test_a_cluster_whose_start_failed_refuses_start_and_takes_pool_updates(
    sandbox: SandboxServer, aks_mgmt: Any
) -> None:
    fail_a_start(sandbox, aks_mgmt)

    with pytest.raises(ResourceExistsError) as again:
        aks_mgmt.managed_clusters.begin_start(RG, NAME).result()
    assert again.value.error.code == "OperationNotAllowed"
    assert "Provisioning State(Failed) and Power State(Running), starting cannot be performed" in (
        again.value.error.message
    )

    system = aks_mgmt.agent_pools.get(RG, NAME, "system")
    assert system.provisioning_state == "Failed"
    updated = aks_mgmt.agent_pools.begin_create_or_update(RG, NAME, "system", system).result()
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)
    pools = {p.name: p.provisioning_state for p in cluster.agent_pool_profiles}

    assert updated.provisioning_state == "Succeeded"
    assert pools == {"system": "Succeeded", "user": "Failed"}
    assert (cluster.provisioning_state, cluster.power_state.code) == ("Failed", "Running")

    aks_mgmt.managed_clusters.begin_update_tags(RG, NAME, TagsObject(tags=cluster.tags)).result()
    assert aks_mgmt.managed_clusters.get(RG, NAME).provisioning_state == "Succeeded"


def test_a_cluster_whose_start_failed_can_be_stopped(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    fail_a_start(sandbox, aks_mgmt)

    aks_mgmt.managed_clusters.begin_stop(RG, NAME).result()
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)

    assert (cluster.provisioning_state, cluster.power_state.code) == ("Succeeded", "Stopped")
    assert {(p.provisioning_state, p.power_state.code) for p in cluster.agent_pool_profiles} == {
        ("Succeeded", "Stopped")
    }


def test_agent_pools_scale_and_create(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    pools = {p.name: p for p in aks_mgmt.agent_pools.list(RG, NAME)}
    user = aks_mgmt.agent_pools.get(RG, NAME, "user")
    user.count = 4

    scaled = aks_mgmt.agent_pools.begin_create_or_update(RG, NAME, "user", user).result()
    created = aks_mgmt.agent_pools.begin_create_or_update(
        RG, NAME, "batch", AgentPool(count=1, vm_size="Standard_F8s_v2", mode="User")
    ).result()

    assert set(pools) == {"system", "user"}
    assert scaled.count == 4 and scaled.provisioning_state == "Succeeded"
    assert created.name == "batch" and created.count == 1
    nodes = sandbox.world.clusters[NAME].kube.nodes.values()
    by_pool: dict[str, int] = {}
    for node in nodes:
        by_pool[node["metadata"]["labels"]["agentpool"]] = (
            by_pool.get(node["metadata"]["labels"]["agentpool"], 0) + 1
        )
    assert by_pool == {"system": 1, "user": 4, "batch": 1}


def test_system_pool_cannot_scale_to_zero(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    system = aks_mgmt.agent_pools.get(RG, NAME, "system")
    system.count = 0

    with pytest.raises(HttpResponseError) as refused:
        aks_mgmt.agent_pools.begin_create_or_update(RG, NAME, "system", system).result()

    assert refused.value.status_code == 400
    assert refused.value.error.code == "InvalidParameter"
    assert "system pool" in refused.value.error.message
    assert sandbox.world.clusters[NAME].agent_pools["system"].count == 1


def test_update_tags_and_load_balancer_profile(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    tagged = aks_mgmt.managed_clusters.begin_update_tags(
        RG, NAME, TagsObject(tags={"environment": "qa"})
    ).result()
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)
    cluster.network_profile.load_balancer_profile.managed_outbound_i_ps.count = 2
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 4000

    updated = aks_mgmt.managed_clusters.begin_create_or_update(RG, NAME, cluster).result()

    assert tagged.tags == {"environment": "qa"}
    lb = updated.network_profile.load_balancer_profile
    assert (lb.managed_outbound_i_ps.count, lb.allocated_outbound_ports) == (2, 4000)
    assert sandbox.world.clusters[NAME].network.allocated_outbound_ports == 4000


def test_snat_rule_is_enforced(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = (
        16000  # x (1+1 + 5+1) nodes > 64000
    )

    with pytest.raises(HttpResponseError) as refused:
        aks_mgmt.managed_clusters.begin_create_or_update(RG, NAME, cluster).result()

    assert refused.value.status_code == 400
    assert sandbox.world.clusters[NAME].network.allocated_outbound_ports == 0


def test_user_credential_is_a_kubeconfig_for_the_sandbox(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    result = aks_mgmt.managed_clusters.list_cluster_user_credentials(RG, NAME)

    config = yaml.safe_load(bytes(result.kubeconfigs[0].value))
    cluster = config["clusters"][0]["cluster"]
    assert result.kubeconfigs[0].name == "clusterUser"
    assert cluster["server"] == f"https://127.0.0.1:{sandbox.world.clusters[NAME].port}"
    assert base64.b64decode(cluster["certificate-authority-data"]) == sandbox.tls.ca_pem()
    exec_ = config["users"][0]["user"]["exec"]
    assert exec_["command"] == "kubelogin"
    assert exec_["args"][exec_["args"].index("--server-id") + 1] == AKS_AUDIENCE


def test_cluster_created_through_arm_gets_an_api_server(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    template = aks_mgmt.managed_clusters.get(RG, NAME)
    template.tags = {"environment": "dev"}

    created = aks_mgmt.managed_clusters.begin_create_or_update(
        RG,
        "aks-new",
        {
            "location": "eastus2",
            "tags": {"environment": "dev"},
            "properties": {
                "dnsPrefix": "aks-new",
                "agentPoolProfiles": [{"name": "system", "mode": "System", "count": 1}],
            },
        },
    ).result()

    assert created.provisioning_state == "Succeeded"
    port = sandbox.world.clusters["aks-new"].port
    assert port and port != sandbox.world.clusters[NAME].port
    context = ssl.create_default_context(cafile=str(sandbox.tls.ca_cert))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /version HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert tls.recv(64).startswith(b"HTTP/1.1 ")
