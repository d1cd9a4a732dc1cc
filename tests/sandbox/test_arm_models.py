"""ARM responses deserialize into the pinned SDKs' models with no field lost.

For each resource the app reads (registry, replication, managed cluster, agent pool,
credential result), the raw JSON the sandbox sends is compared with the SDK model
built from it:
- every key, at every depth, is one the model declares (a misspelt key would be
  silently dropped by the SDK: the app would read None);
- the fields the app reads have the raw values through the SDK's attribute names.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.rest import HttpRequest
from azure.mgmt.containerregistry import models as acr_models
from azure.mgmt.containerservice import models as aks_models

from sandbox.estate import DEMO_ESTATE
from sandbox.server import SandboxServer

SUB = "6b3f1c2e-1a2b-4c3d-8e4f-5a6b7c8d9e01"
ACR_VERSION = "2025-11-01"
AKS_VERSION = "2026-08-01"


@pytest.fixture
def sandbox_estate() -> Any:
    import yaml

    estate = yaml.safe_load(DEMO_ESTATE.read_text())
    estate["identity"].pop("roles")  # read everything
    return estate


def unknown_keys(model: Any, raw: Any, path: str = "") -> list[str]:
    """Raw JSON keys the SDK model does not declare (recursively through nested models)."""
    found: list[str] = []
    fields = {rf._rest_name: attr for attr, rf in type(model)._attr_to_rest_field.items()}
    for key, value in raw.items():
        where = f"{path}.{key}" if path else key
        attr = fields.get(key)
        if attr is None:
            found.append(where)
            continue
        typed = getattr(model, attr)
        if isinstance(value, dict) and hasattr(typed, "_attr_to_rest_field"):
            found += unknown_keys(typed, value, where)
        elif isinstance(value, list):
            for index, (item, typed_item) in enumerate(zip(value, typed or [], strict=False)):
                if isinstance(item, dict) and hasattr(typed_item, "_attr_to_rest_field"):
                    found += unknown_keys(typed_item, item, f"{where}[{index}]")
    return found


def raw_get(client: Any, url: str) -> Any:
    response = client._client.send_request(HttpRequest("GET", url))
    response.raise_for_status()
    return response.json()


def raw_post(client: Any, url: str) -> Any:
    response = client._client.send_request(HttpRequest("POST", url))
    response.raise_for_status()
    return response.json()


def test_registry_and_replication_models(sandbox: SandboxServer, acr_mgmt: Any) -> None:
    base = (
        f"{sandbox.arm_endpoint}/subscriptions/{SUB}/resourceGroups/rg-acr-edge"
        "/providers/Microsoft.ContainerRegistry/registries/contosoedge"
    )
    raw = raw_get(acr_mgmt, f"{base}?api-version={ACR_VERSION}")
    registry = acr_models.Registry(raw)

    assert unknown_keys(registry, raw) == []
    assert (
        registry.login_server
        == raw["properties"]["loginServer"]
        == sandbox.world.registries["contosoedge"].login_server
    )
    assert registry.sku.name == "Premium"
    assert registry.policies.quarantine_policy.status == "enabled"
    assert registry.location == "westeurope"
    assert registry.creation_date is not None

    raw_list = raw_get(acr_mgmt, f"{base}/replications?api-version={ACR_VERSION}")
    for item in raw_list["value"]:
        replication = acr_models.Replication(item)
        assert unknown_keys(replication, item) == []
        assert replication.region_endpoint_enabled == item["properties"]["regionEndpointEnabled"]
        assert replication.provisioning_state == "Succeeded"
        assert replication.status.display_status == "Ready"
    assert {
        acr_models.Replication(i).location: acr_models.Replication(i).region_endpoint_enabled
        for i in raw_list["value"]
    } == {
        "westeurope": True,
        "northeurope": True,
        "eastus2": False,
    }


def test_managed_cluster_and_agent_pool_models(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    base = (
        f"{sandbox.arm_endpoint}/subscriptions/{SUB}/resourceGroups/rg-aks-prod"
        "/providers/Microsoft.ContainerService/managedClusters/aks-prod"
    )
    raw = raw_get(aks_mgmt, f"{base}?api-version={AKS_VERSION}")
    cluster = aks_models.ManagedCluster(raw)

    assert unknown_keys(cluster, raw) == []
    assert cluster.power_state.code == "Running"
    assert cluster.provisioning_state == "Succeeded"
    assert cluster.tags == {"environment": "prod", "owner": "payments-team"}
    assert cluster.kubernetes_version == "1.30.5"
    lb = cluster.network_profile.load_balancer_profile
    assert cluster.network_profile.outbound_type == "loadBalancer"
    assert (lb.managed_outbound_i_ps.count, lb.allocated_outbound_ports, lb.idle_timeout_in_minutes) == (
        1,
        1024,
        30,
    )
    pools = {p.name: p for p in cluster.agent_pool_profiles}
    assert (pools["user"].mode, pools["user"].count, pools["user"].min_count, pools["user"].max_count) == (
        "User",
        3,
        3,
        10,
    )
    assert pools["user"].upgrade_settings.max_surge == "33%"
    assert pools["system"].power_state.code == "Running"

    raw_pool = raw_get(aks_mgmt, f"{base}/agentPools/user?api-version={AKS_VERSION}")
    pool = aks_models.AgentPool(raw_pool)
    assert unknown_keys(pool, raw_pool) == []
    assert (pool.count, pool.enable_auto_scaling, pool.max_count, pool.mode) == (3, True, 10, "User")

    raw_creds = raw_post(aks_mgmt, f"{base}/listClusterUserCredential?api-version={AKS_VERSION}")
    creds = aks_models.CredentialResults(raw_creds)
    assert unknown_keys(creds, raw_creds) == []
    assert bytes(creds.kubeconfigs[0].value).startswith(b"apiVersion: v1")


def test_sdk_list_results_carry_every_cluster(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    clusters = {c.name: c for c in aks_mgmt.managed_clusters.list()}

    assert set(clusters) == {"aks-prod"}  # the client's subscription only
    assert clusters["aks-prod"].agent_pool_profiles[0].orchestrator_version == "1.30.5"
