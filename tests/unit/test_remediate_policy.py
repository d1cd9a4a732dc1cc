"""The remediation policy: loading, field-path errors, defaults, the published schema.

Cases:
- defaults when the setting is empty; a full policy compiles (durations, regexes);
- every problem named by field path: out-of-range ceilings, unknown keys (with the keys
  expected), bad durations, bad regexes, minPortsPerNode above maxPortsPerNode;
- a path that is not a file is a ConfigError naming the setting;
- docs/schemas/remediate-policy.schema.json is generated from the models;
- the example policy (examples/) loads and routes the alerts infra/app/cluster-alerts.bicep
  creates (failed SNAT connections and used ports on the load balancer, unschedulable pods
  on the cluster), Prometheus autoscaler alerts, and nothing else.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from ops.errors import ConfigError
from ops.remediate.policy import load_policy, policy_json_schema, read_policy_setting

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_and_a_full_policy() -> None:
    default = read_policy_setting("")
    assert (default.snat.max_outbound_ips, default.autoscaler.step, default.guards.cooldown) == (
        4,
        2,
        timedelta(minutes=30),
    )
    policy = load_policy(
        """
remediate:
  snat: {maxOutboundIPs: 8, maxPortsPerNode: 32000, headroom: 1.5, confirm: {minFailedConnections: 10}}
  autoscaler: {step: 3, revertAfter: 2h, allowSystemPools: true}
  guards: {cooldown: 1h, maxChangesPerClusterPerDay: 2, clusters: ["prod-.*", "aks-snat"]}
"""
    )
    assert policy.snat.max_outbound_ips == 8 and policy.snat.min_failed_connections == 10
    assert policy.autoscaler.revert_after == timedelta(hours=2) and policy.autoscaler.allow_system_pools
    assert policy.guards.in_scope("prod-eus2") and policy.guards.in_scope("aks-snat")
    assert not policy.guards.in_scope("aks-snat-2")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            {"snat": {"maxOutboundIPs": 101}},
            "remediate.snat.maxOutboundIPs: Input should be less than or equal to 100",
        ),
        (
            {"snat": {"maxNatGatewayIPs": 17}},
            "remediate.snat.maxNatGatewayIPs: Input should be less than or equal to 16",
        ),
        ({"snat": {"bogus": 1}}, "remediate.snat.bogus: unknown key (expected one of confirm, headroom"),
        ({"guards": {"cooldown": "30 dayz"}}, 'remediate.guards.cooldown: "30 dayz" is not a duration'),
        ({"guards": {"clusters": ["(a"]}}, "remediate.guards.clusters[0]"),
        (
            {"snat": {"minPortsPerNode": 9000, "maxPortsPerNode": 8000}},
            "minPortsPerNode is larger than maxPortsPerNode",
        ),
        (
            {"autoscaler": {"step": 0}},
            "remediate.autoscaler.step: Input should be greater than or equal to 1",
        ),
    ],
)
def test_problems_named_by_field_path(document: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_policy({"remediate": document})
    assert any(problem in p for p in raised.value.problems), raised.value.problems


def test_setting_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"OPS_REMEDIATE_POLICY: .*nowhere\.yaml is not a file"):
        read_policy_setting(str(tmp_path / "nowhere.yaml"))
    path = tmp_path / "policy.yaml"
    path.write_text("remediate: {snat: {maxOutboundIPs: 2}}\n")
    assert read_policy_setting(str(path)).snat.max_outbound_ips == 2


def test_published_schema_is_generated_from_the_models() -> None:
    published = json.loads((ROOT / "docs" / "schemas" / "remediate-policy.schema.json").read_text())
    assert published == policy_json_schema()
    assert published["$defs"]["SnatModel"]["additionalProperties"] is False
    assert "maxOutboundIPs" in published["$defs"]["SnatModel"]["properties"]


@pytest.mark.parametrize(
    ("metric", "target", "route"),
    [
        ("SnatConnectionCount", "Microsoft.Network/loadBalancers/kubernetes", "snat-load-balancer"),
        ("UsedSnatPorts", "Microsoft.Network/loadBalancers/kubernetes", "snat-used-ports"),
        (
            "cluster_autoscaler_unschedulable_pods_count",
            "Microsoft.ContainerService/managedClusters/aks",
            "autoscaler-metric",
        ),
        ("Percentage CPU", "Microsoft.Compute/virtualMachines/vm", None),
    ],
)
def test_example_policy_routes_the_infra_alert_rules(metric: str, target: str, route: str | None) -> None:
    from ops.alerts import AlertRouter, parse_alert
    from tests.support.alerts import sample

    policy = read_policy_setting(str(ROOT / "examples" / "remediate-policy.yaml"))
    body = sample("metric_fired.json")
    body["data"]["essentials"]["alertTargetIDs"] = [f"/subscriptions/s/resourceGroups/g/providers/{target}"]
    criterion = body["data"]["alertContext"]["condition"]["allOf"][0]
    criterion.update(metricName=metric, dimensions=[{"name": "ConnectionState", "value": "Failed"}])
    decision = AlertRouter(policy.routes).route(parse_alert(body))
    assert (decision.route.name if decision.route else None) == route
