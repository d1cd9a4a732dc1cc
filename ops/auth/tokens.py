"""Entra ID access-token validation: pure, given the signing keys and what to expect.

Every HTTP function is anonymous at the Functions level and validates the bearer
token here, with PyJWT:

- the algorithm is fixed (RS256): a header asking for ``none`` or HS256 is refused
  before any key is looked at, so the public key can never serve as an HMAC secret;
- the signature must verify with the tenant's key named by ``kid`` (the keys come
  from :class:`SigningKeys`, an adapter that fetches and caches the JWKS);
- ``iss`` must be one of the tenant's issuers, v1 (``https://sts.windows.net/<tid>/``)
  or v2 (``<authority>/<tid>/v2.0``), as the tenant's OIDC discovery documents name them;
- ``aud`` must be the API's client id (v2) or its application id URI (``api://…``, v1);
- ``exp`` and ``nbf`` are checked with a small leeway for clock skew, and ``tid``
  must be the configured tenant.

Every refusal is :class:`ops.errors.Unauthenticated` with a message safe for the
caller and a ``reason`` for the app's log. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from ops.auth.callers import Caller
from ops.errors import Unauthenticated

ALGORITHMS = ("RS256",)
#: Clock skew allowed on exp and nbf, in seconds.
LEEWAY_S = 60
#: Refuse absurd headers before parsing them (Entra tokens are a few KB).
MAX_TOKEN_CHARS = 16_384

INVALID = "The access token is missing, expired or not valid for this API."


class SigningKeys(Protocol):
    """The tenant's token-signing keys and issuers (``ops.adapters.entra`` fetches them)."""

    def signing_key(self, kid: str) -> Any | None:
        """The public key with id ``kid``, or None when the tenant has no such key."""
        ...

    def issuers(self) -> Collection[str]:
        """The tenant's accepted ``iss`` values (v1 and v2)."""
        ...


@dataclass(frozen=True, slots=True)
class TokenPolicy:
    """What a valid token must say: the tenant and the API's audiences."""

    tenant_id: str
    audiences: tuple[str, ...]
    leeway_s: int = LEEWAY_S


def validate_token(token: str, *, keys: SigningKeys, policy: TokenPolicy) -> Caller:
    """The caller a token proves; Unauthenticated when any check fails.

    PyJWT checks ``exp`` and ``nbf`` against the real clock, with ``policy.leeway_s``.
    """
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated(INVALID, reason="token empty or too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(INVALID, reason=f"malformed token: {exc}") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise Unauthenticated(INVALID, reason=f"algorithm {algorithm!r} is not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthenticated(INVALID, reason="no key id (kid) in the token header")
    key = keys.signing_key(kid)
    if key is None:
        raise Unauthenticated(INVALID, reason=f"unknown signing key {kid!r}")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(ALGORITHMS),
            audience=list(policy.audiences),
            issuer=list(keys.issuers()),
            leeway=policy.leeway_s,
            options={
                "require": ["exp", "iss", "aud"],
                "verify_iat": False,  # Entra sets iat; a skewed iat is not a reason to refuse
            },
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated(INVALID, reason="token expired") from None
    except jwt.InvalidAudienceError:
        raise Unauthenticated(INVALID, reason="wrong audience") from None
    except jwt.InvalidIssuerError:
        raise Unauthenticated(INVALID, reason="wrong issuer") from None
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated(INVALID, reason=f"{type(exc).__name__}: {exc}") from None
    if str(claims.get("tid", "")).lower() != policy.tenant_id.lower():
        raise Unauthenticated(INVALID, reason="token from another tenant")
    return caller_from_claims(claims)


def caller_from_claims(claims: dict[str, Any]) -> Caller:
    """The caller named by validated claims (v1 and v2 tokens name the client differently)."""
    object_id = str(claims.get("oid") or claims.get("sub") or "")
    if not object_id:
        raise Unauthenticated(INVALID, reason="token names no principal (oid)")
    app_id = str(claims.get("azp") or claims.get("appid") or "")
    roles = claims.get("roles") or []
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise Unauthenticated(INVALID, reason="roles claim is not a list of strings")
    # idtyp=app marks an app-only token when the API asks for it; without it, an app-only
    # token is the one with no scp (delegated scopes) claim.
    kind = "app" if claims.get("idtyp") == "app" or "scp" not in claims else "user"
    name = claims.get("name") or claims.get("preferred_username") or claims.get("upn")
    return Caller(
        object_id=object_id,
        app_id=app_id,
        tenant_id=str(claims.get("tid", "")),
        kind=kind,
        roles=frozenset(roles),
        name=str(name) if name else None,
        token_version=str(claims.get("ver") or ""),
    )
