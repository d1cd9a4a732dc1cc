"""ops.alerts: the Prometheus context, the declarative router, and deduplication.

Cases:
- Microsoft's Prometheus sample parses into PrometheusAlertContext (labels, expression,
  ``for``); ``kind`` is ``prometheus``; a Prometheus context without an expression is
  InvalidInput at ``data.alertContext.expression``;
- the router: metric name + dimensions + target type; Prometheus labels and expression;
  alert rule regex and custom properties; first match wins across capabilities; no match
  is ignored with the reason; duplicate route names across capabilities are a
  ConfigError; Resolved alerts route like Fired ones;
- dedupe (SQLite store): the first claim wins and a repeat is a duplicate; Resolved is a
  separate claim; a Fired after its Resolved is out of order; a released claim (transient
  failure) is claimable again; an expired claim is claimable again.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.alerts import AlertRouter, PrometheusAlertContext, compile_routes, parse_alert
from ops.alerts.dedupe import Claim, claim_alert, release_claim
from ops.errors import ConfigError, InvalidInput
from ops.state.sqlite import SqliteStateStore

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
LB = (
    "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/MC_rg_aks_eastus2"
    "/providers/Microsoft.Network/loadBalancers/kubernetes"
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def snat_alert(condition: str = "Fired", alert_id: str = "a1") -> dict[str, Any]:
    body = fixture("metric_fired.json")
    essentials = body["data"]["essentials"]
    essentials.update(
        alertId=alert_id, monitorCondition=condition, alertTargetIDs=[LB], alertRule="snat-failed"
    )
    if condition == "Resolved":
        essentials["resolvedDateTime"] = essentials["firedDateTime"]
    criterion = body["data"]["alertContext"]["condition"]["allOf"][0]
    criterion.update(
        metricName="SnatConnectionCount",
        metricNamespace="Microsoft.Network/loadBalancers",
        dimensions=[{"name": "ConnectionState", "value": "Failed"}],
    )
    return body


def test_prometheus_sample() -> None:
    alert = parse_alert(fixture("prometheus.json"))
    assert alert.kind == "prometheus" and isinstance(alert.context, PrometheusAlertContext)
    assert alert.labels == {"Environment": "Prod", "cluster": "myCluster1"}
    assert (alert.context.expression, alert.context.for_) == ("sql_up > 0", "PT2M")
    broken = fixture("prometheus.json")
    del broken["data"]["alertContext"]["expression"]
    with pytest.raises(InvalidInput) as raised:
        parse_alert(broken)
    assert raised.value.path == "data.alertContext.expression"


REMEDIATE = compile_routes(
    "remediate",
    [
        {
            "name": "snat",
            "match": {
                "metricName": "snatconnectioncount",
                "dimensions": {"ConnectionState": "Failed"},
                "targetType": "Microsoft.Network/loadBalancers",
            },
            "action": "snat",
        },
        {
            "name": "autoscaler",
            "match": {
                "monitoringService": "Prometheus",
                "expression": "cluster_autoscaler_unschedulable_pods_count",
                "labels": {"cluster": "aks-.*"},
            },
            "action": "autoscaler",
        },
        {
            "name": "by-rule",
            "match": {"alertRule": "ops-.*", "customProperties": {"remedy": "snat"}},
            "action": "snat",
        },
    ],
)
FAILOVER = compile_routes(
    "failover", [{"name": "health", "match": {"monitoringService": "ServiceHealth"}, "action": "evaluate"}]
)


def prometheus(expression: str, cluster: str) -> dict[str, Any]:
    body = fixture("prometheus.json")
    body["data"]["alertContext"].update(expression=expression, labels={"cluster": cluster})
    return body


@pytest.mark.parametrize(
    ("body", "route"),
    [
        (snat_alert(), "snat"),
        (snat_alert("Resolved"), "snat"),
        (prometheus("sum(cluster_autoscaler_unschedulable_pods_count) > 0", "aks-prod"), "autoscaler"),
        (prometheus("sum(cluster_autoscaler_unschedulable_pods_count) > 0", "other"), None),
        (prometheus("sql_up > 0", "aks-prod"), None),
        (fixture("service_health.json"), "health"),
        (fixture("metric_fired.json"), None),
    ],
)
def test_router(body: dict[str, Any], route: str | None) -> None:
    decision = AlertRouter([*REMEDIATE, *FAILOVER]).route(parse_alert(body))
    if route is None:
        assert decision.route is None and decision.reason.startswith("ignored: no route matches")
    else:
        assert decision.route is not None and decision.route.name == route


def test_router_rule_and_custom_properties() -> None:
    body = fixture("metric_fired.json")
    body["data"]["essentials"]["alertRule"] = "ops-snat"
    body["data"]["customProperties"] = {"remedy": "snat"}
    decision = AlertRouter(REMEDIATE).route(parse_alert(body))
    assert decision.route is not None and decision.route.name == "by-rule"
    body["data"]["customProperties"] = {"remedy": "other"}
    assert AlertRouter(REMEDIATE).route(parse_alert(body)).route is None


def test_route_names_are_unique_across_capabilities() -> None:
    clash = compile_routes("failover", [{"name": "snat", "match": {}, "action": "evaluate"}])
    with pytest.raises(ConfigError, match="route 'snat' is defined by remediate and failover"):
        AlertRouter([*REMEDIATE, *clash])


def test_dedupe(tmp_path: Path) -> None:
    store = SqliteStateStore(str(tmp_path / "state.db"))
    ttl = timedelta(days=2)
    fired = parse_alert(snat_alert())
    first = claim_alert(store, fired, now=NOW, ttl=ttl)
    assert isinstance(first, Claim)
    assert str(claim_alert(store, fired, now=NOW, ttl=ttl)).startswith("duplicate:")
    resolved = parse_alert(snat_alert("Resolved"))
    assert isinstance(claim_alert(store, resolved, now=NOW, ttl=ttl), Claim)
    late = parse_alert(snat_alert(alert_id="a2", condition="Resolved"))
    assert isinstance(claim_alert(store, late, now=NOW, ttl=ttl), Claim)
    early = parse_alert(snat_alert(alert_id="a2"))
    assert str(claim_alert(store, early, now=NOW, ttl=ttl)).startswith("out of order:")
    other = parse_alert(snat_alert(alert_id="a3"))
    held = claim_alert(store, other, now=NOW, ttl=ttl)
    assert isinstance(held, Claim)
    release_claim(store, held)
    assert isinstance(claim_alert(store, other, now=NOW, ttl=ttl), Claim)
    assert isinstance(claim_alert(store, copy.deepcopy(fired), now=NOW + ttl, ttl=ttl), Claim)
