"""``/_sandbox/regions``: impair and heal regions at run time, and find regional hosts.

- ``GET /_sandbox/regions``: every region's state (impaired, since when), each
  registry's regional endpoint per replica, each App Configuration store's endpoint,
  and what ARM does with replication writes while a home region is down;
- ``POST /_sandbox/regions/{region}`` with ``{"impaired": true|false}``: impair or heal;
- ``PATCH /_sandbox/regions`` with ``{"replicationWritesWhenHomeDown": "refuse"|"accept"}``.

Like every control endpoint, these need no token and bypass faults and the request log.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.failover.state import HOME_DOWN_POLICIES, region_key
from sandbox.http import SandboxHTTPError
from sandbox.world import World


def describe_regions(world: World) -> dict[str, Any]:
    state = world.failover
    with world.lock:
        return {
            "regions": {
                name: {
                    "impaired": region.impaired,
                    "changed": region.changed.isoformat() if region.changed else None,
                }
                for name, region in sorted(state.regions.items())
            },
            "regionalEndpoints": {
                registry.name: {
                    region_key(rep.location): f"127.0.0.1:{rep.port}"
                    for rep in registry.replications.values()
                    if rep.port
                }
                for registry in world.registries.values()
            },
            "appConfigurations": {store.name: store.endpoint for store in state.app_configs.values()},
            "replicationWritesWhenHomeDown": state.replication_writes_when_home_down,
        }


def build_region_routes(world: World) -> list[Route]:
    async def read_object(request: Request) -> dict[str, Any]:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            raise SandboxHTTPError(400, "InvalidRequestContent", f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise SandboxHTTPError(400, "InvalidRequestContent", "expected a JSON object")
        return data

    async def regions(request: Request) -> Response:
        if request.method == "PATCH":
            data = await read_object(request)
            unknown = sorted(set(data) - {"replicationWritesWhenHomeDown"})
            policy = data.get("replicationWritesWhenHomeDown")
            if unknown or policy not in HOME_DOWN_POLICIES:
                raise SandboxHTTPError(
                    400,
                    "InvalidRegions",
                    f'expected {{"replicationWritesWhenHomeDown": one of {list(HOME_DOWN_POLICIES)}}}',
                )
            with world.lock:
                world.failover.replication_writes_when_home_down = policy
        return JSONResponse(describe_regions(world))

    async def region(request: Request) -> Response:
        data = await read_object(request)
        impaired = data.get("impaired")
        if not isinstance(impaired, bool) or set(data) != {"impaired"}:
            raise SandboxHTTPError(400, "InvalidRegion", 'expected {"impaired": true} or {"impaired": false}')
        with world.lock:
            world.failover.set_impaired(request.path_params["region"], impaired, world.now())
        return JSONResponse(describe_regions(world))

    return [
        Route("/_sandbox/regions", regions, methods=["GET", "PATCH"], name="control.regions"),
        Route("/_sandbox/regions/{region}", region, methods=["POST"], name="control.region"),
    ]
