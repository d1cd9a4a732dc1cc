"""Microsoft.Network/trafficmanagerprofiles: profiles and their endpoints.

Shapes follow the azure-rest-api-specs examples (Profile-GET-WithEndpoints,
Endpoint-GET-External-WithLocation). ``endpointMonitorStatus`` is read-only and
derived from the endpoint's region: ``Degraded`` while the region is impaired,
``Online`` otherwise, ``Disabled`` when the endpoint is. Endpoint updates are
synchronous, as in Azure; priorities must stay unique within a profile (1 to 1000).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.arm.routing import ArmCall, arm_route, find_in_group, not_found, ok
from sandbox.authz import check_action
from sandbox.failover.state import FailoverState, TmEndpoint, TmProfile, failover_of
from sandbox.http import SandboxHTTPError

_PROFILES = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.Network/trafficmanagerprofiles"
)
_ENDPOINT = _PROFILES + "/{profileName}/{endpointType}/{endpointName}"
_READ = "Microsoft.Network/trafficManagerProfiles/read"
_WRITE = "Microsoft.Network/trafficManagerProfiles/{type}/write"
_TYPES = {"externalendpoints": "ExternalEndpoints", "azureendpoints": "AzureEndpoints"}
_UPDATABLE = {"endpointStatus", "priority", "weight"}


def _profile(call: ArmCall) -> TmProfile:
    return find_in_group(
        call,
        failover_of(call.world).traffic_managers.values(),
        call.params["profileName"],
        "Microsoft.Network/trafficManagerProfiles",
    )


def _endpoint(call: ArmCall, profile: TmProfile) -> TmEndpoint:
    kind = _TYPES.get(call.params["endpointType"].lower())
    if kind is None:
        raise SandboxHTTPError(
            400,
            "UnsupportedBySandbox",
            f"The sandbox emulates ExternalEndpoints and AzureEndpoints, not {call.params['endpointType']}.",
        )
    wanted = call.params["endpointName"].lower()
    for endpoint in profile.endpoints.values():
        if endpoint.name.lower() == wanted and endpoint.type == kind:
            return endpoint
    raise not_found(
        f"Microsoft.Network/trafficManagerProfiles/{kind}", f"{profile.name}/{wanted}", profile.resource_group
    )


def render_endpoint(state: FailoverState, profile: TmProfile, endpoint: TmEndpoint) -> dict[str, Any]:
    type_segment = endpoint.type[0].lower() + endpoint.type[1:]
    return {
        "id": f"{profile.id}/{type_segment}/{endpoint.name}",
        "name": endpoint.name,
        "type": f"Microsoft.Network/trafficManagerProfiles/{type_segment}",
        "properties": {
            "endpointStatus": endpoint.endpoint_status,
            "endpointMonitorStatus": state.probe_status(
                endpoint.location, endpoint.endpoint_status == "Enabled"
            ),
            "target": endpoint.target,
            "weight": endpoint.weight,
            "priority": endpoint.priority,
            "endpointLocation": endpoint.location,
        },
    }


def render_profile(state: FailoverState, profile: TmProfile) -> dict[str, Any]:
    statuses = [
        state.probe_status(e.location, e.endpoint_status == "Enabled") for e in profile.endpoints.values()
    ]
    monitor = "Online" if "Online" in statuses else ("Degraded" if "Degraded" in statuses else "Inactive")
    return {
        "id": profile.id,
        "name": profile.name,
        "type": "Microsoft.Network/trafficManagerProfiles",
        "location": "global",
        "tags": {},
        "properties": {
            "profileStatus": "Enabled",
            "trafficRoutingMethod": profile.routing_method,
            "dnsConfig": {
                "relativeName": profile.name,
                "fqdn": f"{profile.name}.trafficmanager.net",
                "ttl": 30,
            },
            "monitorConfig": {
                "profileMonitorStatus": monitor,
                "protocol": "HTTPS",
                "port": 443,
                "path": "/healthz",
                "intervalInSeconds": 30,
                "toleratedNumberOfFailures": 3,
                "timeoutInSeconds": 10,
            },
            "endpoints": [render_endpoint(state, profile, e) for e in profile.endpoints.values()],
        },
    }


@arm_route("GET", _PROFILES + "/{profileName}", "tm_profiles.get")
async def get_profile(call: ArmCall) -> Response:
    profile = _profile(call)
    check_action(call.world, profile.id, _READ)
    return ok(render_profile(failover_of(call.world), profile))


@arm_route("GET", _ENDPOINT, "tm_endpoints.get")
async def get_endpoint(call: ArmCall) -> Response:
    profile = _profile(call)
    endpoint = _endpoint(call, profile)
    check_action(call.world, profile.id, _READ)
    return ok(render_endpoint(failover_of(call.world), profile, endpoint))


@arm_route("PATCH", _ENDPOINT, "tm_endpoints.update")
async def update_endpoint(call: ArmCall) -> Response:
    profile = _profile(call)
    endpoint = _endpoint(call, profile)
    type_segment = endpoint.type[0].lower() + endpoint.type[1:]
    check_action(call.world, f"{profile.id}/{type_segment}/{endpoint.name}", _WRITE.format(type=type_segment))
    body = await call.json()
    props = body.get("properties") or {}
    unknown = sorted(set(props) - _UPDATABLE)
    if unknown:
        raise SandboxHTTPError(
            400,
            "UnsupportedBySandbox",
            f"The sandbox does not emulate changing {', '.join('properties.' + k for k in unknown)}; "
            f"it supports {', '.join('properties.' + k for k in sorted(_UPDATABLE))}.",
        )
    status = props.get("endpointStatus")
    if status is not None and status not in ("Enabled", "Disabled"):
        raise SandboxHTTPError(400, "BadRequest", "properties.endpointStatus must be Enabled or Disabled.")
    priority = props.get("priority")
    if priority is not None:
        if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 1000:
            raise SandboxHTTPError(
                400, "BadRequest", "properties.priority must be an integer from 1 to 1000."
            )
        taken = [e.name for e in profile.endpoints.values() if e is not endpoint and e.priority == priority]
        if taken:
            raise SandboxHTTPError(
                400,
                "BadRequest",
                f"Endpoint priority {priority} is already used by endpoint '{taken[0]}'; "
                "priorities must be unique.",
            )
    with call.world.lock:
        if status is not None:
            endpoint.endpoint_status = status
        if priority is not None:
            endpoint.priority = priority
        if props.get("weight") is not None:
            endpoint.weight = int(props["weight"])
    return ok(render_endpoint(failover_of(call.world), profile, endpoint))
