"""What every sandbox endpoint shares: Azure-shaped errors and bearer tokens.

Tokens are JWT-shaped (header.claims.signature, HS256 with a per-process key) so
that SDKs and MSAL, which peek at claims, accept them, and so that every
endpoint can check the audience exactly as Azure does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_KEY = os.urandom(32)

#: Audiences the sandbox knows, as Azure names them.
ARM_AUDIENCE = "https://management.azure.com"
# ARM (and Resource Graph, and ACR's token exchange) also take the classic management
# audience, which the az CLI and older SDKs ask for.
LEGACY_ARM_AUDIENCE = "https://management.core.windows.net"
ACR_AUDIENCE = "https://containerregistry.azure.net"
AKS_AUDIENCE = "6dae42f8-4368-4678-94ff-3960e28e3630"
LOGS_AUDIENCE = "https://api.loganalytics.io"
EVENTGRID_AUDIENCE = "https://eventgrid.azure.net"
STORAGE_AUDIENCE = "https://storage.azure.com"


class SandboxHTTPError(Exception):
    """Raised inside a handler; the server turns it into an Azure-shaped response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def to_response(self) -> Response:
        return azure_error(self.status, self.code, self.message, self.headers)


def azure_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """ARM's error body: ``{"error": {"code", "message"}}``."""
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint_token(audience: str, *, subject: str, tenant: str, ttl: int = 3600, **claims: Any) -> str:
    """A signed JWT for ``audience``. ``claims`` adds custom claims (e.g. ACR access)."""
    now = int(time.time())
    body = {
        "aud": audience.rstrip("/"),
        "iss": f"https://sts.windows.net/{tenant}/",
        "iat": now,
        "nbf": now - 5,
        "exp": now + ttl,
        "oid": subject,
        "sub": subject,
        "tid": tenant,
        **claims,
    }
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    sig = hmac.new(_KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{_b64(sig)}"


def verify_arm_token(token: str) -> dict[str, Any]:
    """Claims of a token for either of ARM's audiences."""
    try:
        return verify_token(token, audience=ARM_AUDIENCE)
    except SandboxHTTPError as exc:
        if exc.code != "InvalidAuthenticationTokenAudience":
            raise
        return verify_token(token, audience=LEGACY_ARM_AUDIENCE)


def require_arm_bearer(request: Request) -> dict[str, Any]:
    """``require_bearer`` for ARM-plane endpoints, which accept both management audiences."""
    try:
        return require_bearer(request, audience=ARM_AUDIENCE)
    except SandboxHTTPError as exc:
        if exc.code != "InvalidAuthenticationTokenAudience":
            raise
        return require_bearer(request, audience=LEGACY_ARM_AUDIENCE)


def verify_token(token: str, *, audience: str) -> dict[str, Any]:
    """The token's claims, or SandboxHTTPError(401) shaped like Azure's answer."""
    try:
        head, payload, sig = token.split(".")
        expected = hmac.new(_KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(sig)):
            raise ValueError("bad signature")
        claims: dict[str, Any] = json.loads(_unb64(payload))
    except ValueError as exc:
        raise SandboxHTTPError(401, "InvalidAuthenticationToken", "The access token is invalid.") from exc
    if claims.get("exp", 0) < time.time():
        raise SandboxHTTPError(
            401,
            "ExpiredAuthenticationToken",
            "The access token expiry UTC time is earlier than current UTC time.",
        )
    want = {audience.rstrip("/"), audience.rstrip("/") + "/"}
    if claims.get("aud") not in want:
        raise SandboxHTTPError(
            401,
            "InvalidAuthenticationTokenAudience",
            f"The access token has been obtained for wrong audience or resource '{claims.get('aud')}'. "
            f"It should exactly match with one of the allowed audiences '{audience}'.",
        )
    return claims


def require_bearer(request: Request, *, audience: str) -> dict[str, Any]:
    """Check ``Authorization: Bearer`` on a request; 401 with Azure's shape otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise SandboxHTTPError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            {
                "WWW-Authenticate": f'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                f'error="invalid_token", resource_id="{audience}"'
            },
        )
    return verify_token(token, audience=audience)
