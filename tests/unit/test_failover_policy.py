"""The failover policy and the pure state machine.

Cases: a valid policy loads from inline YAML with defaults; every region must be mapped in
replications, pointer endpoints, clusters and traffic (field path in the error); unknown keys
and bad regions are refused; the published JSON Schema is generated from the models.
Resources → regions: a cluster maps to the region it serves, a registry replication to the
region whose replica it is (whatever its name, any case), the registry itself and another
registry's replication to none.
Signals: a duplicate or older signal from the same source changes nothing; a region is healthy
again only when every source is resolved, and ``healthy_since`` is when the last one resolved.
Decisions: a healthy active region does nothing; an impaired one fails over to the first
healthy region in priority order; every other region impaired is a refusal; the daily cap
refuses; automatic failover off pages with a plan. Step plans: the pointer is skipped when
already right; the last enabled origin and the last routed replica are protected; Traffic
Manager demotes and restores priorities. Failback readiness counts consecutive checks.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import ConfigError
from ops.failover.machine import (
    Endpoint,
    Origin,
    Phase,
    PointerValue,
    RegionHealth,
    Replica,
    Signal,
    StampState,
    apply_signal,
    decide,
    failback_ready,
    plan_pointer,
    plan_routing,
    plan_traffic,
)
from ops.failover.policy import load_policy, policy_json_schema, validate_policy

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
SUB = "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups"


def stamp_doc(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "payments",
        "regions": ["eastus2", "westus2"],
        "registry": {
            "id": f"{SUB}/rg/providers/Microsoft.ContainerRegistry/registries/contosopay",
            "replications": {"eastus2": "eastus2", "westus2": "westus2"},
            "probe": "payments/api:v1",
        },
        "pointer": {
            "store": "https://appcs.azconfig.io",
            "key": "ci/push-endpoint",
            "endpoints": {
                "eastus2": "contosopay.eastus2.geo.azurecr.io",
                "westus2": "contosopay.westus2.geo.azurecr.io",
            },
        },
        "clusters": {
            "eastus2": f"{SUB}/rg/providers/Microsoft.ContainerService/managedClusters/aks-eus2",
            "westus2": f"{SUB}/rg/providers/Microsoft.ContainerService/managedClusters/aks-wus2",
        },
        "traffic": {
            "frontDoor": {
                "originGroup": f"{SUB}/rg/providers/Microsoft.Cdn/profiles/afd/originGroups/og",
                "origins": {"eastus2": "eus2", "westus2": "wus2"},
            }
        },
    }
    doc.update(overrides)
    return doc


def policy(**overrides: Any) -> Any:
    return validate_policy({"stamps": [stamp_doc(**overrides)]})


def test_inline_policy_loads_with_defaults() -> None:
    loaded = load_policy(json.dumps({"failover": {"stamps": [stamp_doc()]}}))
    assert loaded is not None
    stamp = loaded.stamps[0]
    assert loaded.automatic_of(stamp).failover is True
    assert loaded.hysteresis_of(stamp).stable_period == timedelta(minutes=15)
    assert loaded.stamps_in("westus2") == [stamp]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"clusters": {"eastus2": f"{SUB}/rg/providers/M/c/a"}}, "clusters: missing westus2"),
        ({"regions": ["eastus2", "West US 2"]}, "failover.stamps[0].regions[1]"),
        ({"colour": "blue"}, "colour"),
        ({"regions": ["eastus2"]}, "failover.stamps[0].regions"),
    ],
)
def test_bad_policies_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        policy(**change)
    assert message in str(info.value)


def test_published_schema_is_generated_from_the_models() -> None:
    published = json.loads((ROOT / "docs" / "schemas" / "failover-policy.schema.json").read_text())
    assert published == policy_json_schema()


_ACR = f"{SUB}/rg/providers/Microsoft.ContainerRegistry/registries"


@pytest.mark.parametrize(
    ("resource", "regions"),
    [
        (f"{SUB}/rg/providers/Microsoft.ContainerService/managedClusters/aks-wus2", ["westus2"]),
        (f"{_ACR}/contosopay/replications/eus2rep", ["eastus2"]),
        (f"{_ACR.lower()}/CONTOSOPAY/replications/WUS2REP/", ["westus2"]),
        (f"{_ACR}/contosopay", []),
        (f"{_ACR}/otherpay/replications/eus2rep", []),
        (f"{_ACR}/contosopay/replications/eastus2", []),
    ],
)
def test_resources_map_to_the_region_they_serve(resource: str, regions: list[str]) -> None:
    registry = stamp_doc()["registry"] | {"replications": {"eastus2": "eus2rep", "westus2": "wus2rep"}}
    found = policy(registry=registry).region_of_resource(resource)
    assert [region for _, region in found] == regions


def sig(active: bool, minutes: int, source: str = "servicehealth:T1") -> Signal:
    return Signal("eastus2", source, active, NOW + timedelta(minutes=minutes), "x")


def test_duplicate_and_older_signals_change_nothing() -> None:
    health, changed = apply_signal(RegionHealth("eastus2"), sig(True, 0))
    assert changed and health.impaired
    assert apply_signal(health, sig(True, 0)) == (health, False)
    assert apply_signal(health, sig(False, -5)) == (health, False)


def test_region_is_healthy_only_when_every_source_resolves() -> None:
    health = RegionHealth("eastus2")
    for signal in (sig(True, 0), sig(True, 1, "resourcehealth:aks"), sig(False, 2)):
        health, _ = apply_signal(health, signal)
    assert health.impaired
    health, _ = apply_signal(health, sig(False, 7, "resourcehealth:aks"))
    assert not health.impaired and health.healthy_since == NOW + timedelta(minutes=7)


def three_regions() -> Any:
    """A one-stamp policy over eastus2, westus2 and centralus."""
    return validate_policy(
        {
            "stamps": [
                stamp_doc(
                    regions=["eastus2", "westus2", "centralus"],
                    registry={
                        **stamp_doc()["registry"],
                        "replications": {"eastus2": "a", "westus2": "b", "centralus": "c"},
                    },
                    pointer={
                        **stamp_doc()["pointer"],
                        "endpoints": {"eastus2": "a", "westus2": "b", "centralus": "c"},
                    },
                    clusters={
                        "eastus2": f"{SUB}/r/providers/M/c/a",
                        "westus2": f"{SUB}/r/providers/M/c/b",
                        "centralus": f"{SUB}/r/providers/M/c/c",
                    },
                    traffic={},
                )
            ]
        }
    )


def test_decisions() -> None:
    p = three_regions()
    stamp = p.stamps[0]
    state = StampState()
    assert decide(stamp, p, state, set(), NOW).kind == "none"
    assert decide(stamp, p, state, {"eastus2"}, NOW).target == "westus2"
    assert decide(stamp, p, state, {"eastus2", "westus2"}, NOW).target == "centralus"
    refused = decide(stamp, p, state, {"eastus2", "westus2", "centralus"}, NOW)
    assert refused.kind == "refuse" and "nowhere healthy" in refused.reason
    capped = StampState(failovers=(NOW - timedelta(hours=3), NOW - timedelta(hours=1)))
    assert decide(stamp, p, capped, {"eastus2"}, NOW).kind == "refuse"
    assert (
        decide(
            stamp, p, StampState(phase=Phase.FAILED_OVER, home="eastus2", active="westus2"), set(), NOW
        ).kind
        == "failback-check"
    )


def test_manual_mode_pages_unless_approved() -> None:
    p = policy(automatic={"failover": False, "failback": False})
    stamp = p.stamps[0]
    assert decide(stamp, p, StampState(), {"eastus2"}, NOW).kind == "page"
    assert decide(stamp, p, StampState(), {"eastus2"}, NOW, approved=True).kind == "failover"


def test_step_plans_and_guards() -> None:
    stamp = policy().stamps[0]
    right = PointerValue("contosopay.westus2.geo.azurecr.io", "e1")
    assert plan_pointer(stamp, right, to_region="westus2", transition="t").actions == ()
    moved = plan_pointer(stamp, PointerValue("x", "e1"), to_region="westus2", transition="t")
    assert moved.actions[0].params["etag"] == "e1"
    origins = {"eastus2": Origin("o1", "eus2", True, 1), "westus2": Origin("o2", "wus2", False, 2)}
    guarded = plan_traffic(
        stamp,
        origins,
        {},
        away_from="eastus2",
        to_region="westus2",
        impaired={"eastus2"},
        saved_priorities={},
        failing_over=True,
        transition="t",
    )
    assert guarded.actions == [] and guarded.protected[0].reason.startswith("protected: last enabled origin")
    endpoints = {
        "eastus2": Endpoint("e1", "eus2", True, 1, "Online"),
        "westus2": Endpoint("e2", "wus2", True, 2, "Online"),
    }
    demote = plan_traffic(
        stamp,
        {},
        endpoints,
        away_from="eastus2",
        to_region="westus2",
        impaired={"eastus2"},
        saved_priorities={},
        failing_over=True,
        transition="t",
    )
    assert dict(demote.actions[0].params) == {"priority": 3, "original": 1}
    demoted = {**endpoints, "eastus2": Endpoint("e1", "eus2", True, 3, "Online")}
    restore = plan_traffic(
        stamp,
        {},
        demoted,
        away_from="eastus2",
        to_region="eastus2",
        impaired=set(),
        saved_priorities={"e1": 1},
        failing_over=False,
        transition="t",
    )
    assert dict(restore.actions[0].params) == {"priority": 1}
    replicas = {"eastus2": Replica("r1", "eastus2", True), "westus2": Replica("r2", "westus2", False)}
    last = plan_routing(stamp, replicas, region="eastus2", impaired={"eastus2"}, routed=False, transition="t")
    assert (
        last.actions == ()
        and last.protected[0].reason == "protected: last routed replica in a healthy region"
    )


def test_failback_readiness_counts_consecutive_checks() -> None:
    healthy = RegionHealth("eastus2", {}, healthy_since=NOW - timedelta(minutes=20))
    args: dict[str, Any] = {
        "health": healthy,
        "resource_health_since": NOW - timedelta(minutes=20),
        "stable_for": timedelta(minutes=15),
        "online_checks": 2,
        "now": NOW,
    }
    checks, blocking = failback_ready(probes_online=True, synthetic_ok=True, state=StampState(), **args)
    assert checks == 1 and blocking == ["1 of 2 consecutive checks passed"]
    checks, blocking = failback_ready(
        probes_online=True, synthetic_ok=True, state=StampState(online_checks=1), **args
    )
    assert (checks, blocking) == (2, [])
    checks, blocking = failback_ready(
        probes_online=True, synthetic_ok=False, state=StampState(online_checks=1), **args
    )
    assert checks == 0 and "the synthetic check failed" in blocking
    recent = {**args, "resource_health_since": NOW - timedelta(minutes=5)}
    _, blocking = failback_ready(
        probes_online=True, synthetic_ok=True, state=StampState(online_checks=5), **recent
    )
    assert any("Resource Health Available" in b for b in blocking)
