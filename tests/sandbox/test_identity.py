"""The managed-identity endpoint, through the unmodified azure-identity credentials.

Cases:
- ManagedIdentityCredential (App Service flavour) gets an ARM token over HTTPS; its
  claims carry the management audience, the identity's object and client ids, and a
  ~24 h lifetime;
- DefaultAzureCredential picks the same endpoint up from the environment;
- a token for the AKS AAD server app has that audience, and is rejected for ARM;
- the user-assigned form (client_id) works for the identity's client id and fails for
  another one;
- a request without the right X-IDENTITY-HEADER is refused with App Service's shape;
- the identity endpoint appears in the request log.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from sandbox.http import AKS_AUDIENCE, ARM_AUDIENCE, SandboxHTTPError, verify_token
from sandbox.server import SandboxServer
from tests.support.sandbox import ARM_SCOPE


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_managed_identity_credential_gets_an_arm_token(sandbox: SandboxServer, sandbox_env: dict) -> None:
    token = ManagedIdentityCredential().get_token(ARM_SCOPE)

    claims = claims_of(token.token)
    identity = sandbox.world.identity
    assert claims["aud"] == ARM_AUDIENCE
    assert claims["oid"] == identity.principal_id
    assert claims["appid"] == identity.client_id
    assert claims["tid"] == identity.tenant_id
    assert 23 * 3600 < token.expires_on - time.time() <= 24 * 3600
    assert verify_token(token.token, audience=ARM_AUDIENCE)["oid"] == identity.principal_id


def test_default_azure_credential_uses_the_sandbox_identity(
    sandbox: SandboxServer, sandbox_env: dict
) -> None:
    token = DefaultAzureCredential().get_token(ARM_SCOPE)

    assert claims_of(token.token)["oid"] == sandbox.world.identity.principal_id


def test_aks_token_has_the_aks_audience_and_is_refused_by_arm(
    sandbox: SandboxServer, sandbox_env: dict
) -> None:
    token = ManagedIdentityCredential().get_token(f"{AKS_AUDIENCE}/.default").token

    assert claims_of(token)["aud"] == AKS_AUDIENCE
    with pytest.raises(SandboxHTTPError) as refused:
        verify_token(token, audience=ARM_AUDIENCE)
    assert refused.value.status == 401
    assert refused.value.code == "InvalidAuthenticationTokenAudience"


def test_user_assigned_form_matches_only_the_identity_client_id(
    sandbox: SandboxServer, sandbox_env: dict
) -> None:
    own = sandbox.world.identity.client_id
    assert ManagedIdentityCredential(client_id=own).get_token(ARM_SCOPE).token

    with pytest.raises(ClientAuthenticationError):
        ManagedIdentityCredential(client_id="11111111-2222-3333-4444-555555555555").get_token(ARM_SCOPE)


def test_wrong_identity_header_is_refused(sandbox: SandboxServer) -> None:
    response = requests.get(
        sandbox.identity_endpoint,
        params={"api-version": "2019-08-01", "resource": ARM_AUDIENCE},
        headers={"X-IDENTITY-HEADER": "not-the-secret"},
        verify=str(sandbox.tls.ca_cert),
        timeout=10,
    )

    assert response.status_code == 401
    assert response.json()["statusCode"] == 401
    assert "access_token" not in response.json()


def test_identity_calls_are_logged(sandbox: SandboxServer, sandbox_env: dict) -> None:
    ManagedIdentityCredential().get_token(ARM_SCOPE)

    records = [r for r in sandbox.world.requests if r.service == "identity"]
    assert [(r.method, r.status, r.operation) for r in records] == [("GET", 200, "identity.token")]
