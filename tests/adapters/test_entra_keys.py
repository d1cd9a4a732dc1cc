"""The signing-key adapter (ops.adapters.entra) against the sandbox's Entra tenant.

Cases: discovery yields both issuers (v2 at the authority, v1 at sts.windows.net) and
the key set; many lookups of a known key fetch the key set once; a token signed after
a key rotation is validated after one refresh, and tokens of the retired key are then
refused (or still accepted when the rollover keeps the old key published); a token signed by a key the tenant
never published is refused, and asking again for that key id fetches nothing more;
invented key ids refresh at most a few times a minute (injected clock and fetcher);
the sandbox's client-credentials endpoint issues tokens to a registered client with its
assigned roles, and refuses a wrong secret and a scope without /.default.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ops.adapters.entra import REFRESHES_PER_MINUTE, EntraKeys
from ops.auth import TokenPolicy, validate_token
from ops.errors import Unauthenticated
from sandbox.server import SandboxServer
from tests.support.entra import entra_info, mint, register_client, rotate
from tests.support.sandbox import MINIMAL_ESTATE, serve_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_sandbox(MINIMAL_ESTATE, tmp_path_factory.mktemp("entra")) as server:
        yield server


def policy(server: SandboxServer) -> TokenPolicy:
    api = server.entra.api_client_id
    return TokenPolicy(tenant_id=server.entra.tenant_id, audiences=(api, f"api://{api}"))


def test_discovery_names_both_issuers_and_the_keys(sandbox: SandboxServer) -> None:
    keys = EntraKeys(sandbox.authority, sandbox.entra.tenant_id)
    tid = sandbox.entra.tenant_id
    assert set(keys.issuers()) == {f"{sandbox.authority}/{tid}/v2.0", f"https://sts.windows.net/{tid}/"}
    assert keys.signing_key(sandbox.entra.signing.kid) is not None
    assert keys.jwks_fetches == 1


def test_known_keys_are_fetched_once(sandbox: SandboxServer) -> None:
    keys = EntraKeys(sandbox.authority, sandbox.entra.tenant_id)
    before = entra_info(sandbox)["jwksFetches"]
    for version in ("2.0", "1.0") * 25:
        token = mint(sandbox, roles=["Ops.Read"], version=version)
        assert validate_token(token, keys=keys, policy=policy(sandbox)).roles == {"Ops.Read"}
    assert keys.jwks_fetches == 1
    assert entra_info(sandbox)["jwksFetches"] - before == 1


def test_a_rotated_key_is_picked_up_with_one_refresh(sandbox: SandboxServer) -> None:
    keys = EntraKeys(sandbox.authority, sandbox.entra.tenant_id)
    old = mint(sandbox, roles=["Ops.Read"])
    validate_token(old, keys=keys, policy=policy(sandbox))
    rotate(sandbox)
    new = mint(sandbox, roles=["Ops.Read"])
    assert validate_token(new, keys=keys, policy=policy(sandbox)).roles == {"Ops.Read"}
    assert keys.jwks_fetches == 2
    # The refreshed set no longer has the retired key: tokens it signed are refused now.
    with pytest.raises(Unauthenticated):
        validate_token(old, keys=keys, policy=policy(sandbox))


def test_a_key_kept_through_a_rollover_stays_valid(sandbox: SandboxServer) -> None:
    keys = EntraKeys(sandbox.authority, sandbox.entra.tenant_id)
    old = mint(sandbox, roles=["Ops.Read"])
    validate_token(old, keys=keys, policy=policy(sandbox))
    rotate(sandbox, keep_previous=True)
    validate_token(mint(sandbox, roles=["Ops.Read"]), keys=keys, policy=policy(sandbox))
    assert validate_token(old, keys=keys, policy=policy(sandbox)).roles == {"Ops.Read"}
    assert keys.jwks_fetches == 2


def test_an_unpublished_key_is_refused_and_not_fetched_again(sandbox: SandboxServer) -> None:
    keys = EntraKeys(sandbox.authority, sandbox.entra.tenant_id)
    tid = sandbox.entra.tenant_id
    forged = jwt.encode(
        {
            "aud": sandbox.entra.api_client_id,
            "iss": f"{sandbox.authority}/{tid}/v2.0",
            "tid": tid,
            "oid": "x",
            "exp": 4_000_000_000,
            "roles": ["Ops.Approve"],
        },
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": "attacker-key"},
    )
    for _ in range(3):
        with pytest.raises(Unauthenticated) as raised:
            validate_token(forged, keys=keys, policy=policy(sandbox))
        assert raised.value.reason == "unknown signing key 'attacker-key'"
    assert keys.jwks_fetches == 2  # the first load, and one refresh for the unknown kid


def test_invented_key_ids_refresh_a_few_times_a_minute() -> None:
    fetched: list[str] = []
    now = [1000.0]

    def fetch(url: str) -> dict[str, Any]:
        fetched.append(url)
        return {"issuer": "https://login.example/t/v2.0", "jwks_uri": "https://login.example/keys"}

    keys = EntraKeys("https://login.example", "t", fetch_json=fetch, clock=lambda: now[0])
    keys._fetch_keys = lambda uri: {}  # type: ignore[method-assign]  # no network: an empty key set
    for index in range(20):
        assert keys.signing_key(f"kid-{index}") is None
    assert len(fetched) == 2 * (1 + REFRESHES_PER_MINUTE)  # two discovery documents per load
    now[0] += 61
    assert keys.signing_key("kid-next") is None
    assert len(fetched) == 2 * (2 + REFRESHES_PER_MINUTE)


def _token_request(sandbox: SandboxServer, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
    import json

    url = f"{sandbox.authority}/{sandbox.entra.tenant_id}/oauth2/v2.0/token"
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
    context = ssl.create_default_context(cafile=str(sandbox.tls.ca_cert))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_client_credentials_for_a_registered_client(sandbox: SandboxServer) -> None:
    client = register_client(sandbox, ["Ops.Operate"], name="deploy-pipeline")
    scope = f"api://{sandbox.entra.api_client_id}/.default"
    status, body = _token_request(
        sandbox,
        {
            "grant_type": "client_credentials",
            "client_id": client["clientId"],
            "client_secret": client["clientSecret"],
            "scope": scope,
        },
    )
    assert status == 200 and body["token_type"] == "Bearer"
    keys = EntraKeys(sandbox.authority, sandbox.entra.tenant_id)
    caller = validate_token(body["access_token"], keys=keys, policy=policy(sandbox))
    assert caller.kind == "app" and caller.app_id == client["clientId"] and caller.roles == {"Ops.Operate"}
    assert caller.object_id == client["objectId"]
    status, body = _token_request(
        sandbox,
        {
            "grant_type": "client_credentials",
            "client_id": client["clientId"],
            "client_secret": "wrong",
            "scope": scope,
        },
    )
    assert status == 401 and body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    status, body = _token_request(
        sandbox,
        {
            "grant_type": "client_credentials",
            "client_id": client["clientId"],
            "client_secret": client["clientSecret"],
            "scope": f"api://{sandbox.entra.api_client_id}",
        },
    )
    assert status == 400 and body["error"] == "invalid_scope"


def test_the_env_file_names_the_tenant_api_and_authority(sandbox: SandboxServer, tmp_path: Path) -> None:
    env = sandbox.env()
    assert env["OPS_AUTH_TENANT_ID"] == sandbox.entra.tenant_id
    assert env["OPS_AUTH_AUDIENCE"] == sandbox.entra.api_client_id
    assert env["OPS_AUTH_AUTHORITY_HOST"] == sandbox.authority
