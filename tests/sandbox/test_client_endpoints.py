"""Endpoints everyday clients need, checked over HTTPS without the clients themselves.

Cases:
- ``/metadata/endpoints`` answers without a token: the cloud object az reads for
  api-version 2022-09-01, the original form for 2015-01-01, naming the sandbox's ARM;
- Subscriptions - List and Get, Tenants - List, resource groups;
- Resources - List with ``resourceType eq``, ``name eq`` and ``and``; an unsupported
  clause or resource type is a 400, never an empty list;
- ARM, Resource Graph and the token exchange take the classic management audience;
- kube: aggregated discovery v2 is served when asked first (with its content type),
  the legacy document otherwise; ``/apis/autoscaling/v1`` lists autoscalers; every
  "all" kind carries the category; the default ``kubernetes`` Service exists;
  ``pods/log`` answers for a pod and 404s for a missing one; a Table is served for
  ``as=Table`` and a watch streams an ADDED event per object, then a BOOKMARK.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from sandbox.http import AKS_AUDIENCE
from sandbox.server import SandboxServer
from tests.support.sandbox import SUBSCRIPTION, minimal_estate, serve_sandbox


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with serve_sandbox(minimal_estate(), tmp_path_factory.mktemp("client-endpoints")) as running:
        yield running


def _get(server: SandboxServer, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.get(
        f"{server.arm_endpoint}{path}", headers=headers, verify=str(server.tls.ca_cert), timeout=10, **kwargs
    )


def _token(audience: str = "https://management.core.windows.net/") -> str:
    """A token from the sandbox's managed-identity endpoint, as az and the SDKs get one."""
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential().get_token(f"{audience}/.default").token


def test_cloud_metadata_needs_no_token(server: SandboxServer) -> None:
    cloud = _get(server, "/metadata/endpoints?api-version=2022-09-01").json()
    assert cloud["resourceManager"].rstrip("/") == server.arm_endpoint.rstrip("/")
    assert cloud["suffixes"]["acrLoginServer"] == "azurecr.io"
    assert "https://management.core.windows.net/" in cloud["authentication"]["audiences"]
    legacy = _get(server, "/metadata/endpoints?api-version=2015-01-01").json()
    assert "galleryEndpoint" in legacy and "authentication" in legacy


def test_subscriptions_tenants_and_groups(server: SandboxServer) -> None:
    token = _token()
    subs = _get(server, "/subscriptions?api-version=2022-12-01", token).json()["value"]
    assert [s["subscriptionId"] for s in subs] == [SUBSCRIPTION]
    assert subs[0]["state"] == "Enabled" and subs[0]["tenantId"]
    one = _get(server, f"/subscriptions/{SUBSCRIPTION}?api-version=2022-12-01", token).json()
    assert one["displayName"] == "test"
    tenants = _get(server, "/tenants?api-version=2022-12-01", token).json()["value"]
    assert tenants[0]["tenantId"] == subs[0]["tenantId"]
    groups = _get(server, f"/subscriptions/{SUBSCRIPTION}/resourcegroups?api-version=2021-04-01", token)
    assert {g["name"] for g in groups.json()["value"]} == {"rg-acr", "rg-aks"}


def test_resources_list_filters(server: SandboxServer) -> None:
    token = _token()
    base = f"/subscriptions/{SUBSCRIPTION}/resources?api-version=2021-04-01"
    registries = _get(
        server, base, token, params={"$filter": "resourceType eq 'Microsoft.ContainerRegistry/registries'"}
    ).json()["value"]
    assert [r["name"] for r in registries] == ["contosotest"]
    assert registries[0]["id"].endswith(
        "/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/contosotest"
    )
    both = _get(
        server,
        base,
        token,
        params={
            "$filter": "resourceType eq 'Microsoft.ContainerService/managedClusters' and name eq 'AKS-TEST'"
        },
    ).json()["value"]
    assert [r["name"] for r in both] == ["aks-test"]
    everything = _get(server, base, token).json()["value"]
    assert {r["type"] for r in everything} >= {
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.ContainerRegistry/registries/replications",
        "Microsoft.ContainerService/managedClusters",
    }
    for unsupported in ("tagName eq 'env'", "resourceType eq 'Microsoft.Web/sites'"):
        refused = _get(server, base, token, params={"$filter": unsupported})
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "UnsupportedBySandbox"


def test_classic_management_audience_everywhere(server: SandboxServer) -> None:
    token = _token("https://management.core.windows.net/")
    graph = requests.post(
        f"{server.arm_endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
        json={"subscriptions": [SUBSCRIPTION], "query": "Resources | project name"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(server.tls.ca_cert),
        timeout=10,
    )
    assert graph.status_code == 200, graph.text
    login_server = f"127.0.0.1:{server.world.registries['contosotest'].port}"
    exchange = requests.post(
        f"https://{login_server}/oauth2/exchange",
        data={"grant_type": "access_token", "service": login_server, "access_token": token},
        verify=str(server.tls.ca_cert),
        timeout=10,
    )
    assert exchange.status_code == 200, exchange.text
    assert exchange.json()["refresh_token"]


def _kube(
    server: SandboxServer, path: str, accept: str = "application/json", **kwargs: Any
) -> requests.Response:
    cluster = server.world.clusters["aks-test"]
    return requests.get(
        f"https://127.0.0.1:{cluster.port}{path}",
        headers={"Authorization": f"Bearer {_token(AKS_AUDIENCE)}", "Accept": accept},
        verify=str(server.tls.ca_cert),
        timeout=10,
        **kwargs,
    )


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def test_aggregated_discovery_and_categories(server: SandboxServer) -> None:
    answer = _kube(server, "/apis", accept=f"{AGGREGATED},application/json")
    assert answer.headers["content-type"].replace(" ", "").startswith(AGGREGATED)
    groups = {g["metadata"]["name"]: g for g in answer.json()["items"]}
    assert {"apps", "batch", "autoscaling", "authorization.k8s.io"} <= set(groups)
    deployments = next(
        r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    assert deployments["categories"] == ["all"]
    assert deployments["subresources"][0]["subresource"] == "scale"
    core = _kube(server, "/api", accept=AGGREGATED).json()
    assert {r["resource"] for r in core["items"][0]["versions"][0]["resources"]} >= {
        "pods",
        "services",
        "nodes",
    }
    legacy = _kube(server, "/apis")
    assert legacy.json()["kind"] == "APIGroupList"
    autoscaling = _kube(server, "/apis/autoscaling/v1").json()
    assert [r["name"] for r in autoscaling["resources"]] == ["horizontalpodautoscalers"]


def test_default_service_logs_and_tables(server: SandboxServer) -> None:
    service = _kube(server, "/api/v1/namespaces/default/services/kubernetes").json()
    assert service["spec"]["clusterIP"] == "10.0.0.1"
    pod = _kube(server, "/api/v1/namespaces/payments/pods").json()["items"][0]["metadata"]["name"]
    log = _kube(server, f"/api/v1/namespaces/payments/pods/{pod}/log")
    assert log.status_code == 200 and log.text == ""
    assert _kube(server, "/api/v1/namespaces/payments/pods/nope/log").status_code == 404
    table = _kube(server, "/api/v1/pods", accept="application/json;as=Table;v=v1;g=meta.k8s.io").json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_watch_streams_then_bookmarks(server: SandboxServer) -> None:
    with _kube(
        server,
        "/api/v1/namespaces/payments/pods?watch=true&allowWatchBookmarks=true&timeoutSeconds=3",
        stream=True,
    ) as answer:
        events = [json.loads(line) for line in answer.iter_lines() if line]
    types = [e["type"] for e in events]
    assert types[:2] == ["ADDED", "ADDED"]
    assert "BOOKMARK" in types
    assert all(e["object"]["kind"] == "Pod" for e in events)
