"""The estate file's ``failover:`` section: regions, Front Door, Traffic Manager, App Configuration.

Loaded with the rest of the estate (``sandbox.estate``) and dumped back by
``ops sandbox state``. Origins name the ``region`` they run in, which Azure does not
record, so that the sandbox can tell which origins an impaired region takes down.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from sandbox.estate.models import Model
from sandbox.failover.state import (
    AfdOrigin,
    AfdOriginGroup,
    AppConfigStore,
    FrontDoorProfile,
    KeyValue,
    TmEndpoint,
    TmProfile,
    region_key,
)

if TYPE_CHECKING:
    from sandbox.estate.building import Builder

_NAME = r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,79}$"


class OriginModel(Model):
    name: str = Field(pattern=_NAME)
    host_name: str
    region: str
    enabled_state: Literal["Enabled", "Disabled"] = "Enabled"
    priority: int = Field(default=1, ge=1, le=5)
    weight: int = Field(default=1000, ge=1, le=1000)


class OriginGroupModel(Model):
    name: str = Field(pattern=_NAME)
    origins: list[OriginModel] = Field(default_factory=list)


class FrontDoorModel(Model):
    name: str = Field(pattern=_NAME)
    subscription: str | None = None
    resource_group: str
    origin_groups: list[OriginGroupModel] = Field(default_factory=list)


class EndpointModel(Model):
    name: str = Field(pattern=_NAME)
    type: Literal["ExternalEndpoints", "AzureEndpoints"] = "ExternalEndpoints"
    target: str
    endpoint_location: str
    endpoint_status: Literal["Enabled", "Disabled"] = "Enabled"
    priority: int = Field(default=1, ge=1, le=1000)
    weight: int = Field(default=1, ge=1, le=1000)


class TrafficManagerModel(Model):
    name: str = Field(pattern=_NAME)
    subscription: str | None = None
    resource_group: str
    routing_method: Literal["Priority", "Weighted", "Performance"] = "Priority"
    endpoints: list[EndpointModel] = Field(default_factory=list)


class KeyValueModel(Model):
    key: str = Field(min_length=1)
    label: str | None = None
    value: str | None = None
    content_type: str | None = None


class AppConfigurationModel(Model):
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{5,50}$")
    subscription: str | None = None
    resource_group: str
    location: str | None = None
    key_values: list[KeyValueModel] = Field(default_factory=list)


class FailoverEstateModel(Model):
    impaired_regions: list[str] = Field(default_factory=list)
    replication_writes_when_home_down: Literal["refuse", "accept"] = "refuse"
    front_doors: list[FrontDoorModel] = Field(default_factory=list)
    traffic_managers: list[TrafficManagerModel] = Field(default_factory=list)
    app_configurations: list[AppConfigurationModel] = Field(default_factory=list)


def build_failover(builder: Builder, model: FailoverEstateModel, now: datetime) -> None:
    """Add the section to the builder's World, reporting problems by field path."""
    state = builder.world.failover
    state.replication_writes_when_home_down = model.replication_writes_when_home_down
    for region in model.impaired_regions:
        state.set_impaired(region, True, now)
    for index, fd in enumerate(model.front_doors):
        path = f"failover.frontDoors[{index}]"
        sub, group, _ = builder.place(fd.subscription, fd.resource_group, None, path)
        profile = FrontDoorProfile(name=fd.name, subscription=sub, resource_group=group)
        for g_index, og in enumerate(fd.origin_groups):
            origin_group = AfdOriginGroup(name=og.name)
            for o_index, origin in enumerate(og.origins):
                if origin.name in origin_group.origins:
                    builder.problems.add(
                        f"{path}.originGroups[{g_index}].origins[{o_index}].name",
                        f"duplicate origin {origin.name}",
                    )
                origin_group.origins[origin.name] = AfdOrigin(
                    name=origin.name,
                    host_name=origin.host_name,
                    region=region_key(origin.region),
                    enabled_state=origin.enabled_state,
                    priority=origin.priority,
                    weight=origin.weight,
                )
            profile.origin_groups[og.name] = origin_group
        _add(builder, state.front_doors, profile, f"{path}.name")
    for index, tm in enumerate(model.traffic_managers):
        path = f"failover.trafficManagers[{index}]"
        sub, group, _ = builder.place(tm.subscription, tm.resource_group, None, path)
        tm_profile = TmProfile(
            name=tm.name, subscription=sub, resource_group=group, routing_method=tm.routing_method
        )
        priorities: set[int] = set()
        for e_index, ep in enumerate(tm.endpoints):
            if ep.priority in priorities:
                builder.problems.add(
                    f"{path}.endpoints[{e_index}].priority", f"duplicate priority {ep.priority}"
                )
            priorities.add(ep.priority)
            tm_profile.endpoints[ep.name] = TmEndpoint(
                name=ep.name,
                type=ep.type,
                target=ep.target,
                location=ep.endpoint_location,
                endpoint_status=ep.endpoint_status,
                priority=ep.priority,
                weight=ep.weight,
            )
        _add(builder, state.traffic_managers, tm_profile, f"{path}.name")
    for index, ac in enumerate(model.app_configurations):
        path = f"failover.appConfigurations[{index}]"
        sub, group, location = builder.place(ac.subscription, ac.resource_group, ac.location, path)
        store = AppConfigStore(
            name=ac.name, subscription=sub, resource_group=group, location=region_key(location)
        )
        for kv in ac.key_values:
            store.key_values[(kv.key, kv.label)] = KeyValue(
                key=kv.key,
                label=kv.label,
                value=kv.value,
                content_type=kv.content_type,
                etag=store.next_etag(kv.key, kv.label),
                last_modified=now,
            )
        _add(builder, state.app_configs, store, f"{path}.name")


def _add(builder: Builder, table: dict[str, Any], item: Any, path: str) -> None:
    if item.name in table:
        builder.problems.add(path, f"duplicate name {item.name}")
    table[item.name] = item


def dump_failover(world: Any) -> dict[str, Any] | None:
    """The section as the estate file writes it; None when the estate has none."""
    state = world.failover
    if not (state.regions or state.front_doors or state.traffic_managers or state.app_configs):
        return None
    return {
        "impairedRegions": sorted(name for name, region in state.regions.items() if region.impaired),
        "replicationWritesWhenHomeDown": state.replication_writes_when_home_down,
        "frontDoors": [
            {
                "name": fd.name,
                "subscription": fd.subscription,
                "resourceGroup": fd.resource_group,
                "originGroups": [
                    {
                        "name": og.name,
                        "origins": [
                            {
                                "name": o.name,
                                "hostName": o.host_name,
                                "region": o.region,
                                "enabledState": o.enabled_state,
                                "priority": o.priority,
                                "weight": o.weight,
                            }
                            for o in og.origins.values()
                        ],
                    }
                    for og in fd.origin_groups.values()
                ],
            }
            for fd in state.front_doors.values()
        ],
        "trafficManagers": [
            {
                "name": tm.name,
                "subscription": tm.subscription,
                "resourceGroup": tm.resource_group,
                "routingMethod": tm.routing_method,
                "endpoints": [
                    {
                        "name": e.name,
                        "type": e.type,
                        "target": e.target,
                        "endpointLocation": e.location,
                        "endpointStatus": e.endpoint_status,
                        "priority": e.priority,
                        "weight": e.weight,
                    }
                    for e in tm.endpoints.values()
                ],
            }
            for tm in state.traffic_managers.values()
        ],
        "appConfigurations": [
            {
                "name": ac.name,
                "subscription": ac.subscription,
                "resourceGroup": ac.resource_group,
                "location": ac.location,
                "keyValues": [
                    {"key": kv.key, "label": kv.label, "value": kv.value, "contentType": kv.content_type}
                    for kv in ac.key_values.values()
                ],
            }
            for ac in state.app_configs.values()
        ],
    }
