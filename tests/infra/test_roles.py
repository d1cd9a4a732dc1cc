"""Role assignments: least privilege, narrow scopes, each one explained.

Cases:
- Owner, Contributor and User Access Administrator appear nowhere in infra/, neither as a
  GUID in any file nor in roles.json;
- every role assignment grants a role from roles.json, or the custom scheduler or remediation role;
- every role assignment's description names the capability that needs it;
- every role assignment has an explicit resource scope, except the two documented ones:
  Reader at subscription scope (discovery) and the scheduler role on a cluster's resource
  group (the scheduleScope=resourceGroup option);
- at subscription scope only Reader is granted;
- the remediation role holds exactly read and write of clusters and read of their pools;
- the scheduler role holds exactly the five AKS actions, no wildcard and no data action,
  assignable only in its own subscription, and clusters reference it by the same name;
- registry roles follow the registry's permissions mode: AcrDelete and AcrPush only in RBAC
  mode, the repository roles only in ABAC mode, AcrQuarantineWriter in both;
- the app's storage roles are data roles on the app's own account, and the dead-letter role
  is scoped to the dead-letter container.
"""

from __future__ import annotations

import re
from typing import Any

from tests.infra.templates import (
    CAPABILITIES,
    FORBIDDEN_ROLES,
    INFRA,
    ROOT,
    declared_resources,
    dotted,
    parse,
    role_assignments,
    roles,
    text,
)

REMEDIATOR_ACTIONS = {
    "Microsoft.ContainerService/managedClusters/read",
    "Microsoft.ContainerService/managedClusters/write",
    "Microsoft.ContainerService/managedClusters/agentPools/read",
}
SCHEDULER_ACTIONS = {
    "Microsoft.ContainerService/managedClusters/read",
    "Microsoft.ContainerService/managedClusters/start/action",
    "Microsoft.ContainerService/managedClusters/stop/action",
    "Microsoft.ContainerService/managedClusters/write",
    "Microsoft.ContainerService/managedClusters/agentPools/read",
    "Microsoft.ContainerService/managedClusters/agentPools/write",
}


def _granted_role(assignment_role_id: object) -> str:
    """The roles.json name (or ``scheduler``) a roleDefinitionId expression grants."""
    if assignment_role_id == "scheduleRoleDefinitionId":
        return "scheduler"
    if assignment_role_id == "remediateRoleDefinitionId":
        return "remediator"
    function = assignment_role_id["function"]  # type: ignore[index]
    assert function["type"] == "subscription_resource_id", function
    assert function["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    name = dotted(function["parameters"]["resource_name_1"])
    assert name.startswith("roles."), f"role GUID given inline: {name}"
    return name.removeprefix("roles.")


def _assignments_by_symbol(file: str) -> dict[str, object]:
    return {r.symbol: r for r in role_assignments() if r.path == INFRA / file}


def test_forbidden_roles_appear_nowhere() -> None:
    files = [p for p in INFRA.rglob("*") if p.is_file()] + [ROOT / "azure.yaml"]
    for path in files:
        content = path.read_text().lower()
        for guid, name in FORBIDDEN_ROLES.items():
            assert guid not in content, f"{path} mentions {name}"
    assert not set(roles().values()) & set(FORBIDDEN_ROLES)


def test_every_assignment_grants_a_known_role() -> None:
    assignments = role_assignments()
    assert len(assignments) >= 15
    for assignment in assignments:
        granted = _granted_role(assignment.body["properties"]["roleDefinitionId"])
        assert granted in ("scheduler", "remediator") or granted in roles(), (
            f"{assignment.symbol} grants unknown {granted}"
        )


def test_every_assignment_names_its_capability() -> None:
    for assignment in role_assignments():
        description = assignment.body["properties"].get("description", "")
        assert isinstance(description, str) and description.startswith(CAPABILITIES), (
            f"{assignment.path.name}:{assignment.symbol} description {description!r} names no capability"
        )


def test_every_assignment_is_scoped_to_a_resource_but_the_documented_two() -> None:
    unscoped = {(a.path.name, a.symbol) for a in role_assignments() if "scope" not in a.body}
    assert unscoped == {("subscription.bicep", "discovery"), ("cluster.bicep", "scheduleOnGroup")}


def test_subscription_scope_gets_read_only() -> None:
    assert parse(INFRA / "estate" / "subscription.bicep")["globals"]["scope"]["value"] == "subscription"
    for assignment in _assignments_by_symbol("estate/subscription.bicep").values():
        assert _granted_role(assignment.body["properties"]["roleDefinitionId"]) == "Reader"  # type: ignore[attr-defined]


def _role_definition(symbol: str) -> Any:
    (definition,) = [
        r
        for r in declared_resources(INFRA / "estate" / "subscription.bicep")
        if r.type == "Microsoft.Authorization/roleDefinitions" and r.symbol == symbol
    ]
    return definition


def test_remediation_role_is_exactly_its_three_actions() -> None:
    props = _role_definition("remediator").body["properties"]
    assert props["type"] == "CustomRole"
    (permission,) = props["permissions"]
    assert set(permission["actions"]) == REMEDIATOR_ACTIONS and len(permission["actions"]) == 3
    assert permission["notActions"] == permission["dataActions"] == permission["notDataActions"] == []
    name_expression = "guid(subscription().id, remediateRoleSeed)"
    assert f"name: {name_expression}" in text(INFRA / "estate" / "subscription.bicep")
    assert f"'Microsoft.Authorization/roleDefinitions', {name_expression})" in text(
        INFRA / "estate" / "cluster.bicep"
    )


def test_scheduler_role_is_exactly_the_five_actions() -> None:
    definition = _role_definition("scheduler")
    props = definition.body["properties"]
    assert props["type"] == "CustomRole"
    (permission,) = props["permissions"]
    assert set(permission["actions"]) == SCHEDULER_ACTIONS
    assert len(permission["actions"]) == len(SCHEDULER_ACTIONS)
    assert permission["notActions"] == permission["dataActions"] == permission["notDataActions"] == []
    (scope,) = props["assignableScopes"]
    assert scope["operator"]["operands"]["operand_1"]["function"] == {
        "type": "subscription",
        "parameters": {"subscription_id": None},
    }
    assert scope["operator"]["operands"]["operand_2"] == "id"
    name_expression = "guid(subscription().id, scheduleRoleSeed)"
    assert f"name: {name_expression}" in text(INFRA / "estate" / "subscription.bicep")
    assert f"'Microsoft.Authorization/roleDefinitions', {name_expression})" in text(
        INFRA / "estate" / "cluster.bicep"
    )


def test_registry_roles_follow_the_permissions_mode() -> None:
    rbac_only, abac_only, both = set(), set(), set()
    for assignment in _assignments_by_symbol("estate/registry.bicep").values():
        role = _granted_role(assignment.body["properties"]["roleDefinitionId"])  # type: ignore[attr-defined]
        condition = assignment.condition  # type: ignore[attr-defined]
        if condition is None:
            both.add(role)
        elif condition == "abac":
            abac_only.add(role)
        elif condition == {"operator": {"type": "not", "operands": {"bool_value": "abac"}}}:
            rbac_only.add(role)
        else:
            raise AssertionError(f"unexpected condition {condition!r}")
    assert rbac_only == {"AcrDelete", "AcrPush"}
    assert abac_only == {"RepositoryContributor", "RepositoryCatalogLister"}
    assert both == {"AcrQuarantineWriter"}


def test_cluster_roles_are_the_scheduler_and_kubernetes_read() -> None:
    granted = {
        _granted_role(a.body["properties"]["roleDefinitionId"])  # type: ignore[attr-defined]
        for a in _assignments_by_symbol("estate/cluster.bicep").values()
    }
    assert granted == {"scheduler", "remediator", "AksRbacReader", "AksClusterUser"}


def test_app_roles_are_data_roles_on_its_own_resources() -> None:
    scopes = {
        symbol: (_granted_role(a.body["properties"]["roleDefinitionId"]), a.body["scope"])  # type: ignore[attr-defined]
        for symbol, a in _assignments_by_symbol("app/rbac.bicep").items()
    }
    assert scopes == {
        "blobData": ("StorageBlobDataContributor", "storage"),
        "queueData": ("StorageQueueDataContributor", "storage"),
        "tableData": ("StorageTableDataContributor", "storage"),
        "telemetry": ("MonitoringMetricsPublisher", "applicationInsights"),
        "publish": ("EventGridDataSender", "topic"),
        "deadLetter": ("StorageBlobDataContributor", "deadLetterContainer"),
    }
    rbac = text(INFRA / "app" / "rbac.bicep")
    assert re.search(r"resource storage 'Microsoft.Storage/storageAccounts@[\d-]+' existing", rbac)
    assert "name: '${storageAccountName}/default/${deadLetterContainerName}'" in rbac
