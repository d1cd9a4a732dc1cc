"""Microsoft.ResourceHealth: the current availability status of one resource.

Shape from the azure-rest-api-specs example AvailabilityStatus_GetByResource
(2022-10-01 and later). A resource whose region is impaired is ``Unavailable``
(``reasonType: Unplanned``) from the moment the region was impaired; otherwise it
is ``Available`` since it healed (or since the sandbox started). Global resources
(Front Door and Traffic Manager profiles) are always Available.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.responses import Response

from sandbox.arm.resources import arm_time
from sandbox.arm.routing import ArmCall, arm_route, ok
from sandbox.authz import check_action
from sandbox.failover.state import failover_of
from sandbox.http import SandboxHTTPError
from sandbox.world import World

_PATH = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{namespace}/{type}/{name}"
    "/providers/Microsoft.ResourceHealth/availabilityStatuses/current"
)


def resource_location(world: World, resource_id: str) -> str | None:
    """The region of a resource the sandbox knows, ``global`` for global ones, None if unknown."""
    wanted = resource_id.lower().rstrip("/")
    for registry in world.registries.values():
        if registry.id.lower() == wanted:
            return registry.location
    for cluster in world.clusters.values():
        if cluster.id.lower() == wanted:
            return cluster.location
    state = failover_of(world)
    for store in state.app_configs.values():
        store_id = (
            f"/subscriptions/{store.subscription}/resourceGroups/{store.resource_group}"
            f"/providers/Microsoft.AppConfiguration/configurationStores/{store.name}"
        )
        if store_id.lower() == wanted:
            return store.location
    for profile in [*state.front_doors.values(), *state.traffic_managers.values()]:
        if profile.id.lower() == wanted:
            return "global"
    return None


def render_status(world: World, resource_id: str, location: str) -> dict[str, Any]:
    state = failover_of(world)
    region = state.regions.get(location.lower())
    impaired = region is not None and region.impaired
    since: datetime = region.changed if region is not None and region.changed is not None else world.now()
    properties: dict[str, Any] = {
        "availabilityState": "Unavailable" if impaired else "Available",
        "title": "Unavailable" if impaired else "Available",
        "summary": (
            "We're sorry, your resource is unavailable because of a platform problem in this region"
            if impaired
            else "There aren't any known Azure platform problems affecting this resource"
        ),
        "reasonType": "Unplanned" if impaired else "",
        "context": "Platform Initiated" if impaired else "",
        "category": "Unplanned" if impaired else "",
        "reasonChronicity": "Persistent" if impaired else "Transient",
        "detailedStatus": "",
        "occuredTime": arm_time(since),
        "reportedTime": arm_time(world.now()),
    }
    return {
        "id": f"{resource_id}/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
        "name": "current",
        "type": "Microsoft.ResourceHealth/AvailabilityStatuses",
        "location": location,
        "properties": properties,
    }


@arm_route("GET", _PATH, "availability_statuses.get_by_resource")
async def get_availability_status(call: ArmCall) -> Response:
    p = call.params
    resource_id = (
        f"/subscriptions/{p['subscriptionId']}/resourceGroups/{p['resourceGroupName']}"
        f"/providers/{p['namespace']}/{p['type']}/{p['name']}"
    )
    check_action(call.world, resource_id, "Microsoft.ResourceHealth/availabilityStatuses/read")
    with call.world.lock:
        location = resource_location(call.world, resource_id)
        if location is None:
            raise SandboxHTTPError(
                404, "ResourceNotFound", f"The resource '{resource_id}' was not found by Resource Health."
            )
        return ok(render_status(call.world, resource_id, location))
