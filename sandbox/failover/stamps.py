"""A failover estate for tests, benchmarks and the demo: stamps of two regions, each with a
geo-replicated registry, a cluster per region, Front Door origins or Traffic Manager endpoints
per region, and an App Configuration key naming the push endpoint CI uses.

``failover_estate(stamps=N)`` builds the estate; ``failover_policy(regions, stamps=N)`` builds
the matching ``OPS_FAILOVER_POLICY`` document from ``GET /_sandbox/regions`` once the sandbox
runs (regional endpoints are only known then).
"""

from __future__ import annotations

from typing import Any

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"

PRIMARY = "eastus2"
SECONDARY = "westus2"
STORE = "appcs-ops-sbx"
POINTER_KEY = "ci/push-endpoint"


def stamp_names(index: int) -> dict[str, str]:
    return {
        "stamp": f"payments{index}",
        "registry": f"contosopay{index:03d}",
        "front_door": f"afd-payments{index}",
        "origin_group": "og-api",
        "traffic_manager": f"tm-payments{index}",
        "cluster_primary": f"aks-pay{index}-eus2",
        "cluster_secondary": f"aks-pay{index}-wus2",
    }


def failover_estate(*, stamps: int = 1, lro_seconds: float = 0.2, **settings: Any) -> dict[str, Any]:
    """Stamps alternate Front Door (even) and Traffic Manager (odd); stamp 0 has both."""
    estate: dict[str, Any] = {
        "settings": {"lroSeconds": lro_seconds, **settings},
        "subscriptions": [
            {
                "id": SUBSCRIPTION,
                "name": "test",
                "resourceGroups": [
                    {"name": "rg-acr", "location": PRIMARY},
                    {"name": "rg-aks", "location": PRIMARY},
                    {"name": "rg-edge", "location": "centralus"},
                ],
            }
        ],
        "registries": [],
        "clusters": [],
    }
    front_doors: list[dict[str, Any]] = []
    traffic_managers: list[dict[str, Any]] = []
    key_values: list[dict[str, Any]] = []
    for index in range(stamps):
        names = stamp_names(index)
        estate["registries"].append(
            {
                "name": names["registry"],
                "resourceGroup": "rg-acr",
                "location": PRIMARY,
                "sku": "Premium",
                "replications": [{"location": SECONDARY}],
                "repositories": [{"name": "payments/api", "manifests": [{"tags": ["v1"], "age": "2d"}]}],
            }
        )
        for key, region in (("cluster_primary", PRIMARY), ("cluster_secondary", SECONDARY)):
            estate["clusters"].append(
                {
                    "name": names[key],
                    "resourceGroup": "rg-aks",
                    "location": region,
                    "tags": {"environment": "prod"},
                    "agentPools": [{"name": "system", "mode": "System", "count": 1}],
                }
            )
        if index % 2 == 0:
            front_doors.append(
                {
                    "name": names["front_door"],
                    "resourceGroup": "rg-edge",
                    "originGroups": [
                        {
                            "name": names["origin_group"],
                            "origins": [
                                {
                                    "name": region,
                                    "hostName": f"pay{index}.{region}.contoso.example",
                                    "region": region,
                                    "priority": priority,
                                }
                                for priority, region in ((1, PRIMARY), (2, SECONDARY))
                            ],
                        }
                    ],
                }
            )
        if index % 2 == 1 or index == 0:
            traffic_managers.append(
                {
                    "name": names["traffic_manager"],
                    "resourceGroup": "rg-edge",
                    "endpoints": [
                        {
                            "name": region,
                            "target": f"pay{index}.{region}.contoso.example",
                            "endpointLocation": region,
                            "priority": priority,
                        }
                        for priority, region in ((1, PRIMARY), (2, SECONDARY))
                    ],
                }
            )
        key_values.append({"key": POINTER_KEY, "label": names["stamp"], "value": "pending"})
    estate["failover"] = {
        "frontDoors": front_doors,
        "trafficManagers": traffic_managers,
        "appConfigurations": [
            {"name": STORE, "resourceGroup": "rg-edge", "location": "centralus", "keyValues": key_values}
        ],
    }
    return estate


def failover_policy(regions: dict[str, Any], *, stamps: int = 1, **overrides: Any) -> dict[str, Any]:
    """The OPS_FAILOVER_POLICY for ``failover_estate(stamps=...)``, from ``GET /_sandbox/regions``."""
    endpoint = regions["appConfigurations"][STORE]
    arm_group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups"
    out: list[dict[str, Any]] = []
    for index in range(stamps):
        names = stamp_names(index)
        regional = regions["regionalEndpoints"][names["registry"]]
        stamp: dict[str, Any] = {
            "name": names["stamp"],
            "regions": [PRIMARY, SECONDARY],
            "registry": {
                "id": f"{arm_group}/rg-acr/providers/Microsoft.ContainerRegistry/registries/"
                f"{names['registry']}",
                "replications": {PRIMARY: PRIMARY, SECONDARY: SECONDARY},
                "probe": "payments/api:v1",
            },
            "pointer": {
                "store": endpoint,
                "key": POINTER_KEY,
                "label": names["stamp"],
                "endpoints": {PRIMARY: regional[PRIMARY], SECONDARY: regional[SECONDARY]},
            },
            "clusters": {
                region: f"{arm_group}/rg-aks/providers/Microsoft.ContainerService/managedClusters/"
                f"{names[key]}"
                for key, region in (("cluster_primary", PRIMARY), ("cluster_secondary", SECONDARY))
            },
            "traffic": {},
        }
        profile_group = f"{arm_group}/rg-edge/providers"
        if index % 2 == 0:
            profile = f"{profile_group}/Microsoft.Cdn/profiles/{names['front_door']}"
            og = f"{profile}/originGroups/{names['origin_group']}"
            stamp["traffic"]["frontDoor"] = {
                "originGroup": og,
                "origins": {PRIMARY: PRIMARY, SECONDARY: SECONDARY},
            }
        if index % 2 == 1 or index == 0:
            tm = f"{profile_group}/Microsoft.Network/trafficManagerProfiles/{names['traffic_manager']}"
            stamp["traffic"]["trafficManager"] = {
                "profile": tm,
                "endpoints": {
                    PRIMARY: f"ExternalEndpoints/{PRIMARY}",
                    SECONDARY: f"ExternalEndpoints/{SECONDARY}",
                },
            }
        stamp.update(overrides)
        out.append(stamp)
    return {"stamps": out}
