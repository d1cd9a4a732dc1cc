"""Role assignments: least privilege, narrow scopes, each one explained.

Cases:
- Owner, Contributor and User Access Administrator appear nowhere in infra/, neither as a
  GUID in any file nor in roles.json;
- every role assignment grants a role from roles.json or one of the custom roles;
- every role assignment's description names the capability that needs it;
- every custom role is narrow: its actions and data actions are exactly those listed here
  (no other custom role exists), none holds a wildcard, every action names a resource type
  below its provider (no ``Provider/write`` or ``Provider/*``), none touches
  Microsoft.Authorization, notActions are empty and it is assignable only in its own
  subscription; the files that assign it derive its name from the same seed expression;
- the failover roles match what ops/adapters/failover.py calls: every SDK call there is
  either mapped to the action it needs, whose role holds it, or covered by a grant named
  here (Reader, the registry roles); each role holds nothing the calls do not need; the
  Traffic Manager endpoint writes are those of the endpoint types the policy accepts;
- each failover assignment sits on one resource of the type its role writes (a
  replication, an origin group, a Traffic Manager profile, an App Configuration store);
- every role assignment has an explicit resource scope, except the two documented ones:
  Reader at subscription scope (discovery) and the scheduler role on a cluster's resource
  group (the scheduleScope=resourceGroup option);
- at subscription scope only Reader is granted;
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
    all_resources,
    declared_resources,
    dotted,
    parse,
    role_assignments,
    roles,
    text,
)

#: Every custom role infra defines (infra/estate/subscription.bicep), by symbol: its exact
#: actions and data actions, and the seed expression its name is derived from.
CUSTOM_ROLES: dict[str, tuple[set[str], set[str], str]] = {
    # schedules: start, stop and tag clusters, scale their pools
    "scheduler": (
        {
            "Microsoft.ContainerService/managedClusters/read",
            "Microsoft.ContainerService/managedClusters/start/action",
            "Microsoft.ContainerService/managedClusters/stop/action",
            "Microsoft.ContainerService/managedClusters/write",
            "Microsoft.ContainerService/managedClusters/agentPools/read",
            "Microsoft.ContainerService/managedClusters/agentPools/write",
        },
        set(),
        "guid(subscription().id, scheduleRoleSeed)",
    ),
    # remediate: one managedClusters PUT (networkProfile, a pool's maxCount)
    "remediator": (
        {
            "Microsoft.ContainerService/managedClusters/read",
            "Microsoft.ContainerService/managedClusters/write",
            "Microsoft.ContainerService/managedClusters/agentPools/read",
        },
        set(),
        "guid(subscription().id, remediateRoleSeed)",
    ),
    "failoverRouting": (
        {
            "Microsoft.ContainerRegistry/registries/replications/read",
            "Microsoft.ContainerRegistry/registries/replications/write",
        },
        set(),
        "guid(subscription().id, failoverRoleSeed, 'routing')",
    ),
    "failoverFrontDoor": (
        {
            "Microsoft.Cdn/profiles/origingroups/origins/read",
            "Microsoft.Cdn/profiles/origingroups/origins/write",
        },
        set(),
        "guid(subscription().id, failoverRoleSeed, 'front-door')",
    ),
    "failoverTrafficManager": (
        {
            "Microsoft.Network/trafficManagerProfiles/read",
            "Microsoft.Network/trafficManagerProfiles/azureEndpoints/write",
            "Microsoft.Network/trafficManagerProfiles/externalEndpoints/write",
        },
        set(),
        "guid(subscription().id, failoverRoleSeed, 'traffic-manager')",
    ),
    "failoverPointer": (
        set(),
        {
            "Microsoft.AppConfiguration/configurationStores/keyValues/read",
            "Microsoft.AppConfiguration/configurationStores/keyValues/write",
        },
        "guid(subscription().id, failoverRoleSeed, 'pointer')",
    ),
}

#: The variable each assigning file names a custom role's definition id by.
CUSTOM_ROLE_VARIABLES = {
    "scheduleRoleDefinitionId": "scheduler",
    "remediateRoleDefinitionId": "remediator",
    "routingRoleDefinitionId": "failoverRouting",
    "frontDoorRoleDefinitionId": "failoverFrontDoor",
    "trafficManagerRoleDefinitionId": "failoverTrafficManager",
    "pointerRoleDefinitionId": "failoverPointer",
}

ADAPTER = ROOT / "ops" / "adapters" / "failover.py"
#: SDK calls of the failover adapter → (the custom role, the action or data action it needs).
#: endpoints.update needs the write of the endpoint's type; the test derives those types.
_ACR = "Microsoft.ContainerRegistry/registries/replications"
_AFD = "Microsoft.Cdn/profiles/origingroups/origins"
_TM = "Microsoft.Network/trafficManagerProfiles"
_KV = "Microsoft.AppConfiguration/configurationStores/keyValues"
FAILOVER_CALLS: dict[str, tuple[str, str]] = {
    "replications.list": ("failoverRouting", f"{_ACR}/read"),
    "replications.begin_update": ("failoverRouting", f"{_ACR}/write"),
    "afd_origins.list_by_origin_group": ("failoverFrontDoor", f"{_AFD}/read"),
    "afd_origins.begin_update": ("failoverFrontDoor", f"{_AFD}/write"),
    "profiles.get": ("failoverTrafficManager", f"{_TM}/read"),
    "endpoints.update": ("failoverTrafficManager", f"{_TM}/{{type}}/write"),
    "get_configuration_setting": ("failoverPointer", f"{_KV}/read"),
    "set_configuration_setting": ("failoverPointer", f"{_KV}/write"),
}
#: SDK calls of the failover adapter that other grants cover, and which.
COVERED_ELSEWHERE = {
    "availability_statuses.get_by_resource": "Reader at subscription scope (Resource Health reads)",
    "get_manifest": "the registry roles' pull (AcrPush, or Repository Contributor in ABAC mode)",
}
#: The resource type each failover assignment's scope must be, by the role it grants.
FAILOVER_SCOPES = {
    "failoverRouting": "Microsoft.ContainerRegistry/registries/replications",
    "failoverFrontDoor": "Microsoft.Cdn/profiles/originGroups",
    "failoverTrafficManager": "Microsoft.Network/trafficManagerProfiles",
    "failoverPointer": "Microsoft.AppConfiguration/configurationStores",
}


def _granted_role(assignment_role_id: object) -> str:
    """The roles.json name, or the custom role's symbol, a roleDefinitionId expression grants."""
    if isinstance(assignment_role_id, str) and assignment_role_id in CUSTOM_ROLE_VARIABLES:
        return CUSTOM_ROLE_VARIABLES[assignment_role_id]
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
        assert granted in CUSTOM_ROLES or granted in roles(), f"{assignment.symbol} grants unknown {granted}"


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


def _custom_roles() -> dict[str, Any]:
    return {
        r.symbol: r
        for r in all_resources()
        if r.type == "Microsoft.Authorization/roleDefinitions" and not r.existing
    }


def test_every_custom_role_is_exactly_its_declared_actions() -> None:
    defined = _custom_roles()
    assert set(defined) == set(CUSTOM_ROLES), "a custom role must be declared in CUSTOM_ROLES"
    for symbol, definition in defined.items():
        actions, data_actions, name_expression = CUSTOM_ROLES[symbol]
        props = definition.body["properties"]
        assert props["type"] == "CustomRole"
        (permission,) = props["permissions"]
        assert set(permission["actions"]) == actions and len(permission["actions"]) == len(actions), symbol
        assert set(permission["dataActions"]) == data_actions, symbol
        assert len(permission["dataActions"]) == len(data_actions), symbol
        assert permission["notActions"] == permission["notDataActions"] == [], symbol
        (scope,) = props["assignableScopes"]
        assert scope["operator"]["operands"]["operand_1"]["function"] == {
            "type": "subscription",
            "parameters": {"subscription_id": None},
        }
        assert scope["operator"]["operands"]["operand_2"] == "id"
        assert f"name: {name_expression}" in text(definition.path), symbol


def test_every_custom_role_is_narrow() -> None:
    for symbol, definition in _custom_roles().items():
        (permission,) = definition.body["properties"]["permissions"]
        for action in [*permission["actions"], *permission["dataActions"]]:
            assert "*" not in action, f"{symbol}: wildcard in {action}"
            provider, *path = action.split("/")
            assert provider.startswith("Microsoft.") and len(path) >= 2, (
                f"{symbol}: {action} acts on a whole provider, not on a resource type"
            )
            assert provider != "Microsoft.Authorization", f"{symbol}: {action} reaches access control"


def test_assigning_files_derive_the_same_role_names() -> None:
    for assignment in role_assignments():
        role_id = assignment.body["properties"]["roleDefinitionId"]
        if not (isinstance(role_id, str) and role_id in CUSTOM_ROLE_VARIABLES):
            continue
        name_expression = CUSTOM_ROLES[CUSTOM_ROLE_VARIABLES[role_id]][2]
        definition = f"subscriptionResourceId('Microsoft.Authorization/roleDefinitions', {name_expression})"
        expected = f"{role_id} = {definition}"
        assert expected in text(assignment.path), f"{assignment.path.name}: {role_id}"


def _adapter_calls() -> set[str]:
    """SDK calls on the failover adapter's clients: ``client.group.operation(`` or ``client.operation(``."""
    source = ADAPTER.read_text()
    return set(re.findall(r"\bclient\.((?:[a-z_]+\.)?[a-z_]+)\(", source))


def _endpoint_types() -> list[str]:
    """The Traffic Manager endpoint types a failover policy may name (its schema's pattern)."""
    from ops.failover.policy import TrafficManager

    schema = TrafficManager.model_json_schema()
    (value,) = schema["properties"]["endpoints"]["patternProperties"].values()
    pattern = value["pattern"]
    match = re.match(r"\^\(([A-Za-z|]+)\)/", pattern)
    assert match, pattern
    return match.group(1).split("|")


def test_failover_roles_match_what_the_adapter_calls() -> None:
    calls = _adapter_calls()
    assert calls == set(FAILOVER_CALLS) | set(COVERED_ELSEWHERE), (
        f"map each SDK call of {ADAPTER.name} to the action it needs: {sorted(calls)}"
    )
    needed: dict[str, set[str]] = {}
    for role, action in FAILOVER_CALLS.values():
        if "{type}" in action:
            for kind in _endpoint_types():
                needed.setdefault(role, set()).add(action.format(type=kind[0].lower() + kind[1:]))
        else:
            needed.setdefault(role, set()).add(action)
    for role, actions in needed.items():
        granted, data_granted, _ = CUSTOM_ROLES[role]
        assert actions == granted | data_granted, (
            f"{role} holds {granted | data_granted}, the calls need {actions}"
        )
    assert {"failoverRouting", "failoverFrontDoor", "failoverTrafficManager", "failoverPointer"} == set(
        needed
    )
    # the data actions are App Configuration's data plane, the rest ARM's
    assert CUSTOM_ROLES["failoverPointer"][0] == set()


def test_failover_assignments_sit_on_the_resources_they_write() -> None:
    path = INFRA / "estate" / "failover.bicep"
    existing = {r.symbol: r.type for r in declared_resources(path) if r.existing}
    seen = set()
    for assignment in role_assignments():
        if assignment.path != path:
            continue
        role = _granted_role(assignment.body["properties"]["roleDefinitionId"])
        scope = assignment.body["scope"]["operator"]
        assert scope["type"] == "index_accessor", f"{assignment.symbol}: scope is not one looped resource"
        assert existing[scope["operands"]["operand_1"]] == FAILOVER_SCOPES[role], assignment.symbol
        assert assignment.body["properties"]["principalType"] == "ServicePrincipal"
        seen.add(role)
    assert seen == set(FAILOVER_SCOPES)


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
