"""The App Service managed-identity endpoint: where every sandbox token comes from.

The product authenticates with ``ManagedIdentityCredential()`` (directly or inside
``DefaultAzureCredential()``). With ``IDENTITY_ENDPOINT`` and ``IDENTITY_HEADER`` set,
azure-identity (through MSAL) speaks the App Service protocol::

    GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<audience>[&client_id=...]
    X-IDENTITY-HEADER: <secret>

and expects ``{"access_token", "expires_on", "resource", "token_type", "client_id"}``,
with ``expires_on`` in epoch seconds, or on error ``{"statusCode", "message"}``. The
tokens are JWT-shaped and carry the requested resource as their audience, so every
other endpoint can reject a token minted for the wrong service, as Azure does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.http import mint_token
from sandbox.world import Identity, World

IDENTITY_PATH = "/msi/token"
API_VERSION = "2019-08-01"
TOKEN_TTL_S = 24 * 3600  # App Service tokens live about a day


def build_identity_app(world: World, *, secret: str) -> Starlette:
    """The identity endpoint for ``world.identity``; ``secret`` is IDENTITY_HEADER's value."""

    async def issue_token(request: Request) -> JSONResponse:
        if request.headers.get("x-identity-header") != secret:
            return _failure(401, "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.")
        params = request.query_params
        if params.get("api-version") != API_VERSION:
            return _failure(400, f"api-version must be {API_VERSION}, got {params.get('api-version')!r}.")
        resource = params.get("resource")
        if not resource:
            return _failure(400, "The 'resource' query parameter is required.")
        identity = _choose_identity(world, params)
        if identity is None:
            return _failure(
                400,
                "No User Assigned or Delegated Managed Identity found for specified "
                "ClientId/ResourceId/PrincipalId.",
            )
        if params.get("mi_res_id"):
            return _failure(
                400, "No User Assigned or Delegated Managed Identity found for specified ResourceId."
            )
        expires_on = int(time.time()) + TOKEN_TTL_S
        token = mint_token(
            resource,
            subject=identity.principal_id,
            tenant=identity.tenant_id,
            ttl=TOKEN_TTL_S,
            appid=identity.client_id,
            idtyp="app",
        )
        return JSONResponse(
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": identity.client_id,
            }
        )

    return Starlette(routes=[Route(IDENTITY_PATH, issue_token, methods=["GET"], name="identity.token")])


def _choose_identity(world: World, params: Mapping[str, str]) -> Identity | None:
    """The identity a request names by ``client_id``, ``object_id`` or ``principal_id`` (the
    app's when it names none): the app's own, or another one the host has assigned (a CI
    signer's, in tests); None when it names one the host does not have."""
    candidates = [world.identity, *world.identities]
    for key, attribute in (
        ("client_id", "client_id"),
        ("object_id", "principal_id"),
        ("principal_id", "principal_id"),
    ):
        asked = params.get(key)
        if asked:
            return next((i for i in candidates if getattr(i, attribute).lower() == asked.lower()), None)
    return world.identity


def _failure(status: int, message: str) -> JSONResponse:
    return JSONResponse({"statusCode": status, "message": message, "correlationId": "sandbox"}, status)
