"""What the ARM adapters share (ops.adapters.clients): resource ids, clients, enum values.

Cases covered:
- parse_resource_id, as a table: a registry, a cluster, an agent pool (child), a
  subscription-level operation status path, an extension resource (second providers/),
  a subscription, a resource group; keywords in any case, values kept as written,
  leading/trailing slashes and whitespace ignored; resource_type joins the types.
- Malformed ids, as a table, raise InvalidInput naming the caller's field: empty,
  not under /subscriptions, missing names, a dangling type, empty segments, a bare
  providers/namespace.
- of_type: the right type passes (any case); another type, a child of the type, or the
  type outside a resource group is refused.
- management_client: one client per (class, subscription in any case, endpoint),
  built with the configured endpoint, audience scope and the shared credential; another
  subscription, class or credential gets another client; subscription-less classes work.
- enum_text gives an SDK enum's wire value, and Resource Graph's query_rows refuses a
  truncated answer with no $skipToken whether resultTruncated is the wire string or the
  SDK's ResultTruncated enum (whose str() is not "true"), and returns every row otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryResponse, ResultTruncated

from ops.adapters import clients, graph, identity
from ops.adapters.clients import enum_text, management_client
from ops.config import Settings, load_settings
from ops.errors import InvalidInput, PermanentError
from ops.resource_ids import ResourceId, parse_resource_id

SUB = "00000000-0000-0000-0000-000000000001"
REGISTRY = f"/subscriptions/{SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/acr1"
CLUSTER = (
    f"/subscriptions/{SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-a"
)
CLUSTERS = "Microsoft.ContainerService/managedClusters"


@pytest.mark.parametrize(
    ("resource_id", "expected", "resource_type"),
    [
        (
            REGISTRY,
            ResourceId(SUB, "rg-acr", "Microsoft.ContainerRegistry", "registries", "acr1"),
            "Microsoft.ContainerRegistry/registries",
        ),
        (
            CLUSTER,
            ResourceId(SUB, "rg-aks", "Microsoft.ContainerService", "managedClusters", "aks-a"),
            CLUSTERS,
        ),
        (
            f"{CLUSTER}/agentPools/system",
            ResourceId(
                SUB,
                "rg-aks",
                "Microsoft.ContainerService",
                "managedClusters",
                "aks-a",
                (("agentPools", "system"),),
            ),
            "Microsoft.ContainerService/managedClusters/agentPools",
        ),
        (
            f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/locations/westeurope/operations/op-1",
            ResourceId(
                SUB, "", "Microsoft.ContainerService", "locations", "westeurope", (("operations", "op-1"),)
            ),
            "Microsoft.ContainerService/locations/operations",
        ),
        (
            f"{REGISTRY}/providers/Microsoft.Security/assessments/a1/subAssessments/s1",
            ResourceId(
                SUB,
                "rg-acr",
                "Microsoft.ContainerRegistry",
                "registries",
                "acr1",
                (("providers", "Microsoft.Security"), ("assessments", "a1"), ("subAssessments", "s1")),
            ),
            "Microsoft.ContainerRegistry/registries/providers/assessments/subAssessments",
        ),
        (f"/subscriptions/{SUB}", ResourceId(SUB, "", "Microsoft.Resources", "subscriptions", SUB), None),
        (
            f"/subscriptions/{SUB}/resourceGroups/rg-1",
            ResourceId(SUB, "rg-1", "Microsoft.Resources", "resourceGroups", "rg-1"),
            "Microsoft.Resources/resourceGroups",
        ),
        (
            f"/SUBSCRIPTIONS/{SUB}/resourcegroups/RG-Acr/PROVIDERS/microsoft.containerregistry/Registries/ACR1",
            ResourceId(SUB, "RG-Acr", "microsoft.containerregistry", "Registries", "ACR1"),
            "microsoft.containerregistry/Registries",
        ),
        (
            f"  {REGISTRY}/ ",
            ResourceId(SUB, "rg-acr", "Microsoft.ContainerRegistry", "registries", "acr1"),
            "Microsoft.ContainerRegistry/registries",
        ),
        (
            REGISTRY.lstrip("/"),
            ResourceId(SUB, "rg-acr", "Microsoft.ContainerRegistry", "registries", "acr1"),
            "Microsoft.ContainerRegistry/registries",
        ),
    ],
)
def test_parse_resource_id_splits_every_shape(
    resource_id: str, expected: ResourceId, resource_type: str | None
) -> None:
    parsed = parse_resource_id(resource_id)
    assert parsed == expected
    assert parsed.resource_type == (resource_type or "Microsoft.Resources/subscriptions")


@pytest.mark.parametrize(
    "resource_id",
    [
        "",
        "/",
        "acr1",
        "/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1",
        "/subscriptions",
        "/subscriptions/",
        f"/subscriptions/{SUB}/resourceGroups",
        f"/subscriptions/{SUB}/resourceGroups/rg/registries/acr1",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries",
        f"{CLUSTER}/agentPools",
        f"/subscriptions/{SUB}//resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/acr1",
        f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerRegistry//acr1",
    ],
)
def test_parse_resource_id_refuses_malformed_ids(resource_id: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_resource_id(resource_id, field="data.target.registry")
    assert caught.value.path == "data.target.registry"
    assert caught.value.got == resource_id


@pytest.mark.parametrize(
    ("resource_id", "accepted"),
    [
        (CLUSTER, True),
        (
            CLUSTER.replace(
                "Microsoft.ContainerService/managedClusters", "microsoft.containerservice/MANAGEDCLUSTERS"
            ),
            True,
        ),
        (REGISTRY, False),
        (f"{CLUSTER}/agentPools/system", False),
        (f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters/aks-a", False),
        (f"/subscriptions/{SUB}/resourceGroups/rg-aks", False),
    ],
)
def test_of_type_accepts_only_that_type_in_a_group(resource_id: str, accepted: bool) -> None:
    if accepted:
        assert parse_resource_id(resource_id, of_type=CLUSTERS, field="cluster").name == "aks-a"
        return
    with pytest.raises(InvalidInput) as caught:
        parse_resource_id(resource_id, of_type=CLUSTERS, field="cluster")
    assert caught.value.path == "cluster"
    assert CLUSTERS in caught.value.expected


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setattr(identity, "_CREDENTIALS", {})
    monkeypatch.setattr(clients, "_CLIENTS", {})
    return load_settings(
        {"OPS_ARM_ENDPOINT": "https://arm.example.test:8443", "OPS_ARM_AUDIENCE": "https://arm.example.test"}
    )


def test_management_client_is_built_once_per_class_subscription_and_endpoint(settings: Settings) -> None:
    first = management_client(settings, ContainerServiceClient, subscription=SUB)
    assert management_client(settings, ContainerServiceClient, subscription=SUB.upper()) is first
    assert first._config.base_url == "https://arm.example.test:8443"
    assert first._config.credential_scopes == ["https://arm.example.test/.default"]
    assert first._config.credential is identity.build_credential(settings)
    assert first._config.subscription_id == SUB

    other_sub = management_client(settings, ContainerServiceClient, subscription=SUB.replace("1", "2"))
    other_class = management_client(settings, ContainerRegistryManagementClient, subscription=SUB)
    graph_client = management_client(settings, ResourceGraphClient)
    assert len({id(first), id(other_sub), id(other_class), id(graph_client)}) == 4
    assert management_client(settings, ResourceGraphClient) is graph_client
    assert graph_client._config.credential_scopes == ["https://arm.example.test/.default"]

    elsewhere = load_settings({"OPS_ARM_ENDPOINT": "https://other.example.test"})
    assert management_client(elsewhere, ContainerServiceClient, subscription=SUB) is not first


def test_a_new_credential_gets_new_clients(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    first = management_client(settings, ContainerServiceClient, subscription=SUB)
    monkeypatch.setattr(identity, "_CREDENTIALS", {})
    again = management_client(settings, ContainerServiceClient, subscription=SUB)
    assert again is not first
    assert again._config.credential is identity.build_credential(settings)


def test_enum_text_gives_the_wire_value() -> None:
    assert str(ResultTruncated.TRUE) != "true"  # why enum_text exists
    assert enum_text(ResultTruncated.TRUE) == "true"
    assert enum_text("Premium") == "Premium"


class _Pages:
    """A ResourceGraphClient stand-in that answers with the given responses in turn."""

    def __init__(self, responses: list[QueryResponse]) -> None:
        self.responses = responses
        self.tokens: list[str | None] = []

    def resources(self, request: Any) -> QueryResponse:
        self.tokens.append(request.options.skip_token)
        return self.responses.pop(0)


def _response(truncated: Any, skip_token: str | None = None) -> QueryResponse:
    """A page as the SDK deserializes it off the wire, with ``resultTruncated`` as given."""
    body = {"totalRecords": 3, "count": 1, "resultTruncated": "false", "data": [{"id": "row"}]}
    response = QueryResponse.deserialize({**body, "$skipToken": skip_token} if skip_token else body)
    response.result_truncated = truncated
    return response


@pytest.mark.parametrize(
    ("truncated", "refused"),
    [("true", True), (ResultTruncated.TRUE, True), ("false", False), (ResultTruncated.FALSE, False)],
)
def test_query_rows_refuses_only_a_truncated_last_page(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, truncated: Any, refused: bool
) -> None:
    pages = _Pages([_response("false", skip_token="t1"), _response(truncated)])
    monkeypatch.setattr(graph, "resource_graph_client", lambda _settings: pages)
    if refused:
        with pytest.raises(PermanentError, match="truncated the answer at 2 of 3 rows"):
            graph.query_rows(settings, "resources")
    else:
        assert graph.query_rows(settings, "resources") == [{"id": "row"}, {"id": "row"}]
    assert pages.tokens == [None, "t1"]
