"""ACR's authentication dance on a sandbox registry: challenges, exchange, scoped tokens.

Cases:
- an unauthenticated /acr/v1 or /v2 call gets 401 UNAUTHORIZED with ACR's exact
  ``WWW-Authenticate: Bearer realm="https://<login>/oauth2/token",service="<login>",
  scope="<type>:<name>:<action>"`` and the action in the error detail; GET /v2/ is
  challenged without a scope, and answers {} with a valid token;
- POST /oauth2/exchange trades an Entra token for the ACR audience (and, as ACR
  does, for ARM's) for a refresh token; a token for another audience (AKS) is 401;
  an unsupported grant_type or a foreign service is 400;
- POST /oauth2/token trades the refresh token for an access token carrying exactly
  the requested scopes (several, space separated), which opens those calls;
- a token for another scope is answered with error="insufficient_scope"; a tampered
  token, or a refresh token used as a bearer, with error="invalid_token";
- GET /oauth2/token with Basic auth (docker's login with an ACR refresh token) works;
  anonymous (grant_type=password without credentials) is refused;
- with role assignments that do not grant an action, the call is 403 DENIED.
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from sandbox.server import SandboxServer
from sandbox.world import RoleAssignment
from tests.support.sandbox import SUBSCRIPTION

REGISTRY = "contosotest"
AUTH_MESSAGE = "authentication required, visit https://aka.ms/acr/authorization for more information."


@pytest.fixture
def login(acr: SandboxServer) -> str:
    return acr.world.registries[REGISTRY].login_server


@pytest.fixture
def http(acr: SandboxServer) -> requests.Session:
    session = requests.Session()
    session.verify = str(acr.tls.ca_cert)
    return session


def aad_token(audience: str) -> str:
    return ManagedIdentityCredential().get_token(f"{audience}/.default").token


def refresh_token(http: requests.Session, login: str) -> str:
    response = http.post(
        f"https://{login}/oauth2/exchange",
        data={
            "grant_type": "access_token",
            "service": login,
            "access_token": aad_token("https://containerregistry.azure.net"),
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["refresh_token"])


def access_token(http: requests.Session, login: str, scope: str) -> str:
    response = http.post(
        f"https://{login}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "service": login,
            "scope": scope,
            "refresh_token": refresh_token(http, login),
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_unauthenticated_calls_get_acr_challenges(http: requests.Session, login: str) -> None:
    manifests = http.get(f"https://{login}/acr/v1/payments%2Fapi/_manifests")
    catalog = http.get(f"https://{login}/acr/v1/_catalog")
    pull = http.get(f"https://{login}/v2/payments/api/manifests/v1")
    base = http.get(f"https://{login}/v2/")

    realm = f'Bearer realm="https://{login}/oauth2/token",service="{login}"'
    assert manifests.status_code == catalog.status_code == pull.status_code == base.status_code == 401
    assert manifests.headers["WWW-Authenticate"] == f'{realm},scope="repository:payments/api:metadata_read"'
    assert catalog.headers["WWW-Authenticate"] == f'{realm},scope="registry:catalog:*"'
    assert pull.headers["WWW-Authenticate"] == f'{realm},scope="repository:payments/api:pull"'
    assert base.headers["WWW-Authenticate"] == realm
    assert manifests.json() == {
        "errors": [
            {
                "code": "UNAUTHORIZED",
                "message": AUTH_MESSAGE,
                "detail": [{"Type": "repository", "Name": "payments/api", "Action": "metadata_read"}],
            }
        ]
    }


def test_exchange_then_scoped_access_token(http: requests.Session, login: str) -> None:
    token = access_token(http, login, "repository:payments/api:pull repository:payments/api:metadata_read")
    auth = {"Authorization": f"Bearer {token}"}

    claims = claims_of(token)
    assert claims["aud"] == login
    assert claims["access"] == [
        {"type": "repository", "name": "payments/api", "actions": ["pull"]},
        {"type": "repository", "name": "payments/api", "actions": ["metadata_read"]},
    ]
    assert http.get(f"https://{login}/v2/", headers=auth).json() == {}
    assert http.get(f"https://{login}/acr/v1/payments%2Fapi", headers=auth).status_code == 200
    pulled = http.get(
        f"https://{login}/v2/payments/api/manifests/v1",
        headers={**auth, "Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert pulled.status_code == 200


def test_exchange_accepts_arm_audience_and_refuses_others(http: requests.Session, login: str) -> None:
    def exchange(token: str, **extra: str) -> requests.Response:
        form = {"grant_type": "access_token", "service": login, "access_token": token, **extra}
        return http.post(f"https://{login}/oauth2/exchange", data=form)

    assert exchange(aad_token("https://management.azure.com")).status_code == 200
    wrong = exchange(aad_token("6dae42f8-4368-4678-94ff-3960e28e3630"))
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert (
        exchange(aad_token("https://containerregistry.azure.net"), grant_type="password").status_code == 400
    )
    assert (
        exchange(aad_token("https://containerregistry.azure.net"), service="other.azurecr.io").status_code
        == 400
    )


def test_wrong_scope_and_bad_tokens_are_challenged(http: requests.Session, login: str) -> None:
    pull_only = access_token(http, login, "repository:payments/api:pull")
    refresh = refresh_token(http, login)
    head, payload, _ = pull_only.split(".")
    tampered = f"{head}.{payload}.AAAA"
    url = f"https://{login}/acr/v1/payments%2Fapi/_tags"

    insufficient = http.get(url, headers={"Authorization": f"Bearer {pull_only}"})
    invalid = http.get(url, headers={"Authorization": f"Bearer {tampered}"})
    refresh_as_bearer = http.get(url, headers={"Authorization": f"Bearer {refresh}"})

    assert insufficient.status_code == invalid.status_code == refresh_as_bearer.status_code == 401
    assert insufficient.headers["WWW-Authenticate"].endswith(
        ',scope="repository:payments/api:metadata_read",error="insufficient_scope"'
    )
    assert invalid.headers["WWW-Authenticate"].endswith(',error="invalid_token"')
    assert refresh_as_bearer.headers["WWW-Authenticate"].endswith(',error="invalid_token"')


def test_basic_auth_token_endpoint_and_anonymous(http: requests.Session, login: str) -> None:
    refresh = refresh_token(http, login)
    basic = base64.b64encode(f"00000000-0000-0000-0000-000000000000:{refresh}".encode()).decode()

    got = http.get(
        f"https://{login}/oauth2/token",
        params={"service": login, "scope": "repository:payments/api:pull"},
        headers={"Authorization": f"Basic {basic}"},
    )
    anonymous = http.post(
        f"https://{login}/oauth2/token",
        data={"grant_type": "password", "service": login, "scope": "repository:payments/api:pull"},
    )

    assert got.status_code == 200
    token = got.json()["access_token"]
    tags = http.get(
        f"https://{login}/v2/payments/api/tags/list", headers={"Authorization": f"Bearer {token}"}
    )
    assert tags.json() == {"name": "payments/api", "tags": ["latest", "v1", "v2"]}
    assert anonymous.status_code == 401


def test_role_assignments_without_the_action_get_403(
    acr: SandboxServer, http: requests.Session, login: str
) -> None:
    registry = acr.world.registries[REGISTRY]
    token = access_token(http, login, "repository:payments/api:delete repository:payments/api:pull")
    auth = {"Authorization": f"Bearer {token}"}
    digest = registry.repositories["payments/api"].tags["v1"].digest
    with acr.world.lock:
        acr.world.identity.roles = [RoleAssignment(f"/subscriptions/{SUBSCRIPTION}", "AcrPull")]
    try:
        denied = http.delete(f"https://{login}/v2/payments/api/manifests/{digest}", headers=auth)
        pulled = http.get(f"https://{login}/v2/payments/api/tags/list", headers=auth)
    finally:
        with acr.world.lock:
            acr.world.identity.roles = []

    assert denied.status_code == 403
    [error] = denied.json()["errors"]
    assert error["code"] == "DENIED" and "artifacts/delete" not in error["message"]
    assert "repositories/content/delete" in error["message"]
    assert digest in registry.repositories["payments/api"].manifests
    assert pulled.status_code == 200
