"""What every registry endpoint shares: the world, the registry, its tokens, its uploads.

One :class:`RegistryContext` per registry app; the route modules (``metadata``,
``distribution``, ``blobs``) build their handlers around it.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.acr.errors import bad_request, name_unknown
from sandbox.acr.events import Caller
from sandbox.acr.tokens import TokenAuthority, login_server
from sandbox.world import Registry, World

JSON_TYPE = "application/json; charset=utf-8"
API_VERSION_HEADER = {"Docker-Distribution-Api-Version": "registry/2.0"}


@dataclass(slots=True)
class Upload:
    """A blob upload session (``POST /v2/<name>/blobs/uploads/``) until its final PUT."""

    repository: str
    data: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class RegistryContext:
    world: World
    registry_name: str
    tokens: TokenAuthority
    uploads: dict[str, Upload] = field(default_factory=dict)

    @property
    def registry(self) -> Registry:
        registry = self.world.registries.get(self.registry_name)
        if registry is None:  # deleted through ARM while its port is still served
            raise name_unknown(self.registry_name)
        return registry

    def login_server(self, request: Request) -> str:
        return login_server(request, self.registry)

    def caller(self, request: Request, claims: dict[str, Any]) -> Caller:
        client = request.client
        return Caller(
            host=self.login_server(request),
            method=request.method,
            useragent=request.headers.get("user-agent", ""),
            actor=claims.get("sub"),
            request_id=request.headers.get("x-ms-client-request-id") or str(uuid.uuid4()),
            addr=f"{client.host}:{client.port}" if client else "",
        )


def json_response(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status, headers={**API_VERSION_HEADER, **(headers or {})}, media_type=JSON_TYPE)


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise bad_request(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body
