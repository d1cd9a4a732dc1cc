"""A stopped cluster's API server does not answer.

In Azure, a stopped AKS cluster has no control plane: clients get a connection
error, never an HTTP response. The sandbox keeps one listener for every port, so it
emulates this per request: while ``cluster.power_state != "Running"`` the connection
is aborted before any byte of a response is written. The client (urllib3 under the
kubernetes client) sees the server drop the connection, retries, and raises a
connection error, which is what the product must handle.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.world import World


async def drop_connection(receive: Receive) -> None:
    """Abort the client connection without a response.

    ASGI has no "close without answering" message, and an app that returns without
    responding makes the server send a 500. uvicorn's ``receive`` is a bound method of
    its request cycle, which holds the transport; aborting it makes uvicorn see a
    disconnect and write nothing. Under a server without a reachable transport (an
    in-process test client) the request fails with ConnectionResetError instead.
    """
    cycle: Any = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ConnectionResetError("the cluster's API server is not running")
    transport.abort()
    # The protocol learns of the abort a few loop turns later; tell the cycle now, so the
    # server does not try to write its "no response started" 500 to a dead connection.
    if hasattr(cycle, "disconnected"):
        cycle.disconnected = True
    await asyncio.sleep(0)


class StoppedClusterGate:
    """ASGI middleware: requests to a cluster that is not Running get no answer."""

    def __init__(self, app: ASGIApp, *, world: World, cluster_name: str) -> None:
        self.app = app
        self.world = world
        self.cluster_name = cluster_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            cluster = self.world.clusters.get(self.cluster_name)
            if cluster is None or cluster.power_state != "Running":
                await drop_connection(receive)
                return
        await self.app(scope, receive, send)
