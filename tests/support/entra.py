"""Tokens from the sandbox's Entra tenant, for tests of the HTTP functions.

``mint(server, roles=[...], app=False, version="2.0", ttl=..., audience=..., tenant=...,
name=..., claims={...})`` asks the sandbox's control endpoint for a token Entra would
issue; ``rotate(server)`` rolls the signing key; ``entra_info(server)`` returns the
tenant, the API's client id and the key-set fetch count; ``bearer(token)`` is the
Authorization header.
"""

from __future__ import annotations

import json
import ssl
import urllib.request
from typing import Any

from sandbox.server import SandboxServer


def _call(server: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{server.authority}/_sandbox/entra{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"content-type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(server.tls.ca_cert))
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.loads(response.read())


def mint(server: SandboxServer, **spec: Any) -> str:
    token: str = _call(server, "POST", "/token", spec)["access_token"]
    return token


def rotate(server: SandboxServer, *, keep_previous: bool = False) -> str:
    kid: str = _call(server, "POST", "/rotate", {"keepPrevious": keep_previous})["kid"]
    return kid


def register_client(server: SandboxServer, roles: list[str], name: str = "client") -> dict[str, Any]:
    client: dict[str, Any] = _call(server, "POST", "/clients", {"roles": roles, "displayName": name})
    return client


def entra_info(server: SandboxServer) -> dict[str, Any]:
    info: dict[str, Any] = _call(server, "GET", "")
    return info


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
