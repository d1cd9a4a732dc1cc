"""The ARM endpoint (``OPS_ARM_ENDPOINT``): one ASGI app for management calls.

It serves the Microsoft.ContainerRegistry and Microsoft.ContainerService routes
(``sandbox.arm.registries``, ``sandbox.arm.clusters``), the failover estate's
Microsoft.Cdn, Traffic Manager and Resource Health routes (``sandbox.failover``), the Resource Graph route
from ``sandbox.graph.routes`` and Log Analytics from ``sandbox.logs.routes`` when
those packages are present, and the ``/_sandbox`` control endpoints. A path the
sandbox does not emulate gets a 400 that says so, never a silent empty success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.arm import clusters, compute, metrics, network, registries, subscriptions
from sandbox.arm.control import build_control_routes
from sandbox.arm.lro import LroEngine
from sandbox.arm.routing import ROUTES, ArmCall, ArmContext, authenticate, check_api_version
from sandbox.failover import frontdoor, resourcehealth, trafficmanager
from sandbox.faults import Faults
from sandbox.http import SandboxHTTPError, azure_error
from sandbox.world import World

log = logging.getLogger(__name__)
# importing them registers their routes
_HANDLER_MODULES = (
    registries,
    clusters,
    network,
    compute,
    metrics,
    frontdoor,
    trafficmanager,
    resourcehealth,
    subscriptions,
)


class ArmApp:
    """ASGI app: control routes, optional graph/logs routes, then the ARM route table."""

    def __init__(
        self,
        world: World,
        *,
        faults: Faults,
        ca_pem: bytes,
        bind_resource: Callable[[str, str], int] | None = None,
    ) -> None:
        self.engine = LroEngine(world, faults)
        self.ctx = ArmContext(
            world=world, engine=self.engine, faults=faults, ca_pem=ca_pem, bind_resource=bind_resource
        )
        self.world = world
        self.control = _starlette(build_control_routes(world, faults=faults, engine=self.engine))
        self.graph = _optional_routes(world, "sandbox.graph.routes", "build_graph_routes")
        self.logs = _optional_routes(world, "sandbox.logs.routes", "build_logs_routes")
        self.eventgrid = _optional_routes(world, "sandbox.eventgrid", "build_eventgrid_routes")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        lowered = path.lower()
        if lowered.startswith("/_sandbox/"):
            await self.control(scope, receive, send)
            return
        if lowered == "/metadata/endpoints" and scope["method"] == "GET":
            await self._metadata(scope, receive, send)  # public, as ARM serves it
            return
        self.engine.settle()
        if lowered.startswith("/providers/microsoft.resourcegraph/") and self.graph is not None:
            await self.graph(scope, receive, send)
            return
        if lowered.startswith("/loganalytics/") and self.logs is not None:
            await self.logs(scope, receive, send)
            return
        if lowered.startswith("/eventgrid/") and self.eventgrid is not None:
            await self.eventgrid(scope, receive, send)  # the app's Event Grid topic (sandbox.eventgrid)
            return
        response = await self._dispatch(scope, receive, path)
        await response(scope, receive, send)

    async def _metadata(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = subscriptions.metadata_endpoints(
            str(request.base_url), request.query_params.get("api-version")
        )
        await JSONResponse(body)(scope, receive, send)

    async def _dispatch(self, scope: Any, receive: Any, path: str) -> Response:
        method = scope["method"]
        request = Request(scope, receive)
        allowed: list[str] = []
        try:
            for route in ROUTES:
                match = route.regex.match(path)
                if match is None:
                    continue
                if route.method != method:
                    allowed.append(route.method)
                    continue
                scope["route"] = route
                authenticate(request)
                call = ArmCall(request, match.groupdict(), self.ctx, check_api_version(request))
                return await route.handler(call)
            if allowed:
                raise SandboxHTTPError(
                    405,
                    "MethodNotAllowed",
                    f"The sandbox does not emulate {method} on {path} (it has: {', '.join(allowed)}).",
                )
            authenticate(request)
            raise SandboxHTTPError(
                400,
                "UnsupportedBySandbox",
                f"The sandbox does not emulate {method} {path}; see docs/estate.md.",
            )
        except SandboxHTTPError as exc:
            return exc.to_response()
        except Exception:  # an emulation bug must surface as a 500, as a real RP's would
            log.exception("ARM handler failed for %s %s", method, path)
            return azure_error(
                500, "InternalServerError", "The sandbox ARM handler failed; see the server log."
            )


def build_arm_app(
    world: World, *, faults: Faults, ca_pem: bytes, bind_resource: Callable[[str, str], int] | None = None
) -> ArmApp:
    return ArmApp(world, faults=faults, ca_pem=ca_pem, bind_resource=bind_resource)


def _starlette(routes: list[Any]) -> Starlette:
    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SandboxHTTPError)
        return exc.to_response()

    return Starlette(routes=routes, exception_handlers={SandboxHTTPError: on_error})


def _optional_routes(world: World, module: str, builder: str) -> Starlette | None:
    """Routes another part of the sandbox provides, if it is present in this build."""
    import importlib

    try:
        factory = getattr(importlib.import_module(module), builder)
    except (ImportError, AttributeError):
        return None
    return _starlette(factory(world))
