"""A CI signer and SBOM attacher, as real pipelines run them, with the oras Python client.

``notation sign`` and ``oras attach`` both resolve the subject first (a ``HEAD`` of
``/v2/<repo>/manifests/<digest>``, for its media type and size), then upload the
referrer's blobs and ``PUT`` its manifest by digest with ``subject`` set (notation's
``notation.Sign`` → ``repo.Resolve``; the notation CLI spec: "notation resolves the tag
to the digest before signing"). :func:`attach_referrer` does exactly that through
oras-py's own HTTP and upload code, as an identity of the sandbox's choosing (the app's,
or another one: a signer with or without AcrQuarantineReader). The token is ACR's, got the
way docker and oras get it: an Entra token exchanged for a refresh token, then ``GET
/oauth2/token`` with Basic auth for ``repository:<repo>:pull,push``.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import oras.provider
import requests
from azure.identity import ManagedIdentityCredential

from sandbox.server import SandboxServer

ACR_SCOPE = "https://containerregistry.azure.net/.default"
NOTATION = "application/vnd.cncf.notary.signature"
SPDX = "application/spdx+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
ACCEPT = ", ".join(
    [
        OCI_MANIFEST,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)
#: What ``docker login`` and oras send as the user name with an ACR refresh token.
TOKEN_USER = "00000000-0000-0000-0000-000000000000"
_LAYER_TYPES = {NOTATION: "application/jose+json", SPDX: SPDX}


class SubjectUnreadable(RuntimeError):
    """The registry refused to resolve the subject, so nothing was attached."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"resolving the subject answered {status}: {body[:300]}")
        self.status = status
        self.body = body


def access_token(server: SandboxServer, registry: str, repository: str, client_id: str | None) -> str:
    """An ACR access token for ``repository:<repository>:pull,push`` of ``client_id``'s identity."""
    login = server.world.registries[registry].login_server
    credential = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
    ca = str(server.tls.ca_cert)
    exchange = requests.post(
        f"https://{login}/oauth2/exchange",
        data={
            "grant_type": "access_token",
            "service": login,
            "access_token": credential.get_token(ACR_SCOPE).token,
        },
        verify=ca,
        timeout=30,
    )
    exchange.raise_for_status()
    token = requests.get(
        f"https://{login}/oauth2/token",
        params={"service": login, "scope": f"repository:{repository}:pull,push"},
        auth=(TOKEN_USER, exchange.json()["refresh_token"]),
        verify=ca,
        timeout=30,
    )
    token.raise_for_status()
    return str(token.json()["access_token"])


def attach_referrer(
    server: SandboxServer,
    registry: str,
    repository: str,
    subject: str,
    artifact_type: str,
    payload: bytes,
    *,
    client_id: str | None = None,
) -> str:
    """Resolve ``subject`` (a digest) and attach a referrer of ``artifact_type`` carrying
    ``payload``; the referrer's digest. :class:`SubjectUnreadable` when the registry refuses
    the subject, as ``notation sign`` and ``oras attach`` then fail."""
    login = server.world.registries[registry].login_server
    client = oras.provider.Registry(hostname=login, tls_verify=str(server.tls.ca_cert), auth_backend="token")
    client.auth.set_token_auth(access_token(server, registry, repository, client_id))
    url = f"https://{login}/v2/{repository}/manifests/{subject}"
    # The resolve goes through oras-py's session, not ``do_request``: that one treats any 403
    # as an auth challenge and retries it for minutes with sleeps.
    auth = client.auth.get_auth_header()
    head = client.session.head(url, headers={"Accept": ACCEPT, **auth}, verify=client._tls_verify)
    if head.status_code != 200:
        # Read the refusal itself (a HEAD answers no body) with the same token.
        refused = client.session.get(url, headers={"Accept": ACCEPT, **auth}, verify=client._tls_verify)
        raise SubjectUnreadable(refused.status_code, refused.text)
    descriptor = {
        "mediaType": head.headers["Content-Type"],
        "digest": head.headers["Docker-Content-Digest"],
        "size": int(head.headers["Content-Length"]),
    }
    with tempfile.TemporaryDirectory() as folder:
        config = _blob(client, login, repository, Path(folder) / "config.json", b"{}", OCI_EMPTY)
        layer = _blob(
            client, login, repository, Path(folder) / "payload", payload, _LAYER_TYPES[artifact_type]
        )
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": config,
        "layers": [layer],
        "subject": descriptor,
        "annotations": {"org.opencontainers.image.created": "2026-12-03T00:00:00Z"},
    }
    # oras-py sends the manifest as requests' JSON body: json.dumps with its default separators.
    digest = "sha256:" + hashlib.sha256(json.dumps(manifest).encode()).hexdigest()
    response = client.upload_manifest(manifest, client.get_container(f"{login}/{repository}@{digest}"))
    if response.status_code != 201:
        raise RuntimeError(f"pushing the referrer answered {response.status_code}: {response.text[:300]}")
    assert response.headers["Docker-Content-Digest"] == digest
    return digest


def _blob(
    client: oras.provider.Registry, login: str, repository: str, path: Path, data: bytes, media_type: str
) -> dict[str, Any]:
    path.write_bytes(data)
    descriptor = {
        "mediaType": media_type,
        "digest": "sha256:" + hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }
    response = client.upload_blob(str(path), client.get_container(f"{login}/{repository}"), descriptor)
    if response.status_code not in (200, 201, 202):
        raise RuntimeError(f"uploading a blob answered {response.status_code}: {response.text[:300]}")
    return descriptor
