"""Microsoft.ContainerRegistry: registries (list, get, update) and replications (list, get, LROs).

Failover flips a replication's ``regionEndpointEnabled`` through
``replications.begin_update``; that is an LRO here as in ACR (201 with
Azure-AsyncOperation, ``provisioningState: Updating`` until it settles).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.arm.resources import render_registry, render_replication
from sandbox.arm.routing import (
    ArmCall,
    arm_route,
    find_in_group,
    list_in_group,
    list_in_subscription,
    lro_headers,
    not_found,
    ok,
    operation_status,
    page,
)
from sandbox.authz import check_action
from sandbox.failover.gates import check_home_region
from sandbox.http import SandboxHTTPError
from sandbox.world import Registry, Replication

_PROVIDER = "Microsoft.ContainerRegistry"
_REG = (
    "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}"
    "/providers/Microsoft.ContainerRegistry/registries"
)
_READ = f"{_PROVIDER}/registries/read"
_WRITE = f"{_PROVIDER}/registries/write"
_REP_READ = f"{_PROVIDER}/registries/replications/read"
_REP_WRITE = f"{_PROVIDER}/registries/replications/write"
_SKUS = ("Basic", "Standard", "Premium")


def _registry(call: ArmCall) -> Registry:
    return find_in_group(
        call, call.world.registries.values(), call.params["registryName"], f"{_PROVIDER}/registries"
    )


def _replication(call: ArmCall, registry: Registry) -> Replication:
    name = call.params["replicationName"]
    for rep in registry.replications.values():
        if rep.name.lower() == name.lower():
            return rep
    raise not_found(
        f"{_PROVIDER}/registries/replications", f"{registry.name}/{name}", registry.resource_group
    )


@arm_route(
    "GET",
    "/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/registries",
    "registries.list",
)
async def list_registries(call: ArmCall) -> Response:
    registries = list_in_subscription(call, call.world.registries.values(), _READ)
    return page(call, [render_registry(r) for r in registries])


@arm_route("GET", _REG, "registries.list_by_resource_group")
async def list_registries_by_group(call: ArmCall) -> Response:
    return page(
        call, [render_registry(r) for r in list_in_group(call, call.world.registries.values(), _READ)]
    )


@arm_route("GET", _REG + "/{registryName}", "registries.get")
async def get_registry(call: ArmCall) -> Response:
    registry = _registry(call)
    check_action(call.world, registry.id, _READ)
    return ok(render_registry(registry))


@arm_route("PATCH", _REG + "/{registryName}", "registries.update")
async def update_registry(call: ArmCall) -> Response:
    registry = _registry(call)
    check_action(call.world, registry.id, _WRITE)
    body = await call.json()
    _reject_unknown(body, {"tags", "sku", "properties", "identity"}, "")
    changes: dict[str, Any] = {}
    if "tags" in body:
        if not isinstance(body["tags"], dict):
            raise SandboxHTTPError(400, "InvalidRequestContent", "tags must be an object.")
        changes["tags"] = {str(k): str(v) for k, v in body["tags"].items()}
    if body.get("sku") is not None:
        sku = (body["sku"] or {}).get("name")
        if sku not in _SKUS:
            raise SandboxHTTPError(
                400, "InvalidSku", f"The SKU '{sku}' is not valid. Valid SKUs: {', '.join(_SKUS)}."
            )
        if sku != "Premium" and len(registry.replications) > 1:
            raise SandboxHTTPError(
                400,
                "GeoReplicationNotSupported",
                "Geo-replication requires the Premium SKU; delete replications first.",
            )
        changes["sku"] = sku
    props = body.get("properties") or {}
    _reject_unknown(props, {"adminUserEnabled", "policies"}, "properties.")
    if "adminUserEnabled" in props:
        changes["admin_user_enabled"] = bool(props["adminUserEnabled"])
    policies = props.get("policies") or {}
    _reject_unknown(policies, {"quarantinePolicy"}, "properties.policies.")
    if "quarantinePolicy" in policies:
        status = (policies["quarantinePolicy"] or {}).get("status", "").lower()
        if status not in ("enabled", "disabled"):
            raise SandboxHTTPError(
                400, "InvalidRequestContent", "quarantinePolicy.status must be enabled or disabled."
            )
        changes["quarantine_enabled"] = status == "enabled"
    with call.world.lock:
        for key, value in changes.items():
            setattr(registry, key, value)
    return ok(render_registry(registry))


def _reject_unknown(body: dict[str, Any], allowed: set[str], prefix: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SandboxHTTPError(
            400,
            "UnsupportedBySandbox",
            f"The sandbox does not emulate changing {', '.join(prefix + k for k in unknown)}; "
            f"it supports {', '.join(prefix + k for k in sorted(allowed))}.",
        )


@arm_route("GET", _REG + "/{registryName}/replications", "replications.list")
async def list_replications(call: ArmCall) -> Response:
    registry = _registry(call)
    check_action(call.world, registry.id, _REP_READ)
    return page(
        call, [render_replication(registry, rep, call.world) for rep in registry.replications.values()]
    )


@arm_route("GET", _REG + "/{registryName}/replications/{replicationName}", "replications.get")
async def get_replication(call: ArmCall) -> Response:
    registry = _registry(call)
    check_action(call.world, registry.id + "/replications/" + call.params["replicationName"], _REP_READ)
    return ok(render_replication(registry, _replication(call, registry), call.world))


@arm_route("PUT", _REG + "/{registryName}/replications/{replicationName}", "replications.create")
async def create_replication(call: ArmCall) -> Response:
    return await _write_replication(call, create=True)


@arm_route("PATCH", _REG + "/{registryName}/replications/{replicationName}", "replications.update")
async def update_replication(call: ArmCall) -> Response:
    return await _write_replication(call, create=False)


async def _write_replication(call: ArmCall, *, create: bool) -> Response:
    registry = _registry(call)
    name = call.params["replicationName"]
    rep_id = f"{registry.id}/replications/{name}"
    check_action(call.world, rep_id, _REP_WRITE)
    check_home_region(call.world, registry)
    body = await call.json()
    props = body.get("properties") or {}
    engine = call.ctx.engine
    with call.world.lock:
        existing = next((r for r in registry.replications.values() if r.name.lower() == name.lower()), None)
        if existing is None and not create:
            raise not_found(
                f"{_PROVIDER}/registries/replications", f"{registry.name}/{name}", registry.resource_group
            )
        if registry.sku != "Premium":
            raise SandboxHTTPError(
                400,
                "GeoReplicationNotSupported",
                f"Geo-replication is not supported for the {registry.sku} SKU.",
            )
        busy = engine.in_progress(rep_id)
        if busy is not None:
            raise SandboxHTTPError(
                409,
                "OperationNotAllowed",
                f"Another operation ({busy.name}) is in progress on replication '{name}'.",
            )
        if existing is None:
            location = body.get("location")
            if not location:
                raise SandboxHTTPError(
                    400, "InvalidRequestContent", "location is required to create a replication."
                )
            existing = Replication(name=name, location=location, status="Creating")
            registry.replications[name] = existing
            status_code = 201
        else:
            existing.status = "Updating"
            status_code = 200
        replication = existing
        wanted_endpoint = props.get("regionEndpointEnabled")
        wanted_zone = props.get("zoneRedundancy")

        def finish() -> None:
            if wanted_endpoint is not None:
                replication.region_endpoint_enabled = bool(wanted_endpoint)
            if wanted_zone in ("Enabled", "Disabled"):
                replication.zone_redundancy = wanted_zone
            replication.status = "Succeeded"

        def fail(_: dict[str, str]) -> None:
            replication.status = "Failed"

        op = call.begin_operation(
            name="Updating" if status_code == 200 else "Creating",
            resource_id=rep_id,
            finish=finish,
            fail=fail,
        )
    headers = lro_headers(call, op, status_path=f"{rep_id}/operationStatuses", result_path=None)
    return ok(render_replication(registry, replication, call.world), status_code, headers)


@arm_route(
    "GET",
    _REG + "/{registryName}/replications/{replicationName}/operationStatuses/{operationId}",
    "replications.operation_status",
)
async def replication_operation_status(call: ArmCall) -> Response:
    _registry(call)
    return operation_status(call)
