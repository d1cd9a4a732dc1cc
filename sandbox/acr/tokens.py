"""ACR's token exchange, and the bearer checks in front of ``/acr/v1`` and ``/v2``.

ACR never accepts an Entra (AAD) token on its content APIs. A client first meets a
``401`` whose ``WWW-Authenticate: Bearer realm=...,service=...,scope=...`` names what
it needs, then trades its AAD token for an ACR refresh token at ``/oauth2/exchange``
and that for a scoped ACR access token at ``/oauth2/token``, and retries. The
azure-containerregistry ``ContainerRegistryChallengePolicy`` (``_exchange_client.py``,
api-version 2021-07-01, form-encoded bodies) and OCI clients (docker, oras: ``GET
/oauth2/token`` with Basic auth whose password is the refresh token) both run this
dance unmodified against these endpoints. Scope actions are ACR's: ``pull``, ``push``,
``delete``, ``metadata_read``, ``metadata_write``, and ``registry:catalog:*``.

Azure RBAC is checked when a request uses its token: ``sandbox.authz.check_action``
with the data action behind the scope (403 when the app's roles do not grant it).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from sandbox.acr.errors import RegistryError, bad_request
from sandbox.acr.listing import dump
from sandbox.http import (
    ACR_AUDIENCE,
    ARM_AUDIENCE,
    LEGACY_ARM_AUDIENCE,
    SandboxHTTPError,
    mint_token,
    verify_token,
)
from sandbox.world import Registry, World

#: ACR refresh tokens live three hours (Azure/acr-cli#641); access tokens less.
REFRESH_TTL = 3 * 3600
ACCESS_TTL = 3600
#: Azure RBAC data actions behind each ACR scope action (ABAC-mode names; the
#: built-in Acr* roles map onto them in ``sandbox.authz``).
DATA_ACTIONS = {
    "pull": "Microsoft.ContainerRegistry/registries/repositories/content/read",
    "push": "Microsoft.ContainerRegistry/registries/repositories/content/write",
    "delete": "Microsoft.ContainerRegistry/registries/repositories/content/delete",
    "metadata_read": "Microsoft.ContainerRegistry/registries/repositories/metadata/read",
    "metadata_write": "Microsoft.ContainerRegistry/registries/repositories/metadata/write",
    "*": "Microsoft.ContainerRegistry/registries/catalog/read",
}
QUARANTINE_READ = "Microsoft.ContainerRegistry/registries/quarantine/read"
QUARANTINE_WRITE = "Microsoft.ContainerRegistry/registries/quarantine/write"
_JSON = "application/json; charset=utf-8"
_AUTH_MESSAGE = "authentication required, visit https://aka.ms/acr/authorization for more information."


@dataclass(frozen=True, slots=True)
class Access:
    """What a request needs: ``repository:<name>:<action>`` or ``registry:catalog:*``."""

    type: str
    name: str
    action: str

    @property
    def scope(self) -> str:
        return f"{self.type}:{self.name}:{self.action}"


def catalog_access() -> Access:
    return Access("registry", "catalog", "*")


def repository_access(name: str, action: str) -> Access:
    return Access("repository", name, action)


def login_server(request: Request, registry: Registry) -> str:
    """The registry's login server as clients address it (``127.0.0.1:<port>``)."""
    host = request.headers.get("host")
    if host and any(rep.port and host.endswith(f":{rep.port}") for rep in registry.replications.values()):
        return host  # a regional endpoint: credentials are per host name, as in ACR
    if registry.port:
        return registry.login_server
    return host or registry.login_server


class TokenAuthority:
    """Issues and checks one registry's tokens."""

    def __init__(self, world: World, registry_name: str) -> None:
        self.world = world
        self.registry_name = registry_name
        # Verified access tokens, so a page of a long listing does not re-verify its HMAC.
        self._verified: dict[str, dict[str, Any]] = {}

    @property
    def registry(self) -> Registry:
        # Looked up per call: ARM may replace the Registry object (an update).
        return self.world.registries[self.registry_name]

    # -- /oauth2 ---------------------------------------------------------------------

    async def exchange(self, request: Request) -> Response:
        """``POST /oauth2/exchange``: an AAD access token for an ACR refresh token."""
        form = await _form(request)
        service = login_server(request, self.registry)
        grant = form.get("grant_type")
        if grant != "access_token":
            raise bad_request(f"grant_type {grant!r} is not supported; use access_token", code="UNSUPPORTED")
        self._check_service(form.get("service"), service)
        token = form.get("access_token")
        if not token:
            raise bad_request("access_token is required")
        claims = _verify_aad(token)
        refresh = mint_token(
            service,
            subject=str(claims.get("oid") or claims.get("sub")),
            tenant=str(claims.get("tid", "")),
            ttl=REFRESH_TTL,
            grant_type="refresh_token",
        )
        return _json({"refresh_token": refresh})

    async def token(self, request: Request) -> Response:
        """``POST /oauth2/token`` (SDK, docker) and ``GET`` (Basic auth): an ACR access token."""
        service = login_server(request, self.registry)
        if request.method == "GET":
            form = dict(parse_qsl(request.url.query, keep_blank_values=True))
            scopes = [v for k, v in parse_qsl(request.url.query) if k == "scope"]
            refresh = _basic_password(request.headers.get("authorization"))
        else:
            pairs = parse_qsl((await request.body()).decode(), keep_blank_values=True)
            form = dict(pairs)
            scopes = [v for k, v in pairs if k == "scope"]
            grant = form.get("grant_type", "refresh_token")
            if grant not in ("refresh_token", "password"):
                raise bad_request(f"grant_type {grant!r} is not supported", code="UNSUPPORTED")
            refresh = form.get("refresh_token") or form.get("password") or ""
        self._check_service(form.get("service"), service)
        if not refresh:
            # Anonymous pull is off on every sandbox registry, as on a new ACR.
            raise RegistryError(401, "UNAUTHORIZED", _AUTH_MESSAGE)
        try:
            claims = verify_token(refresh, audience=service)
        except SandboxHTTPError as exc:
            raise RegistryError(
                401, "UNAUTHORIZED", f"the refresh token is not valid: {exc.message}"
            ) from None
        if claims.get("grant_type") != "refresh_token":
            raise RegistryError(401, "UNAUTHORIZED", "the token is not an ACR refresh token")
        access = [_parse_scope(s) for raw in scopes for s in raw.split(" ") if s]
        token = mint_token(
            service,
            subject=str(claims.get("sub")),
            tenant=str(claims.get("tid", "")),
            ttl=ACCESS_TTL,
            access=access,
        )
        return _json({"access_token": token})

    def _check_service(self, asked: str | None, service: str) -> None:
        if asked and asked != service:
            raise bad_request(f"service {asked!r} does not match this registry ({service})")

    # -- resource requests -----------------------------------------------------------

    def authorize(self, request: Request, need: Access | None) -> dict[str, Any]:
        """The access token's claims if it grants ``need``; else ACR's 401 challenge.

        ``need`` None is ``GET /v2/``: any valid access token will do.
        """
        service = login_server(request, self.registry)
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise self._challenge(service, need, error=None)
        claims = self._verified.get(token)
        if claims is None or claims["exp"] < time.time():
            try:
                claims = verify_token(token, audience=service)
            except SandboxHTTPError:
                raise self._challenge(service, need, error="invalid_token") from None
            if "access" not in claims:
                raise self._challenge(service, need, error="invalid_token")
            if len(self._verified) > 4096:
                self._verified.clear()
            self._verified[token] = claims
        if need is not None and not _grants(claims["access"], need):
            raise self._challenge(service, need, error="insufficient_scope")
        if need is not None:
            check_rbac(self.world, self.registry, DATA_ACTIONS[need.action], principal=claims.get("sub"))
        return claims

    def _challenge(self, service: str, need: Access | None, *, error: str | None) -> RegistryError:
        header = f'Bearer realm="https://{service}/oauth2/token",service="{service}"'
        detail = None
        if need is not None:
            header += f',scope="{need.scope}"'
            detail = [{"Type": need.type, "Name": need.name, "Action": need.action}]
        if error:
            header += f',error="{error}"'
        return RegistryError(
            401, "UNAUTHORIZED", _AUTH_MESSAGE, detail=detail, headers={"WWW-Authenticate": header}
        )


def check_rbac(world: World, registry: Registry, action: str, *, principal: str | None = None) -> None:
    """403 AuthorizationFailed when the caller's role assignments do not grant ``action``
    (``principal``: the caller's object id, the ``sub`` of its token; None: the app)."""
    try:
        from sandbox.authz import check_action
    except ImportError:  # authorization emulation not present: everything is allowed
        return
    check_action(world, registry.id, action, principal)


def allows(world: World, registry: Registry, action: str, *, principal: str | None = None) -> bool:
    """Whether the caller's role assignments grant ``action`` (the app without assignments: all)."""
    try:
        from sandbox.authz import is_allowed
    except ImportError:
        return True
    return is_allowed(world, registry.id, action, principal)


def _grants(access: list[dict[str, Any]], need: Access) -> bool:
    for entry in access:
        if entry.get("type") == need.type and entry.get("name") == need.name:
            actions = entry.get("actions") or []
            if need.action in actions or "*" in actions:
                return True
    return False


def _parse_scope(raw: str) -> dict[str, Any]:
    kind, _, rest = raw.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name or not actions:
        raise bad_request(f"scope {raw!r} is not type:name:actions", code="UNSUPPORTED")
    return {"type": kind, "name": name, "actions": actions.split(",")}


def _verify_aad(token: str) -> dict[str, Any]:
    """ACR takes Entra tokens for its own audience and, as it always has, for ARM's."""
    failure: SandboxHTTPError | None = None
    for audience in (ACR_AUDIENCE, ARM_AUDIENCE, LEGACY_ARM_AUDIENCE):
        try:
            return verify_token(token, audience=audience)
        except SandboxHTTPError as exc:
            failure = failure or exc
    assert failure is not None
    raise RegistryError(401, "UNAUTHORIZED", failure.message)


def _basic_password(header: str | None) -> str:
    scheme, _, value = (header or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        return ""
    try:
        decoded = base64.b64decode(value).decode()
    except ValueError:
        return ""
    return decoded.partition(":")[2]


async def _form(request: Request) -> dict[str, str]:
    return dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def _json(body: dict[str, Any]) -> Response:
    return Response(dump(body), 200, media_type=_JSON)
