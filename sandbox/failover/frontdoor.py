"""Microsoft.Cdn (Front Door Standard/Premium): origin groups and origins.

Shapes follow the azure-rest-api-specs examples (AFDOrigins_Get, AFDOriginGroups_Get).
An origin update is an LRO, as in Azure (``afd_origins.begin_update``): the answer
carries ``Azure-AsyncOperation`` and ``provisioningState: Updating`` until it settles.
Only ``enabledState``, ``priority`` and ``weight`` may be changed here; anything else
is refused loudly. Origin health is not part of the ARM resource in Azure either.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.arm.routing import (
    ArmCall,
    arm_route,
    find_in_group,
    lro_headers,
    not_found,
    ok,
    operation_status,
    page,
)
from sandbox.authz import check_action
from sandbox.failover.state import AfdOrigin, AfdOriginGroup, FrontDoorProfile, failover_of
from sandbox.http import SandboxHTTPError

_PROFILES = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Cdn/profiles"
)
_GROUP = _PROFILES + "/{profileName}/originGroups/{originGroupName}"
_ORIGIN = _GROUP + "/origins/{originName}"
_READ = "Microsoft.Cdn/profiles/originGroups/origins/read"
_WRITE = "Microsoft.Cdn/profiles/originGroups/origins/write"
_GROUP_READ = "Microsoft.Cdn/profiles/originGroups/read"
_UPDATABLE = {"enabledState", "priority", "weight"}


def _profile(call: ArmCall) -> FrontDoorProfile:
    return find_in_group(
        call,
        failover_of(call.world).front_doors.values(),
        call.params["profileName"],
        "Microsoft.Cdn/profiles",
    )


def _group(call: ArmCall, profile: FrontDoorProfile) -> AfdOriginGroup:
    wanted = call.params["originGroupName"].lower()
    for group in profile.origin_groups.values():
        if group.name.lower() == wanted:
            return group
    raise not_found("Microsoft.Cdn/profiles/originGroups", f"{profile.name}/{wanted}", profile.resource_group)


def _origin(call: ArmCall, profile: FrontDoorProfile, group: AfdOriginGroup) -> AfdOrigin:
    wanted = call.params["originName"].lower()
    for origin in group.origins.values():
        if origin.name.lower() == wanted:
            return origin
    raise not_found(
        "Microsoft.Cdn/profiles/originGroups/origins",
        f"{profile.name}/{group.name}/{wanted}",
        profile.resource_group,
    )


def render_origin(profile: FrontDoorProfile, group: AfdOriginGroup, origin: AfdOrigin) -> dict[str, Any]:
    return {
        "id": f"{profile.id}/originGroups/{group.name}/origins/{origin.name}",
        "type": "Microsoft.Cdn/profiles/origingroups/origins",
        "name": origin.name,
        "properties": {
            "hostName": origin.host_name,
            "httpPort": origin.http_port,
            "httpsPort": origin.https_port,
            "originHostHeader": origin.host_name,
            "priority": origin.priority,
            "weight": origin.weight,
            "enabledState": origin.enabled_state,
            "provisioningState": origin.provisioning_state,
            "deploymentStatus": "NotStarted",
            "originGroupName": group.name,
            "sharedPrivateLinkResource": None,
            "enforceCertificateNameCheck": True,
        },
    }


def render_group(profile: FrontDoorProfile, group: AfdOriginGroup) -> dict[str, Any]:
    return {
        "id": f"{profile.id}/originGroups/{group.name}",
        "type": "Microsoft.Cdn/profiles/origingroups",
        "name": group.name,
        "properties": {
            "loadBalancingSettings": {
                "sampleSize": 3,
                "successfulSamplesRequired": 3,
                "additionalLatencyInMilliseconds": 1000,
            },
            "healthProbeSettings": {
                "probePath": "/healthz",
                "probeRequestType": "GET",
                "probeProtocol": "Https",
                "probeIntervalInSeconds": group.probe_interval_seconds,
            },
            "trafficRestorationTimeToHealedOrNewEndpointsInMinutes": 5,
            "sessionAffinityState": "Disabled",
            "provisioningState": "Succeeded",
            "deploymentStatus": "NotStarted",
            "profileName": profile.name,
        },
    }


@arm_route("GET", _GROUP, "afd_origin_groups.get")
async def get_origin_group(call: ArmCall) -> Response:
    profile = _profile(call)
    group = _group(call, profile)
    check_action(call.world, f"{profile.id}/originGroups/{group.name}", _GROUP_READ)
    return ok(render_group(profile, group))


@arm_route("GET", _GROUP + "/origins", "afd_origins.list_by_origin_group")
async def list_origins(call: ArmCall) -> Response:
    profile = _profile(call)
    group = _group(call, profile)
    check_action(call.world, f"{profile.id}/originGroups/{group.name}", _READ)
    return page(call, [render_origin(profile, group, o) for o in group.origins.values()])


@arm_route("GET", _ORIGIN, "afd_origins.get")
async def get_origin(call: ArmCall) -> Response:
    profile = _profile(call)
    group = _group(call, profile)
    origin = _origin(call, profile, group)
    check_action(call.world, f"{profile.id}/originGroups/{group.name}/origins/{origin.name}", _READ)
    return ok(render_origin(profile, group, origin))


def _check_update(props: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(props) - _UPDATABLE)
    if unknown:
        raise SandboxHTTPError(
            400,
            "UnsupportedBySandbox",
            f"The sandbox does not emulate changing {', '.join('properties.' + k for k in unknown)}; "
            f"it supports {', '.join('properties.' + k for k in sorted(_UPDATABLE))}.",
        )
    if "enabledState" in props and props["enabledState"] not in ("Enabled", "Disabled"):
        raise SandboxHTTPError(400, "BadRequest", "properties.enabledState must be Enabled or Disabled.")
    for name, low, high in (("priority", 1, 5), ("weight", 1, 1000)):
        value = props.get(name)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high
        ):
            raise SandboxHTTPError(
                400, "BadRequest", f"properties.{name} must be an integer from {low} to {high}."
            )
    return props


@arm_route("PATCH", _ORIGIN, "afd_origins.update")
async def update_origin(call: ArmCall) -> Response:
    profile = _profile(call)
    group = _group(call, profile)
    origin = _origin(call, profile, group)
    origin_id = f"{profile.id}/originGroups/{group.name}/origins/{origin.name}"
    check_action(call.world, origin_id, _WRITE)
    body = await call.json()
    props = _check_update(body.get("properties") or {})
    with call.world.lock:
        busy = call.ctx.engine.in_progress(origin_id)
        if busy is not None:
            raise SandboxHTTPError(
                409, "Conflict", f"Another operation ({busy.name}) is in progress on origin '{origin.name}'."
            )
        origin.provisioning_state = "Updating"

        def finish() -> None:
            if "enabledState" in props:
                origin.enabled_state = props["enabledState"]
            if props.get("priority") is not None:
                origin.priority = props["priority"]
            if props.get("weight") is not None:
                origin.weight = props["weight"]
            origin.provisioning_state = "Succeeded"

        def fail(_: dict[str, str]) -> None:
            origin.provisioning_state = "Failed"

        op = call.begin_operation(name="Updating", resource_id=origin_id, finish=finish, fail=fail)
    headers = lro_headers(call, op, status_path=f"{origin_id}/operationresults", result_path=None)
    return ok(render_origin(profile, group, origin), 200, headers)


@arm_route("GET", _ORIGIN + "/operationresults/{operationId}", "afd_origins.operation_status")
async def origin_operation_status(call: ArmCall) -> Response:
    return operation_status(call)
