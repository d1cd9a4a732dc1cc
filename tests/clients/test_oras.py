"""The oras Python client against the sandbox's registry: an artifact with a subject.

Cases:
- oras logs in with the null-GUID user and an ACR refresh token, as after
  ``az acr login --expose-token``;
- ``push`` of a signature-like artifact whose ``subject`` is an estate image succeeds
  (blob upload, manifest PUT with the OCI-Subject answer);
- the referrers API lists it under its subject, with its artifactType; the subject
  itself is unchanged and still pullable by oras.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from sandbox.server import SandboxServer
from tests.clients.conftest import NULL_USER

ARTIFACT_TYPE = "application/vnd.example.signature.v1+json"


def test_push_with_subject_and_discover(
    sandbox: SandboxServer,
    registry_host: str,
    refresh_token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import oras.client
    import oras.oci

    def login(scope: str | None = None) -> oras.client.OrasClient:
        client = oras.client.OrasClient(hostname=registry_host, tls_verify=str(sandbox.tls.ca_cert))
        client.login(username=NULL_USER, password=refresh_token, hostname=registry_host)
        if scope is not None:
            # oras-py keeps the first token it gets and asks again only after a 403, while a
            # registry answers a token of too narrow a scope with a 401 challenge: a pusher
            # gives it a token for pull,push up front, as with a repository-scoped ACR token.
            answer = requests.get(
                f"https://{registry_host}/oauth2/token",
                params={"service": registry_host, "scope": scope},
                auth=(NULL_USER, refresh_token),
                verify=str(sandbox.tls.ca_cert),
                timeout=10,
            )
            answer.raise_for_status()
            client.auth.set_token_auth(answer.json()["access_token"])
        return client

    client = login()
    subject_ref = f"{registry_host}/payments/api:v1"
    subject_manifest = client.get_manifest(subject_ref)
    subject_digest = sandbox.world.registries["contosoclients"].repositories["payments/api"].tags["v1"].digest
    content = json.dumps(subject_manifest, separators=(",", ":")).encode()
    signature = tmp_path / "signature.json"
    signature.write_text(json.dumps({"signed": subject_digest}))
    monkeypatch.chdir(tmp_path)
    response = login("repository:payments/api:pull,push").push(
        f"{registry_host}/payments/api:sig",
        files=[f"signature.json:{ARTIFACT_TYPE}"],
        manifest_config=f"{tmp_path / 'signature.json'}:{ARTIFACT_TYPE}",
        subject=oras.oci.Subject(
            mediaType=subject_manifest["mediaType"], digest=subject_digest, size=len(content)
        ),
    )
    assert response.status_code == 201
    assert response.headers.get("OCI-Subject") == subject_digest

    referrers = (
        login()
        .do_request(f"https://{registry_host}/v2/payments/api/referrers/{subject_digest}", "GET")
        .json()
    )
    assert referrers["mediaType"] == "application/vnd.oci.image.index.v1+json"
    [entry] = referrers["manifests"]
    assert entry["artifactType"] == ARTIFACT_TYPE
    assert client.get_manifest(subject_ref)["layers"] == subject_manifest["layers"]
