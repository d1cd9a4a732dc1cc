"""Authentication and authorization on ARM, and loud failures for what is not emulated.

Cases:
- no token, a token for another audience, and a forged token are each refused with
  Azure's 401 shape (code, WWW-Authenticate);
- with role assignments in the estate, the real SDK gets 403 AuthorizationFailed for
  an action no role grants (stop with only Reader), while reads succeed; a custom
  role grants start/stop; an assignment on one resource group does not reach another;
- check_action: no roles allows everything; wildcards (*/read); scope prefixes; the
  legacy ACR roles satisfy the repository-permission actions and vice versa;
- a missing api-version is 400 MissingApiVersionParameter; a path the sandbox does not
  emulate is 400 UnsupportedBySandbox (never an empty 200); a wrong method is 405.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential

from sandbox.authz import check_action, is_allowed
from sandbox.estate import load_estate
from sandbox.http import ACR_AUDIENCE, SandboxHTTPError
from sandbox.server import SandboxServer
from tests.support.sandbox import ARM_SCOPE, SUBSCRIPTION, minimal_estate

SUB_SCOPE = f"/subscriptions/{SUBSCRIPTION}"
CLUSTER_PATH = (
    f"{SUB_SCOPE}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/aks-test"
)
ACR = "Microsoft.ContainerRegistry/registries"


def arm_get(server: SandboxServer, path: str, token: str | None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        f"{server.arm_endpoint}{path}",
        params={"api-version": "2026-08-01", **params},
        headers=headers,
        verify=str(server.tls.ca_cert),
        timeout=10,
    )


def test_missing_wrong_audience_and_forged_tokens_are_401(sandbox: SandboxServer, sandbox_env: dict) -> None:
    acr_token = ManagedIdentityCredential().get_token(f"{ACR_AUDIENCE}/.default").token
    arm_token = ManagedIdentityCredential().get_token(ARM_SCOPE).token
    head, payload, _ = arm_token.split(".")

    missing = arm_get(sandbox, CLUSTER_PATH, None)
    wrong = arm_get(sandbox, CLUSTER_PATH, acr_token)
    forged = arm_get(sandbox, CLUSTER_PATH, f"{head}.{payload}.AAAA")
    good = arm_get(sandbox, CLUSTER_PATH, arm_token)

    assert (missing.status_code, missing.json()["error"]["code"]) == (401, "AuthenticationFailed")
    assert "Bearer" in missing.headers["WWW-Authenticate"]
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "InvalidAuthenticationTokenAudience")
    assert (forged.status_code, forged.json()["error"]["code"]) == (401, "InvalidAuthenticationToken")
    assert good.status_code == 200


ROLES = {
    "roles": [
        {"role": "Reader", "scope": SUB_SCOPE},
        {"role": "Starter", "scope": f"{SUB_SCOPE}/resourceGroups/rg-aks"},
        {"role": "Azure Kubernetes Service Contributor Role", "scope": f"{SUB_SCOPE}/resourceGroups/rg-acr"},
    ],
    "customRoles": [
        {"name": "Starter", "actions": ["Microsoft.ContainerService/managedClusters/start/action"]}
    ],
}


@pytest.mark.parametrize("sandbox_estate", [minimal_estate(identity=ROLES)], indirect=True)
def test_roles_decide_what_the_sdk_may_do(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    assert aks_mgmt.managed_clusters.get("rg-aks", "aks-test").name == "aks-test"  # Reader reads

    with pytest.raises(HttpResponseError) as refused:
        aks_mgmt.managed_clusters.begin_stop("rg-aks", "aks-test").result()

    assert refused.value.status_code == 403
    assert refused.value.error.code == "AuthorizationFailed"
    assert "Microsoft.ContainerService/managedClusters/stop/action" in refused.value.error.message
    assert sandbox.world.clusters["aks-test"].power_state == "Running"
    # The custom role grants start (a 409, not a 403: the cluster is already running).
    with pytest.raises(HttpResponseError) as running:
        aks_mgmt.managed_clusters.begin_start("rg-aks", "aks-test").result()
    assert running.value.status_code == 409


def test_check_action_rules() -> None:
    world = load_estate(minimal_estate())
    registry = f"{SUB_SCOPE}/resourceGroups/rg-acr/providers/{ACR}/contosotest"
    assert is_allowed(world, registry, f"{ACR}/artifacts/delete")  # no roles: everything

    world = load_estate(
        minimal_estate(
            identity={
                "roles": [
                    {"role": "Reader", "scope": SUB_SCOPE},
                    {"role": "AcrDelete", "scope": registry},
                    {
                        "role": "Container Registry Repository Reader",
                        "scope": f"{SUB_SCOPE}/resourceGroups/rg-acr",
                    },
                ]
            }
        )
    )

    assert is_allowed(world, registry, f"{ACR}/read")  # */read
    assert is_allowed(world, registry.upper(), f"{ACR}/artifacts/delete")  # ids are case-insensitive
    assert is_allowed(world, registry, f"{ACR}/repositories/content/delete")  # AcrDelete ≡ content/delete
    assert is_allowed(world, registry, f"{ACR}/pull/read")  # Repository Reader ≡ AcrPull
    assert not is_allowed(world, registry, f"{ACR}/push/write")
    assert not is_allowed(
        world, registry + "x", f"{ACR}/artifacts/delete"
    )  # prefix of a segment is not a scope
    with pytest.raises(SandboxHTTPError) as refused:
        check_action(world, registry, f"{ACR}/repositories/metadata/write")
    assert (refused.value.status, refused.value.code) == (403, "AuthorizationFailed")


def test_unsupported_requests_fail_loudly(sandbox: SandboxServer, sandbox_env: dict) -> None:
    token = ManagedIdentityCredential().get_token(ARM_SCOPE).token
    no_version = requests.get(
        f"{sandbox.arm_endpoint}{CLUSTER_PATH}",
        headers={"Authorization": f"Bearer {token}"},
        verify=str(sandbox.tls.ca_cert),
        timeout=10,
    )
    unknown = arm_get(sandbox, f"{SUB_SCOPE}/providers/Microsoft.Compute/virtualMachines", token)
    wrong_method = requests.delete(
        f"{sandbox.arm_endpoint}{CLUSTER_PATH}/agentPools",
        params={"api-version": "2026-08-01"},
        headers={"Authorization": f"Bearer {token}"},
        verify=str(sandbox.tls.ca_cert),
        timeout=10,
    )

    assert (no_version.status_code, no_version.json()["error"]["code"]) == (400, "MissingApiVersionParameter")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "UnsupportedBySandbox")
    assert wrong_method.status_code == 405
