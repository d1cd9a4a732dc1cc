"""Pushing images and artifacts into a sandbox registry, in-process or over HTTPS.

``ops sandbox push`` and tests need a push that raises the same ImagePushed event a
``docker push`` or ``oras attach`` raises. :func:`push_image` builds real bytes (an
image config and layers, or an OCI 1.1 artifact with ``artifactType`` and an optional
``subject``) and stores them through ``sandbox.acr.artifacts.put_manifest``, the code
path of ``PUT /v2/<name>/manifests/<ref>``. :func:`push_over_https` does the same
push as an OCI client would: challenge, token exchange, blob uploads, manifest PUT.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from sandbox.acr import artifacts, media
from sandbox.acr.client import raise_for_status, registry_session
from sandbox.acr.events import Caller
from sandbox.estate.manifests import artifact_manifest_bytes, image_manifest_bytes
from sandbox.world import Registry, World

Layers = int | Sequence[bytes]
_EMPTY_CONFIG = b"{}"


@dataclass(frozen=True, slots=True)
class Built:
    """A manifest ready to push, with every blob it references."""

    blobs: list[bytes]
    content: bytes
    media_type: str

    @property
    def digest(self) -> str:
        return media.compute_digest(self.content)


def build_manifest(
    *,
    repository: str,
    tag: str | None,
    layers: Layers = 1,
    subject: tuple[str, str, int] | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    architecture: str = "amd64",
    os_name: str = "linux",
) -> Built:
    """An image (no ``artifact_type``) or an OCI artifact; ``subject`` is (media type, digest, size)."""
    if subject is not None and artifact_type is None:
        raise ValueError(
            "a referrer (subject) needs an artifact_type, e.g. application/vnd.cncf.notary.signature"
        )
    layer_bytes = _layer_bytes(layers, f"{repository}:{tag}:{artifact_type}")
    described = [(media.compute_digest(data), len(data)) for data in layer_bytes]
    if artifact_type is not None:
        content = artifact_manifest_bytes(
            artifact_type=artifact_type, layers=described, subject=subject, annotations=annotations
        )
        return Built([_EMPTY_CONFIG, *layer_bytes], content, media.OCI_MANIFEST)
    config = json.dumps(
        {
            "architecture": architecture,
            "os": os_name,
            "rootfs": {"type": "layers", "diff_ids": [digest for digest, _ in described]},
        },
        separators=(",", ":"),
    ).encode()
    content = image_manifest_bytes(
        media_type=media.OCI_MANIFEST,
        config=(media.compute_digest(config), len(config)),
        layers=described,
        annotations=annotations,
    )
    return Built([config, *layer_bytes], content, media.OCI_MANIFEST)


def _layer_bytes(layers: Layers, seed: str) -> list[bytes]:
    if isinstance(layers, int):
        # Distinct, deterministic bytes per (repository, tag, layer): stable digests run to run.
        return [hashlib.sha256(f"{seed}:{i}".encode()).digest() * 32 for i in range(layers)]
    return [bytes(layer) for layer in layers]


def push_image(
    world: World,
    registry: str | Registry,
    repository: str,
    tag: str | None,
    *,
    layers: Layers = 1,
    subject: str | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    architecture: str = "amd64",
    os_name: str = "linux",
) -> str:
    """Push in-process, exactly as a ``/v2`` push would land; the manifest's digest.

    ``subject`` is a tag or digest in the same repository (the image a signature or
    SBOM refers to). ``tag`` None pushes by digest, as referrers usually are.
    """
    target = world.registries[registry] if isinstance(registry, str) else registry
    subject_descriptor = None
    if subject is not None:
        with world.lock:
            manifest, _ = artifacts.resolve(artifacts.get_repository(target, repository), subject)
            subject_descriptor = (manifest.media_type, manifest.digest, len(manifest.content))
    built = build_manifest(
        repository=repository,
        tag=tag,
        layers=layers,
        subject=subject_descriptor,
        artifact_type=artifact_type,
        annotations=annotations,
        architecture=architecture,
        os_name=os_name,
    )
    for blob in built.blobs:
        artifacts.store_blob(world, target, blob)
    pushed = artifacts.put_manifest(
        world,
        target,
        repository,
        tag or built.digest,
        built.content,
        built.media_type,
        caller=Caller.in_process(target, "PUT"),
    )
    return pushed.manifest.digest


def push_over_https(
    endpoint: str,
    repository: str,
    tag: str | None,
    *,
    aad_token: str | Callable[[], str],
    layers: Layers = 1,
    subject: str | None = None,
    artifact_type: str | None = None,
    annotations: dict[str, str] | None = None,
    verify: bool | str = True,
) -> str:
    """Push to a registry's login server as an OCI client does; the manifest's digest.

    ``endpoint`` is ``https://<login server>``; ``aad_token`` an Entra token for the
    ACR audience (from the managed identity), exchanged for ACR tokens on the way.
    """
    session = registry_session(aad_token, verify=verify)
    base = endpoint.rstrip("/")
    subject_descriptor = None
    if subject is not None:
        head = session.head(
            f"{base}/v2/{repository}/manifests/{subject}", headers={"Accept": ", ".join(media.MANIFEST_TYPES)}
        )
        raise_for_status(head)
        subject_descriptor = (
            head.headers["Content-Type"],
            head.headers["Docker-Content-Digest"],
            int(head.headers["Content-Length"]),
        )
    built = build_manifest(
        repository=repository,
        tag=tag,
        layers=layers,
        subject=subject_descriptor,
        artifact_type=artifact_type,
        annotations=annotations,
    )
    for blob in built.blobs:
        upload_blob(session, base, repository, blob)
    response = session.put(
        f"{base}/v2/{repository}/manifests/{tag or built.digest}",
        data=built.content,
        headers={"Content-Type": built.media_type},
    )
    raise_for_status(response)
    digest: str = response.headers["Docker-Content-Digest"]
    if digest != built.digest:
        raise RuntimeError(f"the registry computed {digest}, the client {built.digest}")
    return digest


def upload_blob(session: requests.Session, base: str, repository: str, data: bytes) -> str:
    """Upload one blob (POST, then PUT ?digest=) unless the registry has it; its digest."""
    digest = media.compute_digest(data)
    if session.head(f"{base}/v2/{repository}/blobs/{digest}").status_code == 200:
        return digest
    start = session.post(f"{base}/v2/{repository}/blobs/uploads/")
    raise_for_status(start)
    location = start.headers["Location"]
    parts = urlsplit(location if location.startswith("http") else base + location)
    query = urlencode([*parse_qsl(parts.query), ("digest", digest)])
    finish = session.put(
        f"{parts.scheme}://{parts.netloc}{parts.path}?{query}",
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    raise_for_status(finish)
    return digest
