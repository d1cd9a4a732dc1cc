"""Private networking, diagnostic settings, the workbook and the app's own alerts.

Cases:
- with vnetEnabled, every public network access switch of what the app deploys is off,
  except the documented ones (PUBLIC_BY_DESIGN, each with its reason); a switch that
  follows a parameter is given ``vnetEnabled ? 'Disabled' : 'Enabled'`` by main.bicep,
  and the storage firewall denies by default with it;
- the function app integrates with the app subnet, which is delegated as Flex
  Consumption requires;
- every private endpoint has its DNS zone group; each endpoint main.bicep creates names
  the zone of its own sub-resource; the zones are linked to the network; storage has
  blob, queue and table endpoints, every registry in scope one, and Azure Monitor's
  private link scope (workspace and Application Insights) one with all its zones;
- every resource type infra creates either takes a diagnostic setting to the workspace
  (and each such resource has one) or is listed in NO_DIAGNOSTICS with the reason;
- the workbook is valid JSON of the workbook schema, shows the four audit queries and
  the metrics, and every query uses only tables, columns, fields, metric names and values
  the app writes (so do the alert rules and docs/observability.md);
- alert rules on failed invocations and on rejected inputs notify the action group, and
  query with an identity that may read the workspace;
- principalId grants the table and blob data roles on the app's storage only, from
  AZURE_PRINCIPAL_ID;
- host.json's sampling leaves requests and exceptions alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ops.telemetry.fields import METRICS
from tests.infra.kql import kql_blocks, problems
from tests.infra.templates import (
    INFRA,
    ROOT,
    Resource,
    all_resources,
    declared_resources,
    parameter_env_names,
    parse,
    strings,
    text,
)

APP = INFRA / "app"
MAIN = INFRA / "main.bicep"

#: Public network access that stays on with vnetEnabled: (template, symbol, property) -> why.
PUBLIC_BY_DESIGN = {
    ("api.bicep", "site", "publicNetworkAccess"): "Event Grid and action-group webhooks call the app",
    ("monitoring.bicep", "workspace", "publicNetworkAccessForQuery"): "operators query from the portal",
    ("monitoring.bicep", "applicationInsights", "publicNetworkAccessForQuery"): "as the workspace",
}

#: Resource types that take diagnostic settings: each created resource of these gets one.
DIAGNOSABLE = {
    "Microsoft.Web/sites",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Storage/storageAccounts/blobServices",
    "Microsoft.EventGrid/topics",
    "Microsoft.EventGrid/systemTopics",
    "Microsoft.Network/virtualNetworks",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.OperationalInsights/workspaces",
}

#: Resource types created without a diagnostic setting, and why.
NO_DIAGNOSTICS = {
    "Microsoft.Resources/resourceGroups": "not a resource with logs or metrics",
    "Microsoft.ManagedIdentity/userAssignedIdentities": "has no logs or metrics",
    "Microsoft.Authorization/roleAssignments": "the subscription's activity log records them",
    "Microsoft.Authorization/roleDefinitions": "the subscription's activity log records them",
    "Microsoft.Web/serverfarms": "a Flex Consumption plan's work is reported by its function app",
    "Microsoft.Web/sites/basicPublishingCredentialsPolicies": "a setting of the site",
    "Microsoft.Insights/components": "workspace-based: its telemetry is already in the workspace",
    "Microsoft.Insights/actionGroups": "has no logs or metrics",
    "Microsoft.Insights/activityLogAlerts": "has no logs or metrics; its firings are in the activity log",
    "Microsoft.Insights/metricAlerts": "alert history is in the activity log",
    "Microsoft.Insights/scheduledQueryRules": "alert history is in the activity log",
    "Microsoft.Insights/workbooks": "has no logs or metrics",
    "Microsoft.Insights/diagnosticSettings": "is the setting itself",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "logged by the blob service",
    "Microsoft.EventGrid/systemTopics/eventSubscriptions": "logged by the system topic",
    "Microsoft.Network/privateDnsZones": "has no resource logs",
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": "has no resource logs",
    "Microsoft.Network/privateEndpoints": "its traffic is logged by the service behind it",
    "Microsoft.Network/privateEndpoints/privateDnsZoneGroups": "a setting of the endpoint",
    "Microsoft.Insights/privateLinkScopes": "has no logs or metrics; what it carries lands in the workspace",
    "Microsoft.Insights/privateLinkScopes/scopedResources": "a setting of the scope",
}

#: Storage services with no declaration of their own (each account has them), which
#: diagnostics.bicep reaches as existing resources.
STORAGE_SERVICES = (
    "Microsoft.Storage/storageAccounts/queueServices",
    "Microsoft.Storage/storageAccounts/tableServices",
)


def _bool_param_condition(node: Any) -> bool:
    return node == {
        "operator": {
            "type": "conditional",
            "operands": {"condition": "vnetEnabled", "true_value": "Disabled", "false_value": "Enabled"},
        }
    }


def _public_switches() -> Iterator[tuple[Resource, str, Any]]:
    for resource in all_resources():
        if resource.existing or "estate" in resource.path.parts:
            continue
        for key, value in (resource.body.get("properties") or {}).items():
            if key.startswith("publicNetworkAccess"):
                yield resource, key, value


def _module_params(template: str) -> list[dict[str, Any]]:
    found = []
    for module in parse(MAIN)["modules"].values():
        if module["detail"]["path"] == f"app/{template}":
            config = module["config"]
            while "config" in config and ("loop_type" in config or "condition" in config):
                config = config["config"]
            found.append(config["params"])
    return found


def test_vnet_enabled_turns_off_public_network_access() -> None:
    switches = list(_public_switches())
    assert len(switches) >= 7
    for resource, key, value in switches:
        where = (resource.path.name, resource.symbol, key)
        if where in PUBLIC_BY_DESIGN:
            continue
        if value == "Disabled":
            continue
        parameters = parse(resource.path).get("parameters", {})
        assert isinstance(value, str) and value in parameters, f"{where}: public access is {value!r}"
        passed = [params[value] for params in _module_params(resource.path.name)]
        assert passed and all(_bool_param_condition(p) for p in passed), f"{where}: {passed}"


def test_storage_firewall_denies_by_default_with_public_access_off() -> None:
    (account,) = [
        r for r in declared_resources(APP / "storage.bicep") if r.type == "Microsoft.Storage/storageAccounts"
    ]
    acls = account.body["properties"]["networkAcls"]
    assert strings(acls["defaultAction"]) == [
        "equals",
        "publicNetworkAccess",
        "conditional",
        "Disabled",
        "Deny",
        "Allow",
    ]


def test_public_by_design_entries_are_current() -> None:
    current = {(r.path.name, r.symbol, key) for r, key, _ in _public_switches()}
    assert set(PUBLIC_BY_DESIGN) <= current, set(PUBLIC_BY_DESIGN) - current


def test_the_app_integrates_with_its_delegated_subnet() -> None:
    (site,) = [r for r in declared_resources(APP / "api.bicep") if r.type == "Microsoft.Web/sites"]
    assert "virtualNetworkSubnetId" in site.body["properties"]
    (api,) = _module_params("api.bicep")
    assert "vnetEnabled" in strings(api["subnetId"]) and "appSubnetId" in strings(api["subnetId"])
    (vnet,) = [
        r for r in declared_resources(APP / "network.bicep") if r.type == "Microsoft.Network/virtualNetworks"
    ]
    app_subnet = next(s for s in vnet.body["properties"]["subnets"] if s["name"] == "app")
    delegations = app_subnet["properties"]["delegations"]
    assert [d["properties"]["serviceName"] for d in delegations] == ["Microsoft.App/environments"]
    assert all("networkSecurityGroup" in s["properties"] for s in vnet.body["properties"]["subnets"])


def test_every_private_endpoint_has_its_dns_zone_group() -> None:
    endpoints = [r for r in all_resources() if r.type == "Microsoft.Network/privateEndpoints"]
    assert [(r.path.name, r.symbol) for r in endpoints] == [("private-endpoint.bicep", "endpoint")]
    (group,) = [
        r
        for r in declared_resources(APP / "private-endpoint.bicep")
        if r.type == "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
    ]
    assert group.body["parent"] == "endpoint"
    configs = group.body["properties"]["privateDnsZoneConfigs"]
    assert strings(configs)[:2] == ["for", "zoneIds"] or "zoneIds" in strings(configs), configs
    assert "privateDnsZoneId" in str(configs)
    variables = parse(APP / "private-endpoint.bicep")["variables"]
    assert {"zoneId", "extraZoneIds"} <= set(strings(variables["zoneIds"]["value"]))


def test_each_endpoint_names_the_zone_of_its_sub_resource() -> None:
    zones = parse(MAIN)["variables"]["privateZones"]["value"]
    assert set(zones) == {
        "blob",
        "queue",
        "table",
        "registry",
        "topic",
        "azuremonitor",
        "oms",
        "ods",
        "agentsvc",
    }
    assert parse(MAIN)["variables"]["storageServices"]["value"] == ["blob", "queue", "table"]
    groups = []
    for params in _module_params("private-endpoint.bicep"):
        group, zone = params["groupId"], strings(params["zoneId"])
        # The zone is picked by the same key as the sub-resource: privateZones[service] or
        # privateZones.<group>.
        assert "Microsoft.Network/privateDnsZones" in zone and "privateZones" in zone, params
        assert group in zone, f"endpoint for {group} names zone {zone}"
        groups.append(group)
    assert sorted(groups) == ["azuremonitor", "registry", "service", "topic"]
    source = text(MAIN)
    assert "[for service in (vnetEnabled ? storageServices : []): {" in source
    assert "[for (r, i) in (vnetEnabled ? registries : []): {" in source
    dns = parse(MAIN)["modules"]["privateDns"]["config"]["config"]["params"]
    assert {z for z in strings(dns["zones"]) if z in zones} == set(zones)
    (link,) = [
        r
        for r in declared_resources(APP / "private-dns.bicep")
        if r.type == "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
    ]
    assert link.body["properties"]["virtualNetwork"]["id"] == "vnetId"


def test_telemetry_goes_through_the_monitor_private_link_scope() -> None:
    (monitor,) = [p for p in _module_params("private-endpoint.bicep") if p["groupId"] == "azuremonitor"]
    extra = strings(monitor["extraZoneIds"])
    assert {"oms", "ods", "agentsvc", "blob"} <= set(extra)
    resources = {r.type: r for r in declared_resources(APP / "monitor-private-link.bicep")}
    scope = resources["Microsoft.Insights/privateLinkScopes"]
    assert scope.body["properties"]["accessModeSettings"]["ingestionAccessMode"] == "PrivateOnly"
    scoped = [
        strings(r.body["properties"]["linkedResourceId"])
        for r in declared_resources(APP / "monitor-private-link.bicep")
        if r.type == "Microsoft.Insights/privateLinkScopes/scopedResources"
    ]
    assert sorted(s[1] for s in scoped) == ["applicationInsights", "workspace"]


def _diagnosed() -> set[tuple[str, str]]:
    """(template, symbol) of every resource some diagnostic setting is scoped to."""
    found = set()
    for resource in all_resources():
        if resource.type == "Microsoft.Insights/diagnosticSettings":
            scope = resource.body["scope"]
            assert isinstance(scope, str), resource
            found.add((resource.path.name, scope))
            assert resource.body["properties"]["workspaceId"] == "workspaceId" or resource.body["properties"][
                "workspaceId"
            ] == {
                "operator": {
                    "type": "property_accessor",
                    "operands": {"operand_1": "workspace", "operand_2": "id"},
                }
            }
    return found


def test_every_resource_type_is_diagnosed_or_exempt_with_a_reason() -> None:
    created = {r.type for r in all_resources() if not r.existing}
    undecided = sorted(created - DIAGNOSABLE - set(NO_DIAGNOSTICS))
    assert not undecided, f"decide whether these take diagnostic settings: {undecided}"
    assert not DIAGNOSABLE & set(NO_DIAGNOSTICS)


def test_each_diagnosable_resource_has_a_diagnostic_setting() -> None:
    diagnosed = _diagnosed()
    by_type: dict[str, set[str]] = {}
    for resource in all_resources():
        if resource.type in DIAGNOSABLE or resource.type in STORAGE_SERVICES:
            by_type.setdefault(resource.type, set())
        key = (resource.path.name, resource.symbol)
        if key in diagnosed:
            by_type.setdefault(resource.type, set()).add(resource.path.name)
    missing = []
    for resource in all_resources():
        if resource.existing or resource.type not in DIAGNOSABLE:
            continue
        in_file = (resource.path.name, resource.symbol) in diagnosed
        elsewhere = resource.path.parent.name == "app" and "diagnostics.bicep" in by_type.get(
            resource.type, set()
        )
        if not (in_file or elsewhere):
            missing.append(f"{resource.path.name}:{resource.symbol}")
    assert not missing, f"no diagnostic setting: {missing}"
    for service in STORAGE_SERVICES:
        assert "diagnostics.bicep" in by_type.get(service, set()), service
    registry = text(INFRA / "estate" / "registry.bicep")
    assert "scope: registry" in registry and "diagnostics.id" in registry


def _workbook() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((APP / "workbook.json").read_text())
    return data


def _workbook_queries() -> dict[str, str]:
    return {i["content"]["title"]: i["content"]["query"] for i in _workbook()["items"] if i["type"] == 3}


def test_workbook_is_a_workbook_deployed_from_infra() -> None:
    workbook = _workbook()
    assert workbook["version"] == "Notebook/1.0"
    assert {i["type"] for i in workbook["items"]} <= {1, 3, 9}
    source = text(APP / "workbook.bicep")
    assert "serializedData: string(loadJsonContent('workbook.json'))" in source
    assert "workbook" in parse(MAIN)["modules"]


def test_workbook_shows_the_audit_queries_and_every_metric() -> None:
    queries = _workbook_queries()
    for title in (
        "What was deleted, and why",
        "Clusters stopped last night",
        "Every action by the caller",
        "Rejected inputs by reason",
        "Failed invocations",
    ):
        assert title in queries
    shown = "\n".join(queries.values())
    assert all(f'"{metric}"' in shown for metric in METRICS), [m for m in METRICS if f'"{m}"' not in shown]


def _alert_queries() -> list[str]:
    rules = parse(APP / "self-alerts.bicep")["variables"]["rules"]["value"]
    return [rule["query"].replace("\\n", "\n") for rule in rules]


def _all_queries() -> Iterator[tuple[str, str]]:
    for title, query in _workbook_queries().items():
        yield f"workbook: {title}", query
    for i, query in enumerate(_alert_queries()):
        yield f"alert rule {i}", query
    for i, query in enumerate(kql_blocks((ROOT / "docs" / "observability.md").read_text())):
        yield f"docs/observability.md block {i}", query


@pytest.mark.parametrize(
    ("where", "query"), list(_all_queries()), ids=lambda v: v if " " not in v[:12] else None
)
def test_queries_use_only_what_the_app_writes(where: str, query: str) -> None:
    assert problems(query) == [], where


def test_query_checker_catches_what_the_app_does_not_write() -> None:
    assert problems("AppEvents | take 1")
    assert problems('AppTraces | where tostring(Properties.colour) == "red"')
    assert problems('AppTraces | where tostring(Properties.action_kind) == "delete_everything"')
    assert problems('AppMetrics | where Name == "ops.nothing"')
    assert problems("AppRequests | project Colour")


def test_alert_rules_watch_failures_and_rejections_and_notify() -> None:
    queries = _alert_queries()
    assert any("AppRequests" in q and "Success == false" in q for q in queries)
    assert any('Name == "ops.rejected_inputs"' in q for q in queries)
    (rule,) = [
        r
        for r in declared_resources(APP / "self-alerts.bicep")
        if r.type == "Microsoft.Insights/scheduledQueryRules"
    ]
    assert rule.body["identity"]["type"] == "SystemAssigned"
    assert "actionGroup.id" in text(APP / "self-alerts.bicep")
    (reads,) = [
        r
        for r in declared_resources(APP / "self-alerts.bicep")
        if r.type == "Microsoft.Authorization/roleAssignments"
    ]
    assert reads.body["scope"] == "workspace" and "LogAnalyticsReader" in strings(reads.body)
    params = parse(MAIN)["modules"]["selfAlerts"]["config"]["params"]
    assert params["email"] == "opsAlertEmail" and parameter_env_names()["opsAlertEmail"] == "OPS_ALERT_EMAIL"


def test_principal_id_grants_the_storage_data_roles() -> None:
    assert parameter_env_names()["principalId"] == "AZURE_PRINCIPAL_ID"
    module = parse(MAIN)["modules"]["operator"]["config"]
    assert {"empty", "principalId"} <= set(strings(module["condition"]))
    grants = [
        r
        for r in declared_resources(APP / "operator.bicep")
        if r.type == "Microsoft.Authorization/roleAssignments"
    ]
    assert {r.body["scope"] for r in grants} == {"storage"}
    roles = {
        s
        for r in grants
        for s in strings(r.body["properties"]["roleDefinitionId"])
        if s.startswith("Storage")
    }
    assert roles == {"StorageTableDataContributor", "StorageBlobDataContributor"}


def test_host_sampling_leaves_requests_and_exceptions_alone() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    sampling = host["logging"]["applicationInsights"]["samplingSettings"]
    excluded = set(sampling["excludedTypes"].split(";")) if sampling.get("isEnabled", True) else {"*"}
    assert {"Request", "Exception"} <= excluded or excluded == {"*"}
