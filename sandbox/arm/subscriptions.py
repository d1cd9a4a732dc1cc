"""Subscriptions, tenants, resource groups and generic resources: what the az CLI reads first.

``az login --identity`` lists subscriptions (Subscriptions - List) and
``az acr show -n NAME`` finds a registry's resource group through Resources - List with
``$filter=resourceType eq 'Microsoft.ContainerRegistry/registries'``. Shapes follow the
``Microsoft.Resources`` specs (``subscriptions.json``, ``resources.json``).

Resources - List supports the ``$filter`` clauses az and the portal use, joined by
``and``: ``resourceType eq``, ``name eq``, ``resourceGroup eq``, ``location eq``, and
``substringof('x', name)``. A resource type the sandbox does not hold, or any other
clause, is a loud 400: an empty list would wrongly say "there is none".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from starlette.responses import JSONResponse, Response

from sandbox.arm.routing import ArmCall, arm_route
from sandbox.authz import check_action
from sandbox.http import SandboxHTTPError
from sandbox.world import World

_REGISTRY = "Microsoft.ContainerRegistry/registries"
_REPLICATION = "Microsoft.ContainerRegistry/registries/replications"
_CLUSTER = "Microsoft.ContainerService/managedClusters"
LISTED_TYPES = frozenset(t.lower() for t in (_REGISTRY, _REPLICATION, _CLUSTER))

_CLAUSE = re.compile(
    r"^\s*(?:(?P<field>resourceType|name|resourceGroup|location)\s+eq\s+'(?P<value>[^']*)'"
    r"|substringof\(\s*'(?P<part>[^']*)'\s*,\s*name\s*\))\s*$",
    re.IGNORECASE,
)


def _subscription_body(world: World, sub_id: str, name: str) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{sub_id}",
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": sub_id,
        "tenantId": world.identity.tenant_id,
        "displayName": name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    }


@arm_route("GET", "/subscriptions", "subscriptions.list")
async def list_subscriptions(call: ArmCall) -> Response:
    subs = [_subscription_body(call.world, s.id, s.name) for s in call.world.subscriptions.values()]
    return JSONResponse({"value": subs, "count": {"type": "Total", "value": len(subs)}})


@arm_route("GET", "/subscriptions/{subscriptionId}", "subscriptions.get")
async def get_subscription(call: ArmCall) -> Response:
    sub = call.subscription()
    return JSONResponse(_subscription_body(call.world, sub.id, sub.name))


@arm_route("GET", "/tenants", "tenants.list")
async def list_tenants(call: ArmCall) -> Response:
    tenant = call.world.identity.tenant_id
    body = {
        "id": f"/tenants/{tenant}",
        "tenantId": tenant,
        "tenantCategory": "Home",
        "displayName": "Sandbox",
        "defaultDomain": "sandbox.onmicrosoft.com",
        "domains": ["sandbox.onmicrosoft.com"],
        "tenantType": "AAD",
    }
    return JSONResponse({"value": [body]})


@arm_route("GET", "/subscriptions/{subscriptionId}/resourcegroups", "resource_groups.list")
async def list_resource_groups(call: ArmCall) -> Response:
    sub = call.subscription()
    check_action(
        call.world, f"/subscriptions/{sub.id}", "Microsoft.Resources/subscriptions/resourceGroups/read"
    )
    groups = [
        {
            "id": f"/subscriptions/{sub.id}/resourceGroups/{name}",
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": location,
            "properties": {"provisioningState": "Succeeded"},
        }
        for name, location in sub.resource_groups.items()
    ]
    return JSONResponse({"value": groups})


def _resources(world: World, sub_id: str) -> Iterator[dict[str, Any]]:
    """Every tracked resource the sandbox holds in one subscription, as GenericResourceExpanded."""
    for registry in world.registries.values():
        if registry.subscription != sub_id:
            continue
        yield {
            "id": registry.id,
            "name": registry.name,
            "type": _REGISTRY,
            "sku": {"name": registry.sku, "tier": registry.sku},
            "location": registry.location,
            "tags": dict(registry.tags),
            "resourceGroup": registry.resource_group,
        }
        for replication in registry.replications.values():
            yield {
                "id": f"{registry.id}/replications/{replication.name}",
                "name": f"{registry.name}/{replication.name}",
                "type": _REPLICATION,
                "location": replication.location,
                "tags": {},
                "resourceGroup": registry.resource_group,
            }
    for cluster in world.clusters.values():
        if cluster.subscription != sub_id:
            continue
        yield {
            "id": cluster.id,
            "name": cluster.name,
            "type": _CLUSTER,
            "sku": {"name": "Base", "tier": "Free"},
            "location": cluster.location,
            "tags": dict(cluster.tags),
            "resourceGroup": cluster.resource_group,
        }


def _unsupported(message: str) -> SandboxHTTPError:
    return SandboxHTTPError(400, "UnsupportedBySandbox", message)


def parse_resource_filter(text: str) -> list[tuple[str, str]]:
    """``$filter`` as (field, value) pairs; ``name~`` stands for ``substringof``."""
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE) if text.strip() else []:
        match = _CLAUSE.match(part)
        if match is None:
            raise _unsupported(
                f"The sandbox does not support the $filter clause {part!r}; it supports resourceType, "
                "name, resourceGroup and location with eq, and substringof('x', name), joined by and."
            )
        if match.group("part") is not None:
            clauses.append(("name~", match.group("part")))
        else:
            field, value = match.group("field"), match.group("value")
            if field.lower() == "resourcetype" and value.lower() not in LISTED_TYPES:
                raise _unsupported(
                    f"The sandbox does not list resources of type {value!r} through Resources - List; "
                    f"it lists {', '.join(sorted(LISTED_TYPES))}."
                )
            clauses.append((field.lower(), value))
    return clauses


def _matches(resource: dict[str, Any], clauses: list[tuple[str, str]]) -> bool:
    for field, value in clauses:
        wanted = value.lower()
        if field == "name~":
            if wanted not in resource["name"].lower():
                return False
            continue
        have = {
            "resourcetype": resource["type"],
            "name": resource["name"],
            "resourcegroup": resource["resourceGroup"],
            "location": resource["location"],
        }[field]
        if have.lower() != wanted:
            return False
    return True


@arm_route("GET", "/subscriptions/{subscriptionId}/resources", "resources.list")
async def list_resources(call: ArmCall) -> Response:
    sub = call.subscription()
    check_action(call.world, f"/subscriptions/{sub.id}", "Microsoft.Resources/subscriptions/resources/read")
    params = call.request.query_params
    for unsupported in ("$expand", "$skiptoken"):
        if params.get(unsupported):
            raise _unsupported(f"The sandbox does not support {unsupported} on Resources - List.")
    clauses = parse_resource_filter(params.get("$filter", ""))
    with call.world.lock:
        found = [
            {k: v for k, v in r.items() if k != "resourceGroup"}
            for r in _resources(call.world, sub.id)
            if _matches(r, clauses)
        ]
    top = params.get("$top")
    if top:
        if not top.isdigit() or int(top) < 1:
            raise SandboxHTTPError(400, "InvalidTopInQueryString", f"The value '{top}' of $top is not valid.")
        found = found[: int(top)]
    return JSONResponse({"value": found})


def metadata_endpoints(base_url: str, api_version: str | None) -> dict[str, Any]:
    """``GET /metadata/endpoints``: the cloud's endpoints, served without a token as ARM does.

    ``api-version`` 2019-05-01 and later (``az cloud register`` asks 2022-09-01 and reads
    ``name``, ``suffixes``, ``authentication``, ``resourceManager``…) answer the cloud
    object; older versions the original ``galleryEndpoint``/``graphEndpoint`` form."""
    arm = base_url.rstrip("/") + "/"
    authentication = {
        "loginEndpoint": "https://login.microsoftonline.com/",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    }
    if api_version is None or api_version < "2019-05-01":
        return {
            "galleryEndpoint": "https://gallery.azure.com/",
            "graphEndpoint": "https://graph.windows.net/",
            "portalEndpoint": "https://portal.azure.com/",
            "authentication": authentication,
        }
    return {
        "portal": "https://portal.azure.com",
        "authentication": authentication,
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "name": "AzureCloud",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net",
        },
        "batch": "https://batch.core.windows.net/",
        "resourceManager": arm,
        "vmImageAliasDoc": "",
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
    }
