"""What a sandbox registry refuses: quarantine, read and write locks, Azure RBAC.

Cases:
- with the registry's quarantine policy enabled a new push starts ``Quarantined``
  (shown in changeableAttributes.quarantineState); without it, no state;
- a quarantined image pulled by an identity with AcrPull but not AcrQuarantineReader:
  by tag 404 MANIFEST_UNKNOWN, by digest 403 IMAGE_QUARANTINED; with
  AcrQuarantineReader it pulls;
- PATCH quarantineState needs AcrQuarantineWriter (403 DENIED otherwise); once
  ``Passed`` (with quarantineDetails kept) the image pulls with AcrPull alone;
- ``readEnabled=false`` on a tag refuses pulls by that tag (405
  REGISTRY_DISALLOWED_OPERATION) but not by digest; on the repository, both;
- ``writeEnabled=false`` on the repository refuses a push over HTTPS;
- the real SDK with AcrPull only: listing works, delete_manifest is 403; with
  AcrDelete added, it deletes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.containerregistry import ContainerRegistryClient
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential

from sandbox.acr.media import OCI_MANIFEST
from sandbox.acr.pushing import push_image, push_over_https
from sandbox.server import SandboxServer
from sandbox.world import RoleAssignment
from tests.support.sandbox import SUBSCRIPTION, minimal_estate

PLAIN = "contosotest"
QUARANTINING = "contosoquarantine"
ACR_SCOPE = "https://containerregistry.azure.net/.default"

ESTATE = minimal_estate()
ESTATE["registries"].append({"name": QUARANTINING, "resourceGroup": "rg-acr", "quarantineEnabled": True})


@pytest.fixture(scope="module")
def acr_estate() -> dict[str, Any]:
    return ESTATE


@pytest.fixture
def roles(acr: SandboxServer) -> Iterator[list[RoleAssignment]]:
    """The identity's role assignments, restored after the test (empty: everything allowed)."""
    assignments: list[RoleAssignment] = []
    with acr.world.lock:
        acr.world.identity.roles = assignments
    yield assignments
    with acr.world.lock:
        acr.world.identity.roles = []


def grant(roles: list[RoleAssignment], *names: str) -> None:
    roles.extend(RoleAssignment(f"/subscriptions/{SUBSCRIPTION}", name) for name in names)


def url(acr: SandboxServer, registry: str, path: str) -> str:
    return f"https://{acr.world.registries[registry].login_server}{path}"


def pull(
    http: requests.Session, acr: SandboxServer, registry: str, repo: str, reference: str
) -> requests.Response:
    return http.get(url(acr, registry, f"/v2/{repo}/manifests/{reference}"), headers={"Accept": OCI_MANIFEST})


def code_of(response: requests.Response) -> str:
    return str(response.json()["errors"][0]["code"])


def test_quarantine_policy_sets_the_state_of_new_pushes(acr: SandboxServer, http: requests.Session) -> None:
    quarantined = push_image(acr.world, QUARANTINING, "app/q", "1.0")
    plain = push_image(acr.world, PLAIN, "app/q", "1.0")

    shown = http.get(url(acr, QUARANTINING, f"/acr/v1/app%2Fq/_manifests/{quarantined}")).json()
    plain_shown = http.get(url(acr, PLAIN, f"/acr/v1/app%2Fq/_manifests/{plain}")).json()

    assert shown["manifest"]["changeableAttributes"]["quarantineState"] == "Quarantined"
    assert "quarantineState" not in plain_shown["manifest"]["changeableAttributes"]


def test_quarantined_image_needs_the_quarantine_reader_role(
    acr: SandboxServer, http: requests.Session, roles: list[RoleAssignment]
) -> None:
    digest = push_image(acr.world, QUARANTINING, "app/reader", "1.0")
    grant(roles, "AcrPull")

    by_tag = pull(http, acr, QUARANTINING, "app/reader", "1.0")
    by_digest = pull(http, acr, QUARANTINING, "app/reader", digest)
    grant(roles, "AcrQuarantineReader")
    as_reader = pull(http, acr, QUARANTINING, "app/reader", digest)

    assert by_tag.status_code == 404 and code_of(by_tag) == "MANIFEST_UNKNOWN"
    assert by_digest.status_code == 403 and code_of(by_digest) == "IMAGE_QUARANTINED"
    assert as_reader.status_code == 200 and as_reader.headers["Docker-Content-Digest"] == digest


def test_passing_quarantine_needs_the_quarantine_writer_role(
    acr: SandboxServer, http: requests.Session, roles: list[RoleAssignment]
) -> None:
    digest = push_image(acr.world, QUARANTINING, "app/writer", "1.0")
    grant(roles, "AcrPull", "AcrPush")
    patch_url = url(acr, QUARANTINING, f"/acr/v1/app%2Fwriter/_manifests/{digest}")
    verdict = {"quarantineState": "Passed", "quarantineDetails": '{"state":"scan passed"}'}

    denied = http.patch(patch_url, json=verdict)
    grant(roles, "AcrQuarantineWriter")
    passed = http.patch(patch_url, json=verdict)
    roles[:] = []
    grant(roles, "AcrPull")
    pulled = pull(http, acr, QUARANTINING, "app/writer", "1.0")

    assert denied.status_code == 403 and code_of(denied) == "DENIED"
    assert passed.status_code == 200
    attributes = passed.json()["manifest"]["changeableAttributes"]
    assert attributes["quarantineState"] == "Passed"
    assert attributes["quarantineDetails"] == '{"state":"scan passed"}'
    assert pulled.status_code == 200


def test_read_locks_refuse_pulls(acr: SandboxServer, http: requests.Session) -> None:
    digest = push_image(acr.world, PLAIN, "app/readlock", "1.0")
    http.patch(url(acr, PLAIN, "/acr/v1/app%2Freadlock/_tags/1.0"), json={"readEnabled": False})

    by_tag = pull(http, acr, PLAIN, "app/readlock", "1.0")
    by_digest = pull(http, acr, PLAIN, "app/readlock", digest)
    http.patch(url(acr, PLAIN, "/acr/v1/app%2Freadlock"), json={"readEnabled": False})
    repo_locked = pull(http, acr, PLAIN, "app/readlock", digest)

    assert by_tag.status_code == 405 and code_of(by_tag) == "REGISTRY_DISALLOWED_OPERATION"
    assert by_digest.status_code == 200
    assert repo_locked.status_code == 405


def test_repository_write_lock_refuses_pushes(acr: SandboxServer, http: requests.Session) -> None:
    push_image(acr.world, PLAIN, "app/writelock", "1.0")
    locked = http.patch(url(acr, PLAIN, "/acr/v1/app%2Fwritelock"), json={"writeEnabled": False})
    assert locked.json()["changeableAttributes"]["writeEnabled"] is False

    with pytest.raises(RuntimeError, match=r"405.*REGISTRY_DISALLOWED_OPERATION"):
        push_over_https(
            f"https://{acr.world.registries[PLAIN].login_server}",
            "app/writelock",
            "2.0",
            aad_token=ManagedIdentityCredential().get_token(ACR_SCOPE).token,
            verify=str(acr.tls.ca_cert),
        )
    assert "2.0" not in acr.world.registries[PLAIN].repositories["app/writelock"].tags


def test_sdk_delete_needs_a_delete_role(acr: SandboxServer, roles: list[RoleAssignment]) -> None:
    digest = push_image(acr.world, PLAIN, "app/rbac", "1.0")
    grant(roles, "AcrPull")
    endpoint = f"https://{acr.world.registries[PLAIN].login_server}"
    with ContainerRegistryClient(endpoint, ManagedIdentityCredential(), audience=ACR_SCOPE[:-9]) as client:
        listed = [m.digest for m in client.list_manifest_properties("app/rbac")]
        with pytest.raises(HttpResponseError) as denied:
            client.delete_manifest("app/rbac", digest)
        grant(roles, "AcrDelete")
        client.delete_manifest("app/rbac", digest)

    assert listed == [digest]
    assert denied.value.status_code == 403 and "DENIED" in str(denied.value)
    assert digest not in acr.world.registries[PLAIN].repositories["app/rbac"].manifests
