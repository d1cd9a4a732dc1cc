"""The failover part of the sandbox, through the unmodified SDKs.

Cases: App Configuration key-values carry ETags and a write from a stale ETag is refused
(412 → ResourceModifiedError); Resource Health reports Unavailable while the cluster's region
is impaired and Available again after it heals, with the time it changed; Traffic Manager
refuses a duplicate priority and reports Degraded for an impaired region's endpoint; an
impaired region's regional registry endpoint and cluster API server stop answering while the
global endpoint fails until the impaired replica leaves global routing; ARM refuses the
replication change while the home region is down, and accepts it when told to.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.server import SandboxServer
from tests.support.failover import POINTER_KEY, PRIMARY, SECONDARY, STORE, failover_estate, stamp_names
from tests.support.sandbox import SUBSCRIPTION, acr_session, arm_client, control, serve_sandbox


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_sandbox(failover_estate(stamps=1), tmp_path_factory.mktemp("failover")) as running:
        yield running


@pytest.fixture(autouse=True)
def healed(server: SandboxServer) -> Iterator[None]:
    yield
    for region in (PRIMARY, SECONDARY):
        control(server, "POST", f"regions/{region}", {"impaired": False})


def test_app_configuration_etags(server: SandboxServer) -> None:
    from azure.appconfiguration import AzureAppConfigurationClient, ConfigurationSetting
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError
    from azure.identity import ManagedIdentityCredential

    endpoint = control(server, "GET", "regions")["appConfigurations"][STORE]
    client = AzureAppConfigurationClient(endpoint, ManagedIdentityCredential())
    label = stamp_names(0)["stamp"]
    first = client.get_configuration_setting(key=POINTER_KEY, label=label)
    assert first.value == "pending" and first.etag
    first.value = "one"
    second = client.set_configuration_setting(first, match_condition=MatchConditions.IfNotModified)
    assert second.etag != first.etag
    stale = ConfigurationSetting(key=POINTER_KEY, label=label, value="two")
    with pytest.raises(ResourceModifiedError):
        client.set_configuration_setting(
            stale, match_condition=MatchConditions.IfNotModified, etag=first.etag
        )
    assert client.get_configuration_setting(key=POINTER_KEY, label=label).value == "one"


def test_resource_health_follows_the_region(server: SandboxServer) -> None:
    from azure.mgmt.resourcehealth import ResourceHealthMgmtClient

    client = arm_client(ResourceHealthMgmtClient, server)
    cluster = (
        f"subscriptions/{SUBSCRIPTION}/resourceGroups/rg-aks/providers/"
        f"Microsoft.ContainerService/managedClusters/{stamp_names(0)['cluster_primary']}"
    )
    assert client.availability_statuses.get_by_resource(cluster).properties.availability_state == "Available"
    control(server, "POST", f"regions/{PRIMARY}", {"impaired": True})
    down = client.availability_statuses.get_by_resource(cluster).properties
    assert down.availability_state == "Unavailable" and down.reason_type == "Unplanned"
    control(server, "POST", f"regions/{PRIMARY}", {"impaired": False})
    up = client.availability_statuses.get_by_resource(cluster).properties
    assert up.availability_state == "Available" and up.occured_time >= down.occured_time


def test_traffic_manager_priorities_and_monitor_status(server: SandboxServer) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.trafficmanager import TrafficManagerManagementClient

    client = arm_client(TrafficManagerManagementClient, server)
    name = stamp_names(0)["traffic_manager"]
    with pytest.raises(HttpResponseError, match="already used"):
        client.endpoints.update(
            "rg-edge", name, "ExternalEndpoints", PRIMARY, {"properties": {"priority": 2}}
        )
    control(server, "POST", f"regions/{PRIMARY}", {"impaired": True})
    profile = client.profiles.get("rg-edge", name)
    monitor = {e.name: getattr(e.endpoint_monitor_status, "value", None) for e in profile.endpoints}
    assert monitor == {PRIMARY: "Degraded", SECONDARY: "Online"}


def test_impaired_region_endpoints_and_global_routing(server: SandboxServer) -> None:
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    session = acr_session(server)
    registry = stamp_names(0)["registry"]
    regional = control(server, "GET", "regions")["regionalEndpoints"][registry]
    global_host = server.world.registries[registry].login_server
    for host in (regional[PRIMARY], regional[SECONDARY], global_host):
        assert session.get(f"https://{host}/v2/payments/api/manifests/v1", timeout=10).status_code == 200
    control(server, "POST", f"regions/{PRIMARY}", {"impaired": True})
    with pytest.raises(requests.ConnectionError):
        session.get(f"https://{regional[PRIMARY]}/v2/", timeout=10)
    assert (
        session.get(f"https://{regional[SECONDARY]}/v2/payments/api/manifests/v1", timeout=10).status_code
        == 200
    )
    assert session.get(f"https://{global_host}/v2/", timeout=10).status_code == 503

    acr = arm_client(ContainerRegistryManagementClient, server)
    update = {"properties": {"regionEndpointEnabled": False}}
    with pytest.raises(HttpResponseError, match="home region eastus2 is unavailable"):
        acr.replications.begin_update("rg-acr", registry, PRIMARY, update, retry_total=0).result()
    control(server, "PATCH", "regions", {"replicationWritesWhenHomeDown": "accept"})
    try:
        acr.replications.begin_update("rg-acr", registry, PRIMARY, update, polling_interval=0.1).result()
        assert (
            session.get(f"https://{global_host}/v2/payments/api/manifests/v1", timeout=10).status_code == 200
        )
    finally:
        control(server, "PATCH", "regions", {"replicationWritesWhenHomeDown": "refuse"})
        control(server, "POST", f"regions/{PRIMARY}", {"impaired": False})
        acr.replications.begin_update(
            "rg-acr", registry, PRIMARY, {"properties": {"regionEndpointEnabled": True}}, polling_interval=0.1
        ).result()
