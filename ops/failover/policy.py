"""``OPS_FAILOVER_POLICY``: the stamps whose write paths fail over, and how carefully.

A stamp is one application's set of write paths across regions: its regions in
priority order, the registry and which replication serves each region, the App
Configuration key CI reads with the regional endpoint each region maps to, the
clusters, and the Front Door origins or Traffic Manager endpoints of each region.
Whether the app fails over and back by itself, or only plans and pages a person, and
the hysteresis that guards failback, are set per stamp (defaults for all).

The pydantic models below are the schema (``docs/schemas/failover-policy.schema.json``
is generated from :class:`PolicyDocument`); problems are told as field paths
(``failover.stamps[0].pointer.endpoints: missing westus2``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ops.errors import ConfigError
from ops.policies import (
    DURATION_PATTERN,
    describe_validation_errors,
    parse_duration,
    publish_schema,
    read_policy_source,
)

SETTING = "OPS_FAILOVER_POLICY"

_REGION = r"^[a-z][a-z0-9]{2,40}$"
_ARM_ID = r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/.+$"
Region = Annotated[str, Field(pattern=_REGION, description="An Azure region's short name, e.g. eastus2.")]
ArmId = Annotated[str, Field(pattern=_ARM_ID, description="An ARM resource id.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Automatic(_Strict):
    """What the app may do without a person: otherwise it plans, pages, and waits for a runbook."""

    failover: bool = Field(True, description="Fail over by itself when the active region is impaired.")
    failback: bool = Field(True, description="Fail back by itself once the region is verified healthy.")


class Hysteresis(_Strict):
    """What failback waits for, so that a flapping region never pulls traffic back and forth."""

    stable_for: Annotated[str, Field(pattern=DURATION_PATTERN)] = Field(
        "15m",
        alias="stableFor",
        description="The incident Resolved and Resource Health Available continuously for this long.",
    )
    online_checks: int = Field(
        3,
        alias="onlineChecks",
        ge=1,
        le=100,
        description="Consecutive watch checks with probes Online and the synthetic check passing.",
    )
    max_failovers_per_day: int = Field(
        2, alias="maxFailoversPerDay", ge=1, le=24, description="More failovers in 24 hours are refused."
    )

    @property
    def stable_period(self) -> timedelta:
        return parse_duration(self.stable_for)


class Registry(_Strict):
    id: ArmId = Field(description="The geo-replicated registry (Premium).")
    replications: dict[Region, str] = Field(
        description="Region → the replication's name (the home region is a replication too)."
    )
    probe: str = Field(
        pattern=r"^[a-z0-9]+(?:[._/-][a-z0-9]+)*:[\w][\w.-]{0,127}$",
        description="repository:tag of a known manifest the synthetic check reads per region.",
    )


class Pointer(_Strict):
    store: str = Field(pattern=r"^https://[^\s/]+$", description="The App Configuration store endpoint.")
    key: str = Field(min_length=1, max_length=200)
    label: str | None = Field(None, max_length=200)
    endpoints: dict[Region, str] = Field(
        description="Region → the registry's regional endpoint the key names when that region is active."
    )


class FrontDoor(_Strict):
    origin_group: ArmId = Field(alias="originGroup", description="Microsoft.Cdn/profiles/originGroups id.")
    origins: dict[Region, str] = Field(description="Region → the origin's name in that group.")


class TrafficManager(_Strict):
    profile: ArmId = Field(description="Microsoft.Network/trafficManagerProfiles id.")
    endpoints: dict[Region, Annotated[str, Field(pattern=r"^(ExternalEndpoints|AzureEndpoints)/[^/]+$")]] = (
        Field(description="Region → <endpointType>/<endpointName>.")
    )


class Traffic(_Strict):
    front_door: FrontDoor | None = Field(None, alias="frontDoor")
    traffic_manager: TrafficManager | None = Field(None, alias="trafficManager")


class Stamp(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")
    regions: list[Region] = Field(min_length=2, max_length=5, description="Regions in priority order.")
    registry: Registry
    pointer: Pointer
    clusters: dict[Region, ArmId] = Field(description="Region → the AKS cluster serving it.")
    traffic: Traffic = Field(default_factory=lambda: Traffic.model_validate({}))
    automatic: Automatic | None = None
    hysteresis: Hysteresis | None = None

    @model_validator(mode="after")
    def _every_region_mapped(self) -> Stamp:
        if len(set(self.regions)) != len(self.regions):
            raise ValueError("regions: each region may appear once")
        wanted = set(self.regions)
        maps: list[tuple[str, Mapping[str, Any]]] = [
            ("registry.replications", self.registry.replications),
            ("pointer.endpoints", self.pointer.endpoints),
            ("clusters", self.clusters),
        ]
        if self.traffic.front_door is not None:
            maps.append(("traffic.frontDoor.origins", self.traffic.front_door.origins))
        if self.traffic.traffic_manager is not None:
            maps.append(("traffic.trafficManager.endpoints", self.traffic.traffic_manager.endpoints))
        problems = []
        for where, mapping in maps:
            missing = sorted(wanted - set(mapping))
            extra = sorted(set(mapping) - wanted)
            if missing:
                problems.append(f"{where}: missing {', '.join(missing)} (every region of the stamp)")
            if extra:
                problems.append(f"{where}: {', '.join(extra)} is not one of the stamp's regions")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Defaults(_Strict):
    automatic: Automatic = Field(default_factory=lambda: Automatic.model_validate({}))
    hysteresis: Hysteresis = Field(default_factory=lambda: Hysteresis.model_validate({}))


class FailoverPolicy(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    stamps: list[Stamp] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> FailoverPolicy:
        names = [s.name for s in self.stamps]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"stamps: duplicate stamp names {', '.join(dupes)}")
        return self

    def automatic_of(self, stamp: Stamp) -> Automatic:
        return stamp.automatic or self.defaults.automatic

    def hysteresis_of(self, stamp: Stamp) -> Hysteresis:
        return stamp.hysteresis or self.defaults.hysteresis

    def stamp(self, name: str) -> Stamp | None:
        return next((s for s in self.stamps if s.name == name), None)

    def stamps_in(self, region: str) -> list[Stamp]:
        return [s for s in self.stamps if region in s.regions]

    def region_of_resource(self, resource_id: str) -> list[tuple[Stamp, str]]:
        """(stamp, region) pairs a stamp's cluster or registry replication id belongs to: the
        region the cluster serves, or the region whose replica the replication is. The
        registry itself names no region (every replica is part of it), so it maps to none."""
        wanted = resource_id.lower().rstrip("/")
        found: list[tuple[Stamp, str]] = []
        for stamp in self.stamps:
            for region, cluster in stamp.clusters.items():
                if cluster.lower() == wanted:
                    found.append((stamp, region))
            registry = stamp.registry.id.lower().rstrip("/")
            for region, replication in stamp.registry.replications.items():
                if f"{registry}/replications/{replication.lower()}" == wanted:
                    found.append((stamp, region))
        return found


class PolicyDocument(_Strict):
    failover: FailoverPolicy


def load_policy(source: str | None) -> FailoverPolicy | None:
    """The policy ``OPS_FAILOVER_POLICY`` names (a path or inline YAML/JSON); None when empty."""
    data = read_policy_source(SETTING, source)
    if data is None:
        return None
    return validate_policy(data, origin=SETTING)


def validate_policy(data: Any, *, origin: str = SETTING) -> FailoverPolicy:
    if isinstance(data, Mapping) and set(data) != {"failover"}:
        data = {"failover": dict(data)}  # the capability's key may be left out
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with 'stamps', got {type(data).__name__}")
    document = dict(data)
    try:
        return PolicyDocument.model_validate(document).failover
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_errors(exc, document, root="failover", model=PolicyDocument)
        ) from None


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from the models (docs/schemas)."""
    return publish_schema(PolicyDocument, name="failover-policy")


def normalize_region(name: str) -> str:
    """``East US 2`` → ``eastus2``: regions as alerts and ARM spell them, compared alike."""
    return re.sub(r"\s+", "", name).lower()
