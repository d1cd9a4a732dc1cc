"""The sandbox's control endpoints (``/_sandbox/...`` on the ARM port).

Tests, benchmarks and the ``ops sandbox`` commands steer and observe the running
sandbox through these; they need no token and bypass faults, throttling and the
request log:

- ``GET|POST|DELETE /_sandbox/faults``: list, add (one fault or a list), clear;
- ``GET|POST /_sandbox/clock``: read, or advance with ``{"advance": seconds}``;
- ``GET|DELETE /_sandbox/requests``: the request log, optionally ``?service=``;
- ``GET /_sandbox/state``: the current state in the estate-file format;
- ``GET|DELETE /_sandbox/events``: recorded Event Grid events (ImagePushed, ...);
- ``GET|PATCH /_sandbox/settings``: e.g. ``{"throttling": false, "lroSeconds": 0.2}``;
- ``POST /_sandbox/signals``: a cluster's SNAT demand and pending pods (``sandbox.arm.signals``);
- ``GET /_sandbox/health``;
- ``/_sandbox/regions``: impair and heal regions (``sandbox.failover.control``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.arm.lro import LroEngine
from sandbox.arm.signals import build_signal_routes
from sandbox.failover.control import build_region_routes
from sandbox.faults import Faults, parse_fault
from sandbox.http import SandboxHTTPError
from sandbox.world import World

_SETTING_KEYS = {
    "lroSeconds": "lro_seconds",
    "throttling": "throttling",
    "armPageSize": "arm_page_size",
    "seed": "seed",
    "requestLogLimit": "request_log_limit",
    "limits": "limits",
    "unreadableSubjectReferrers": "unreadable_subject_referrers",
    "defenderReadsLockedManifests": "defender_reads_locked_manifests",
}


def build_control_routes(world: World, *, faults: Faults, engine: LroEngine) -> list[Route]:
    async def read_json(request: Request) -> Any:
        try:
            return json.loads(await request.body() or b"null")
        except ValueError as exc:
            raise SandboxHTTPError(400, "InvalidRequestContent", f"not JSON: {exc}") from None

    async def faults_endpoint(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"faults": [f.to_dict() for f in world.faults]})
        if request.method == "DELETE":
            with world.lock:
                world.faults.clear()
            return Response(status_code=204)
        data = await read_json(request)
        items = data if isinstance(data, list) else [data]
        parsed = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise SandboxHTTPError(400, "InvalidFault", f"faults[{index}]: expected an object")
            try:
                parsed.append(parse_fault(item, path=f"faults[{index}]"))
            except ValueError as exc:
                raise SandboxHTTPError(400, "InvalidFault", str(exc)) from None
        with world.lock:
            world.faults.extend(parsed)
        return JSONResponse({"faults": [f.to_dict() for f in world.faults]}, 201)

    async def clock(request: Request) -> Response:
        if request.method == "POST":
            data = await read_json(request) or {}
            advance = data.get("advance") if isinstance(data, dict) else None
            if not isinstance(advance, int | float) or advance < 0:
                raise SandboxHTTPError(400, "InvalidClock", 'expected {"advance": seconds >= 0}')
            with world.lock:
                world.clock_offset += float(advance)
            engine.settle()
        return JSONResponse({"now": world.now().isoformat(), "offset": world.clock_offset})

    async def requests_endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            with world.lock:
                world.requests.clear()
            return Response(status_code=204)
        service = request.query_params.get("service")
        with world.lock:
            records = [r for r in world.requests if service is None or r.service == service]
        return JSONResponse(
            {
                "requests": [
                    {
                        "service": r.service,
                        "operation": r.operation,
                        "method": r.method,
                        "path": r.path,
                        "status": r.status,
                        "durationMs": round(r.duration_ms, 3),
                        "at": r.at,
                    }
                    for r in records
                ]
            }
        )

    async def state(request: Request) -> Response:
        from sandbox.estate import dump_estate

        engine.settle()
        return JSONResponse(dump_estate(world))

    async def events(request: Request) -> Response:
        if request.method == "DELETE":
            with world.lock:
                world.events.clear()
            return Response(status_code=204)
        with world.lock:
            return JSONResponse({"events": list(world.events)})

    async def settings(request: Request) -> Response:
        if request.method == "PATCH":
            data = await read_json(request)
            if not isinstance(data, dict):
                raise SandboxHTTPError(400, "InvalidSettings", "expected an object of settings")
            unknown = sorted(set(data) - set(_SETTING_KEYS))
            if unknown:
                raise SandboxHTTPError(
                    400, "InvalidSettings", f"unknown settings {unknown}; known: {sorted(_SETTING_KEYS)}"
                )
            from pydantic import ValidationError

            from sandbox.estate.building import settings_to_world
            from sandbox.estate.models import LimitsModel, SettingsModel

            try:
                SettingsModel.model_validate({k: v for k, v in data.items() if k != "limits"})
            except ValidationError as exc:
                raise SandboxHTTPError(400, "InvalidSettings", str(exc)) from None
            converted = {_SETTING_KEYS[key]: value for key, value in data.items()}
            if "limits" in converted:
                try:
                    limits = LimitsModel.model_validate(converted["limits"]).model_dump()
                except ValidationError as exc:
                    raise SandboxHTTPError(400, "InvalidSettings", f"limits: {exc}") from None
                converted["limits"] = settings_to_world({"limits": limits})["limits"]
            with world.lock:
                world.settings.update(converted)
        return JSONResponse({key: world.settings.get(name) for key, name in _SETTING_KEYS.items()})

    async def health(request: Request) -> Response:
        return JSONResponse(
            {"ok": True, "registries": len(world.registries), "clusters": len(world.clusters)}
        )

    return [
        Route("/_sandbox/faults", faults_endpoint, methods=["GET", "POST", "DELETE"], name="control.faults"),
        Route("/_sandbox/clock", clock, methods=["GET", "POST"], name="control.clock"),
        Route("/_sandbox/requests", requests_endpoint, methods=["GET", "DELETE"], name="control.requests"),
        Route("/_sandbox/state", state, methods=["GET"], name="control.state"),
        Route("/_sandbox/events", events, methods=["GET", "DELETE"], name="control.events"),
        Route("/_sandbox/settings", settings, methods=["GET", "PATCH"], name="control.settings"),
        Route("/_sandbox/health", health, methods=["GET"], name="control.health"),
        *build_signal_routes(world),
        *build_region_routes(world),
    ]
