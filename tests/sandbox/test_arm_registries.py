"""ARM Microsoft.ContainerRegistry through the unmodified ContainerRegistryManagementClient.

Cases:
- registries list by subscription and by resource group, with nextLink paging when the
  page size is small; the login server is the registry's sandbox port;
- dedicated data endpoints: ``dataEndpointHostNames`` lists ``<name>.<region>.data.azurecr.io``
  for the home region and each replica's while ``dataEndpointEnabled``, none otherwise;
- get; a missing registry is 404 ResourceNotFound; a missing resource group is 404
  ResourceGroupNotFound;
- begin_update changes tags and the quarantine policy (seen by later GETs and in the
  World); changing something the sandbox does not emulate is a loud 400;
- replications list and get; begin_update (an LRO) shows Updating while running and
  then applies regionEndpointEnabled; a poller resumes from its continuation token;
- begin_create adds a replication (201, then Succeeded).
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.containerregistry.models import (
    RegistryUpdateParameters,
    Replication,
    ReplicationUpdateParameters,
)

from sandbox.server import SandboxServer
from tests.support.sandbox import control, minimal_estate

SECOND_REGISTRY = {"name": "contosoother", "resourceGroup": "rg-acr", "sku": "Standard"}


@pytest.mark.parametrize(
    "sandbox_estate",
    [minimal_estate(registries=[*minimal_estate()["registries"], SECOND_REGISTRY])],
    indirect=True,
)
def test_list_registries_pages_with_next_link(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    control(sandbox, "PATCH", "settings", {"armPageSize": 1})

    listed = list(acr_mgmt.registries.list())
    by_group = list(acr_mgmt.registries.list_by_resource_group("rg-acr"))

    assert sorted(r.name for r in listed) == ["contosoother", "contosotest"]
    assert sorted(r.name for r in by_group) == ["contosoother", "contosotest"]
    pages = [r for r in sandbox.world.requests if r.operation == "registries.list"]
    assert len(pages) == 2  # one page per registry: nextLink was followed
    test = next(r for r in listed if r.name == "contosotest")
    assert test.login_server == f"127.0.0.1:{sandbox.world.registries['contosotest'].port}"
    assert test.sku.name == "Premium"


DATA_ENDPOINTS = {
    **minimal_estate()["registries"][0],
    "dataEndpointEnabled": True,
}


@pytest.mark.parametrize("sandbox_estate", [minimal_estate(registries=[DATA_ENDPOINTS])], indirect=True)
def test_data_endpoints_are_reported_per_region_while_enabled(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    registry = acr_mgmt.registries.get("rg-acr", "contosotest")
    assert registry.data_endpoint_enabled is True
    assert registry.data_endpoint_host_names == [
        "contosotest.eastus2.data.azurecr.io",
        "contosotest.westeurope.data.azurecr.io",
    ]


def test_no_data_endpoints_are_reported_while_disabled(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    registry = acr_mgmt.registries.get("rg-acr", "contosotest")
    assert registry.data_endpoint_enabled is False and registry.data_endpoint_host_names == []


def test_get_registry_and_missing_ones(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    registry = acr_mgmt.registries.get("rg-acr", "contosotest")

    assert registry.id.endswith(
        "/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosotest"
    )
    assert registry.policies.quarantine_policy.status == "disabled"
    with pytest.raises(ResourceNotFoundError) as missing:
        acr_mgmt.registries.get("rg-acr", "nosuchregistry")
    assert missing.value.error.code == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError) as no_group:
        acr_mgmt.registries.get("rg-nope", "contosotest")
    assert no_group.value.error.code == "ResourceGroupNotFound"


def test_update_registry_tags_and_quarantine_policy(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    params = RegistryUpdateParameters(
        tags={"owner": "platform"}, properties={"policies": {"quarantinePolicy": {"status": "enabled"}}}
    )

    updated = acr_mgmt.registries.begin_update("rg-acr", "contosotest", params).result()

    assert updated.tags == {"owner": "platform"}
    assert acr_mgmt.registries.get("rg-acr", "contosotest").policies.quarantine_policy.status == "enabled"
    assert sandbox.world.registries["contosotest"].quarantine_enabled is True


def test_update_of_an_unemulated_property_fails_loudly(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    params = RegistryUpdateParameters(properties={"anonymousPullEnabled": True})

    with pytest.raises(HttpResponseError) as refused:
        acr_mgmt.registries.begin_update("rg-acr", "contosotest", params).result()

    assert refused.value.status_code == 400
    assert refused.value.error.code == "UnsupportedBySandbox"


def test_list_and_get_replications(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    replications = {r.name: r for r in acr_mgmt.replications.list("rg-acr", "contosotest")}

    assert set(replications) == {"eastus2", "westeurope"}
    west = acr_mgmt.replications.get("rg-acr", "contosotest", "westeurope")
    assert west.location == "westeurope"
    assert west.region_endpoint_enabled is True
    assert west.provisioning_state == "Succeeded"
    assert west.status.display_status == "Ready"


def test_replication_update_is_an_lro(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    poller = acr_mgmt.replications.begin_update(
        "rg-acr", "contosotest", "westeurope", ReplicationUpdateParameters(region_endpoint_enabled=False)
    )
    during = acr_mgmt.replications.get("rg-acr", "contosotest", "westeurope")

    result = poller.result()

    assert during.provisioning_state == "Updating"
    assert during.region_endpoint_enabled is True
    assert result.region_endpoint_enabled is False
    assert result.provisioning_state == "Succeeded"
    assert sandbox.world.registries["contosotest"].replications["westeurope"].region_endpoint_enabled is False


def test_replication_poller_resumes_from_continuation_token(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    first = acr_mgmt.replications.begin_update(
        "rg-acr", "contosotest", "westeurope", ReplicationUpdateParameters(region_endpoint_enabled=False)
    )
    token = first.continuation_token()

    resumed = acr_mgmt.replications.begin_update(
        "rg-acr", "contosotest", "westeurope", ReplicationUpdateParameters(), continuation_token=token
    ).result()

    assert resumed.region_endpoint_enabled is False


def test_create_replication(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    created = acr_mgmt.replications.begin_create(
        "rg-acr",
        "contosotest",
        "northeurope",
        Replication(location="northeurope", region_endpoint_enabled=True),
    ).result()

    assert created.provisioning_state == "Succeeded"
    assert {r.name for r in acr_mgmt.replications.list("rg-acr", "contosotest")} == {
        "eastus2",
        "westeurope",
        "northeurope",
    }
