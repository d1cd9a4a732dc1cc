"""The activity-log alerts that feed failover reach alert_webhook with what its routes take.

Cases:
- the Service Health alert takes incidents only (``incidentType: Incident``) and goes to the
  action group that calls alert_webhook;
- the Resource Health alert takes exactly the resource types failover's Resource Health
  routes take (ops/failover/alerts.py: clusters and registry replications), with the three
  statuses a signal is made of (Available, Degraded, Unavailable), and goes to that group.
"""

from __future__ import annotations

from typing import Any

from ops.failover.alerts import ROUTES
from tests.infra.templates import INFRA, declared_resources, dotted


def _alert(symbol: str) -> Any:
    (found,) = [r for r in declared_resources(INFRA / "app" / "alerts.bicep") if r.symbol == symbol]
    assert found.type == "Microsoft.Insights/activityLogAlerts"
    return found.body["properties"]


def _leaves(conditions: list[Any], field: str) -> set[str]:
    """The values ``field`` must equal, in the allOf (directly or in one of its anyOf)."""
    values = set()
    for condition in conditions:
        for leaf in condition.get("anyOf", [condition]):
            if leaf.get("field") == field and "equals" in leaf:
                values.add(leaf["equals"])
    return values


def _to_the_webhook(props: Any) -> None:
    (group,) = props["actions"]["actionGroups"]
    assert dotted(group["actionGroupId"]) == "actionGroup.id"


def test_service_health_alert_takes_incidents() -> None:
    props = _alert("serviceHealth")
    conditions = props["condition"]["allOf"]
    assert _leaves(conditions, "category") == {"ServiceHealth"}
    assert _leaves(conditions, "properties.incidentType") == {"Incident"}
    _to_the_webhook(props)


def test_resource_health_alert_takes_what_the_routes_take() -> None:
    props = _alert("resourceHealth")
    conditions = props["condition"]["allOf"]
    assert _leaves(conditions, "category") == {"ResourceHealth"}
    routed = {
        route.match.target_type
        for route in ROUTES
        if route.match.monitoring_service == "Resource Health" and route.match.target_type
    }
    assert routed == {
        "Microsoft.ContainerService/managedClusters",
        "Microsoft.ContainerRegistry/registries/replications",
    }
    assert _leaves(conditions, "resourceType") == routed
    assert _leaves(conditions, "properties.currentHealthStatus") == {"Available", "Degraded", "Unavailable"}
    _to_the_webhook(props)
