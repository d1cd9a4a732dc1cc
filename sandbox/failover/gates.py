"""What an impaired region does to the endpoints in it.

- A registry's regional endpoint (one host per replica) and a cluster's API server
  stop answering while their region is impaired: the connection is reset, as a dead
  regional front end does.
- The registry's global endpoint keeps routing clients to every replica whose
  ``regionEndpointEnabled`` is true, so while one of those sits in an impaired region
  it fails requests with 503 (Azure/acr#842); disabling that replica's routing ends it.
- ARM refuses a replication write while the registry's home region is impaired,
  unless the estate says ``replicationWritesWhenHomeDown: accept``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.faults import _reset_connection
from sandbox.http import SandboxHTTPError, azure_error
from sandbox.world import Registry, World

ASGIApp = Callable[[Any, Any, Any], Any]


class RegionGate:
    """Resets every connection to ``app`` while ``region()`` is impaired."""

    def __init__(self, app: ASGIApp, *, world: World, region: Callable[[], str]) -> None:
        self.app = app
        self.world = world
        self.region = region

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self.world.failover.is_impaired(self.region()):
            await _reset_connection(send)
            return
        await self.app(scope, receive, send)


def impaired_routes(world: World, registry: Registry) -> list[str]:
    """Regions of replicas that global routing still sends clients to, though impaired."""
    state = world.failover
    return sorted(
        rep.location
        for rep in registry.replications.values()
        if rep.region_endpoint_enabled and state.is_impaired(rep.location)
    )


class GlobalRoutingGate:
    """The global login server: fails while it routes to a replica in an impaired region."""

    def __init__(self, app: ASGIApp, *, world: World, registry: Callable[[], Registry]) -> None:
        self.app = app
        self.world = world
        self.registry = registry

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            regions = impaired_routes(self.world, self.registry())
            if regions:
                response = azure_error(
                    503,
                    "ServiceUnavailable",
                    f"The registry's replica in {', '.join(regions)} is unavailable; "
                    "requests routed to it fail.",
                    {"Retry-After": "10"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def check_home_region(world: World, registry: Registry) -> None:
    """Refuse a replication write while the registry's home region is impaired (if so configured)."""
    state = world.failover
    if state.is_impaired(registry.location) and state.replication_writes_when_home_down == "refuse":
        raise SandboxHTTPError(
            503,
            "ServiceUnavailable",
            f"The registry '{registry.name}' cannot be updated now: its home region "
            f"{registry.location} is unavailable. Please try again later.",
            {"Retry-After": "60"},
        )
