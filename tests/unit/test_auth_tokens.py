"""The pure Entra token validator (ops.auth.tokens) and role checks (ops.auth.access).

Keys are generated here and served by a dict behind the SigningKeys protocol.

Cases:
- a v2 app token and a v1 user token are accepted; the caller carries oid, azp/appid,
  tid, kind (app/user), name and roles; both audiences (client id, api:// URI) pass;
- refused, each with a reason for the log and one safe message for the caller: expired
  (beyond the leeway; within it, accepted), not yet valid, wrong audience, wrong issuer,
  another tenant's tid with this tenant's issuer, a key id the tenant does not have, a
  signature by another key under a known kid, no kid, alg none, HS256 signed with the
  public key, a malformed token, an oversized token, roles that are not a list of
  strings, no oid;
- bearer parsing: no header (challenge without an error code), another scheme, an
  empty token, and header names in any case;
- roles: require() returns the caller noting the roles used; a missing role is
  NotPermitted naming it; the audit view names oid, appid, name and the roles used.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ops.auth import DEFAULT_ROLE_NAMES, Authenticator, Role, TokenPolicy, bearer_token, validate_token
from ops.auth.tokens import INVALID
from ops.errors import NotPermitted, Unauthenticated

TENANT = "72f988bf-0000-4000-8000-000000000001"
OTHER_TENANT = "11111111-0000-4000-8000-000000000002"
API = "3c1b2e4d-0000-4000-8000-0000000a0b1e"
AUTHORITY = "https://login.example"
V2_ISSUER = f"{AUTHORITY}/{TENANT}/v2.0"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
POLICY = TokenPolicy(tenant_id=TENANT, audiences=(API, f"api://{API}"))
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Keys:
    """SigningKeys over a dict."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys

    def signing_key(self, kid: str) -> Any | None:
        return self.keys.get(kid)

    def issuers(self) -> tuple[str, ...]:
        return (V2_ISSUER, V1_ISSUER)


KEYS = Keys({"k1": KEY.public_key()})


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "aud": API,
        "iss": V2_ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "oid": "0b5e3c1d-0000-4000-8000-0000000000aa",
        "sub": "0b5e3c1d-0000-4000-8000-0000000000aa",
        "tid": TENANT,
        "azp": "5a5a5a5a-0000-4000-8000-0000000000bb",
        "ver": "2.0",
        "roles": ["Ops.Read"],
        "idtyp": "app",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def sign(body: dict[str, Any], *, key: Any = KEY, kid: str | None = "k1", alg: str = "RS256") -> str:
    headers = {} if kid is None else {"kid": kid}
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def refused(token: str) -> str:
    with pytest.raises(Unauthenticated) as raised:
        validate_token(token, keys=KEYS, policy=POLICY)
    assert str(raised.value) == INVALID  # the caller never learns which check failed
    return raised.value.reason


def test_a_v2_app_token_names_the_caller() -> None:
    caller = validate_token(sign(claims()), keys=KEYS, policy=POLICY)
    assert caller.kind == "app" and caller.token_version == "2.0"
    assert caller.object_id == "0b5e3c1d-0000-4000-8000-0000000000aa"
    assert caller.app_id == "5a5a5a5a-0000-4000-8000-0000000000bb"
    assert caller.tenant_id == TENANT and caller.roles == {"Ops.Read"} and caller.name is None


def test_a_v1_user_token_with_the_api_uri_audience() -> None:
    body = claims(
        aud=f"api://{API}",
        iss=V1_ISSUER,
        ver="1.0",
        azp=None,
        appid="c1c1c1c1-0000-4000-8000-00000000000c",
        idtyp=None,
        scp="user_impersonation",
        name="Dana Ops",
        roles=["Ops.Operate", "Ops.Read"],
    )
    caller = validate_token(sign(body), keys=KEYS, policy=POLICY)
    assert caller.kind == "user" and caller.name == "Dana Ops" and caller.token_version == "1.0"
    assert caller.app_id == "c1c1c1c1-0000-4000-8000-00000000000c"
    assert caller.roles == {"Ops.Operate", "Ops.Read"}


def test_expiry_allows_a_small_leeway_only() -> None:
    now = int(time.time())
    assert validate_token(sign(claims(exp=now - 30)), keys=KEYS, policy=POLICY)
    assert refused(sign(claims(exp=now - 120))) == "token expired"
    assert "ImmatureSignatureError" in refused(sign(claims(nbf=now + 600)))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (claims(aud="https://management.azure.com"), "wrong audience"),
        (claims(aud=f"api://{OTHER_TENANT}"), "wrong audience"),
        (claims(iss=f"{AUTHORITY}/{OTHER_TENANT}/v2.0", tid=OTHER_TENANT), "wrong issuer"),
        (claims(iss="https://sts.windows.net/common/"), "wrong issuer"),
        (claims(tid=OTHER_TENANT), "token from another tenant"),
        (claims(roles="Ops.Operate"), "roles claim is not a list of strings"),
        (claims(oid=None, sub=None), "token names no principal (oid)"),
        (claims(exp=None), 'MissingRequiredClaimError: Token is missing the "exp" claim'),
    ],
    ids=[
        "audience-arm",
        "audience-other-api",
        "issuer-other-tenant",
        "issuer-common",
        "tid",
        "roles-string",
        "no-oid",
        "no-exp",
    ],
)
def test_claims_that_are_refused(body: dict[str, Any], reason: str) -> None:
    assert refused(sign(body)) == reason


def test_a_key_the_tenant_does_not_have_is_refused() -> None:
    assert refused(sign(claims(), key=OTHER_KEY, kid="k9")) == "unknown signing key 'k9'"


def test_another_key_under_a_known_kid_fails_the_signature() -> None:
    assert refused(sign(claims(), key=OTHER_KEY, kid="k1")).startswith("InvalidSignatureError")


def test_a_token_without_kid_is_refused() -> None:
    assert refused(sign(claims(), kid=None)) == "no key id (kid) in the token header"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_alg_none_is_refused_before_any_key_is_used() -> None:
    head = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": "k1"}).encode())
    token = f"{head}.{_b64(json.dumps(claims()).encode())}."
    assert refused(token) == "algorithm 'none' is not allowed"


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    import hashlib
    import hmac

    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "k1"}).encode())
    payload = _b64(json.dumps(claims()).encode())
    signature = hmac.new(public_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    assert refused(f"{head}.{payload}.{_b64(signature)}") == "algorithm 'HS256' is not allowed"


def test_malformed_and_oversized_tokens_are_refused() -> None:
    assert refused("not-a-jwt").startswith("malformed token")
    assert refused("x" * 20_000) == "token empty or too long"


def test_bearer_parsing() -> None:
    assert bearer_token({"AUTHORIZATION": "Bearer abc.def.ghi"}) == "abc.def.ghi"
    with pytest.raises(Unauthenticated) as missing:
        bearer_token({})
    assert missing.value.challenge == "" and "Bearer" in str(missing.value)
    for value in ("Basic dXNlcjpwdw==", "Bearer ", "Bearer"):
        with pytest.raises(Unauthenticated) as bad:
            bearer_token({"authorization": value})
        assert bad.value.challenge == "invalid_token"


def test_roles_decide_and_the_audit_names_the_caller() -> None:
    authenticator = Authenticator(keys=KEYS, policy=POLICY, role_names=DEFAULT_ROLE_NAMES)
    token = sign(claims(roles=["Ops.Read", "Ops.Operate"], name="Build Bot"))
    caller = authenticator.require({"Authorization": f"Bearer {token}"}, Role.OPERATE)
    assert caller.roles_used == ("Ops.Operate",)
    assert caller.to_audit() == {
        "oid": "0b5e3c1d-0000-4000-8000-0000000000aa",
        "appid": "5a5a5a5a-0000-4000-8000-0000000000bb",
        "tid": TENANT,
        "kind": "app",
        "name": "Build Bot",
        "roles": ["Ops.Operate"],
    }
    with pytest.raises(NotPermitted) as denied:
        authenticator.require({"authorization": f"Bearer {token}"}, Role.APPROVE)
    assert denied.value.role == "Ops.Approve"
