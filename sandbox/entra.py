"""Entra ID for the sandbox: OIDC discovery, a JWKS, and tokens for the app's HTTP API.

The app validates its HTTP callers' tokens as it would in Azure: it reads the
tenant's OpenID configuration, fetches the JWKS and checks an RS256 signature,
issuer, audience and expiry. This module serves those documents for the estate's
tenant at its own "login host" (``OPS_AUTH_AUTHORITY_HOST``), with the paths and
shapes of ``login.microsoftonline.com``:

- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` and the v1
  ``GET /{tenant}/.well-known/openid-configuration`` (issuers
  ``<authority>/<tid>/v2.0`` and ``https://sts.windows.net/<tid>/``);
- ``GET /{tenant}/discovery/v2.0/keys`` (and ``/common/…``): the key set;
- ``POST /{tenant}/oauth2/v2.0/token``: the client-credentials grant for a
  registered client (``scope=<api>/.default``); its app roles are the ones assigned
  to it, as Entra puts them in ``roles``. ``POST /{tenant}/oauth2/token`` is the v1
  form (``resource=…``), which issues v1 tokens.

Tests and ``ops sandbox token`` need tokens Entra would issue to other callers, so
the sandbox's control endpoints (under ``/_sandbox/entra``) mint a user or app token
with any roles and claims, register clients, rotate the signing key (the old one
leaves the key set unless asked to stay) and count the key-set fetches.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

TOKEN_TTL_S = 3600
API_APP_NAME = "acr-aks-ops-api"


def api_client_id(tenant_id: str) -> str:
    """The API app registration's client id in the sandbox tenant (stable for a tenant)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://sandbox/{tenant_id}/{API_APP_NAME}"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(slots=True)
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        der = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(kid=_b64(hashlib.sha1(der).digest()), private=private)  # like Entra's x5t

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()

        def encode(value: int) -> str:
            return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))

        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": encode(numbers.n),
            "e": encode(numbers.e),
        }


@dataclass(slots=True)
class Client:
    client_id: str
    secret: str
    display_name: str
    roles: list[str]
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))


class EntraTenant:
    """The sandbox tenant's directory: the API app, its clients, the signing keys."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.api_client_id = api_client_id(tenant_id)
        self.api_uri = f"api://{self.api_client_id}"
        self.keys: list[SigningKey] = [SigningKey.generate()]
        self.clients: dict[str, Client] = {}
        self.stats = {"jwksFetches": 0, "discoveryFetches": 0, "tokensIssued": 0}
        self.lock = threading.Lock()

    @property
    def signing(self) -> SigningKey:
        return self.keys[-1]

    def rotate(self, *, keep_previous: bool = False) -> str:
        key = SigningKey.generate()
        with self.lock:
            self.keys = [*self.keys, key] if keep_previous else [key]
        return key.kid

    def register(self, display_name: str, roles: list[str]) -> Client:
        client = Client(str(uuid.uuid4()), secrets.token_urlsafe(24), display_name, roles)
        with self.lock:
            self.clients[client.client_id] = client
        return client

    def mint(
        self,
        authority: str,
        *,
        roles: list[str],
        app: bool = False,
        version: str = "2.0",
        audience: str | None = None,
        ttl: int = TOKEN_TTL_S,
        tenant: str | None = None,
        client_id: str | None = None,
        object_id: str | None = None,
        name: str | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        """A token as Entra issues it for the API: v1 or v2, app-only or for a user."""
        tid = tenant or self.tenant_id
        now = int(time.time())
        client = client_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://sandbox/client/{name or 'app'}"))
        oid = object_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://sandbox/principal/{name or client}"))
        body: dict[str, Any] = {
            "aud": audience or (self.api_client_id if version == "2.0" else self.api_uri),
            "iss": f"{authority}/{tid}/v2.0" if version == "2.0" else f"https://sts.windows.net/{tid}/",
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "oid": oid,
            "sub": oid,
            "tid": tid,
            "uti": secrets.token_urlsafe(16),
            "ver": version,
            "roles": list(roles),
        }
        if version == "2.0":
            body |= {"azp": client, "azpacr": "1"}
        else:
            body |= {"appid": client, "appidacr": "1"}
        if app:
            body["idtyp"] = "app"
        else:
            user = name or "operator"
            body |= {"scp": "user_impersonation", "name": user.title(), "idtyp": "user"}
            body["preferred_username" if version == "2.0" else "upn"] = f"{user}@sandbox.example"
        body |= claims or {}
        with self.lock:
            key = self.signing
            self.stats["tokensIssued"] += 1
        return jwt.encode(body, key.private, algorithm="RS256", headers={"kid": key.kid, "x5t": key.kid})


def build_entra_app(tenant: EntraTenant, authority: Any) -> Starlette:
    """The login host; ``authority()`` is its own base URL (known once its port is bound)."""

    def known(request: Request) -> str | None:
        asked = request.path_params["tenant"]
        return (
            tenant.tenant_id
            if asked.lower() in (tenant.tenant_id.lower(), "common", "organizations")
            else None
        )

    async def discovery_v2(request: Request) -> JSONResponse:
        tid = known(request)
        if tid is None:
            return _no_tenant(request.path_params["tenant"])
        base = authority()
        tenant.stats["discoveryFetches"] += 1
        return JSONResponse(
            {
                "issuer": f"{base}/{tid}/v2.0",
                "authorization_endpoint": f"{base}/{tid}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/{tid}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/{tid}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "tenant_region_scope": "NA",
                "cloud_instance_name": "sandbox",
            }
        )

    async def discovery_v1(request: Request) -> JSONResponse:
        tid = known(request)
        if tid is None:
            return _no_tenant(request.path_params["tenant"])
        base = authority()
        tenant.stats["discoveryFetches"] += 1
        return JSONResponse(
            {
                "issuer": f"https://sts.windows.net/{tid}/",
                "authorization_endpoint": f"{base}/{tid}/oauth2/authorize",
                "token_endpoint": f"{base}/{tid}/oauth2/token",
                "jwks_uri": f"{base}/common/discovery/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "cloud_instance_name": "sandbox",
            }
        )

    async def keys(request: Request) -> JSONResponse:
        asked = request.path_params.get("tenant", "common")
        if asked != "common" and known(request) is None:
            return _no_tenant(asked)
        with tenant.lock:
            tenant.stats["jwksFetches"] += 1
            body = {"keys": [key.jwk() for key in tenant.keys]}
        return JSONResponse(body)

    async def token(request: Request) -> JSONResponse:
        tid = known(request)
        if tid is None:
            return _no_tenant(request.path_params["tenant"])
        # application/x-www-form-urlencoded, parsed here (Starlette's form parser needs a
        # multipart library the sandbox does not otherwise use).
        form = {
            k: v[-1]
            for k, v in urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace")).items()
        }
        v2 = request.url.path.endswith("/v2.0/token")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client = tenant.clients.get(str(form.get("client_id") or ""))
        if client is None:
            return _oauth_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if not secrets.compare_digest(str(form.get("client_secret") or ""), client.secret):
            return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if v2:
            scope = str(form.get("scope") or "")
            if not scope.endswith("/.default"):
                return _oauth_error(
                    400,
                    "invalid_scope",
                    1002012,
                    "The provided value for scope is not valid. Client credential flows must have a "
                    "scope value with /.default suffixed to the resource identifier.",
                )
            resource = scope.removesuffix("/.default")
        else:
            resource = str(form.get("resource") or "")
        if resource not in (tenant.api_client_id, tenant.api_uri):
            return _oauth_error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named {resource} was not found in the tenant.",
            )
        access = tenant.mint(
            authority(),
            roles=client.roles,
            app=True,
            version="2.0" if v2 else "1.0",
            audience=tenant.api_client_id if v2 else resource,
            client_id=client.client_id,
            object_id=client.object_id,
        )
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL_S,
                "ext_expires_in": TOKEN_TTL_S,
                "access_token": access,
            }
        )

    async def control_token(request: Request) -> JSONResponse:
        spec = await _json(request)
        access = tenant.mint(
            authority(),
            roles=[str(r) for r in spec.get("roles") or []],
            app=bool(spec.get("app")),
            version=str(spec.get("version") or "2.0"),
            audience=spec.get("audience"),
            ttl=int(spec.get("ttl", TOKEN_TTL_S)),
            tenant=spec.get("tenant"),
            name=spec.get("name"),
            claims=dict(spec.get("claims") or {}),
        )
        return JSONResponse({"access_token": access, "token_type": "Bearer"})

    async def control_rotate(request: Request) -> JSONResponse:
        spec = await _json(request)
        kid = tenant.rotate(keep_previous=bool(spec.get("keepPrevious")))
        return JSONResponse({"kid": kid})

    async def control_client(request: Request) -> JSONResponse:
        spec = await _json(request)
        client = tenant.register(
            str(spec.get("displayName") or "client"), [str(r) for r in spec.get("roles") or []]
        )
        return JSONResponse(
            {
                "clientId": client.client_id,
                "clientSecret": client.secret,
                "objectId": client.object_id,
                "roles": client.roles,
            }
        )

    async def control_info(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "tenantId": tenant.tenant_id,
                "apiClientId": tenant.api_client_id,
                "apiUri": tenant.api_uri,
                "authority": authority(),
                "kids": [k.kid for k in tenant.keys],
                **tenant.stats,
            }
        )

    return Starlette(
        routes=[
            Route("/{tenant}/v2.0/.well-known/openid-configuration", discovery_v2, methods=["GET"]),
            Route("/{tenant}/.well-known/openid-configuration", discovery_v1, methods=["GET"]),
            Route("/{tenant}/discovery/v2.0/keys", keys, methods=["GET"]),
            Route("/common/discovery/keys", keys, methods=["GET"]),
            Route("/{tenant}/discovery/keys", keys, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/token", token, methods=["POST"]),
            Route("/{tenant}/oauth2/token", token, methods=["POST"]),
            Route("/_sandbox/entra/token", control_token, methods=["POST"]),
            Route("/_sandbox/entra/rotate", control_rotate, methods=["POST"]),
            Route("/_sandbox/entra/clients", control_client, methods=["POST"]),
            Route("/_sandbox/entra", control_info, methods=["GET"]),
        ]
    )


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body:
        return {}
    import json

    value = json.loads(body)
    return value if isinstance(value, dict) else {}


def _oauth_error(status: int, error: str, code: int, description: str) -> JSONResponse:
    """The shape of Entra's token-endpoint errors."""
    return JSONResponse(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status,
    )


def _no_tenant(tenant: str) -> JSONResponse:
    return _oauth_error(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.")
