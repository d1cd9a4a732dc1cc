"""One registry's data plane: the app served on that registry's port (its login server).

``build_registry_app(world, name)`` is what ``sandbox.server`` mounts for each
:class:`sandbox.world.Registry`: the token exchange (``/oauth2``), ACR's metadata API
(``/acr/v1``) and the OCI distribution API (``/v2``), all over one
:class:`~sandbox.acr.context.RegistryContext`. Every failure leaves as ACR's
``{"errors": [...]}`` body (see ``sandbox.acr.errors``).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from sandbox.acr.blobs import blob_routes
from sandbox.acr.context import RegistryContext
from sandbox.acr.distribution import distribution_routes
from sandbox.acr.errors import handle_error
from sandbox.acr.metadata import metadata_routes
from sandbox.acr.tokens import TokenAuthority
from sandbox.http import SandboxHTTPError
from sandbox.world import World


def build_registry_app(world: World, registry_name: str) -> Starlette:
    """The ASGI app for ``world.registries[registry_name]``."""
    if registry_name not in world.registries:
        raise KeyError(f"no registry named {registry_name!r} in this world")
    tokens = TokenAuthority(world, registry_name)
    ctx = RegistryContext(world, registry_name, tokens)
    routes = [
        Route("/oauth2/exchange", tokens.exchange, methods=["POST"], name="oauth2.exchange"),
        Route("/oauth2/token", tokens.token, methods=["GET", "POST"], name="oauth2.token"),
        *metadata_routes(ctx),
        *distribution_routes(ctx),
        *blob_routes(ctx),
    ]
    return Starlette(routes=routes, exception_handlers={SandboxHTTPError: handle_error})
