"""Real OCI manifest bytes for manifests an estate describes only by their fields.

/v2 must serve bytes whose sha256 is the digest ACR reports, with the right media
type, so that OCI clients and the app's digest checks behave as against ACR. The
content is a pure function of the fields (media type, config, layers, platform,
subject, artifact type, annotations): the same fields always give the same bytes,
which is what lets ``dump_estate`` leave ``content`` out and ``load_estate`` get the
same digest back. Generators call :func:`image_manifest_bytes` directly (no models).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

NOTATION_SIGNATURE = "application/vnd.cncf.notary.signature"
EMPTY_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"  # of b"{}"

IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})

#: Layer media type of well-known artifact types (signatures are JWS envelopes).
_ARTIFACT_LAYER = {NOTATION_SIGNATURE: "application/jose+json"}


def digest_of(content: bytes) -> str:
    return "sha256:" + hashlib.sha256(content).hexdigest()


def seeded_digest(seed: str) -> str:
    """A stable, realistic-looking blob digest for a layer nobody will pull."""
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _layer_tar(seed: str) -> bytes:
    """A one-file tar (``etc/sandbox-image``), byte-for-byte the same for the same seed."""
    body = f"sandbox image {seed}\n".encode()
    info = tarfile.TarInfo("etc/sandbox-image")
    info.size, info.mtime, info.mode, info.uid, info.gid = len(body), 0, 0o644, 0, 0
    info.uname = info.gname = "root"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def image_blobs(
    seed: str, *, os_name: str, arch: str
) -> tuple[tuple[str, int], list[tuple[str, int]], dict[str, bytes]]:
    """Small, real, deterministic blobs for an image an estate declares without layers:
    one gzipped layer and a config naming its os, architecture and the layer's diff_id.

    Returns (config, layers, blobs by digest), so that ``skopeo inspect``/``copy`` and any
    OCI client can pull what the manifest references, and digests stay stable per seed.
    """
    tar = _layer_tar(seed)
    layer = gzip.compress(tar, compresslevel=6, mtime=0)
    config = _dumps(
        {
            "architecture": arch,
            "os": os_name,
            "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(tar)]},
            "history": [{"created_by": f"sandbox estate image {seed}"}],
        }
    )
    blobs = {digest_of(config): config, digest_of(layer): layer}
    return (digest_of(config), len(config)), [(digest_of(layer), len(layer))], blobs


def artifact_blob(seed: str, artifact_type: str) -> tuple[tuple[str, int], dict[str, bytes]]:
    """A small deterministic payload for an artifact's one layer (a signature, an SBOM)."""
    data = _dumps({"artifactType": artifact_type, "sandbox": seed})
    return (digest_of(data), len(data)), {digest_of(data): data}


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def image_manifest_bytes(
    *,
    media_type: str,
    config: tuple[str, int],
    layers: list[tuple[str, int]],
    annotations: dict[str, str] | None = None,
) -> bytes:
    """An image manifest (OCI or Docker v2 schema 2)."""
    if media_type == OCI_MANIFEST and not annotations:
        # The generators' hot path: the same bytes json.dumps writes, without its overhead.
        entries = ",".join(f'{{"mediaType":"{OCI_LAYER}","digest":"{d}","size":{s}}}' for d, s in layers)
        return (
            f'{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{OCI_CONFIG}",'
            f'"digest":"{config[0]}","size":{config[1]}}},"layers":[{entries}]}}'
        ).encode()
    docker = media_type == DOCKER_MANIFEST
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": config[0],
            "size": config[1],
        },
        "layers": [
            {"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": digest, "size": size}
            for digest, size in layers
        ],
    }
    if annotations:
        document["annotations"] = dict(annotations)
    return _dumps(document)


def artifact_manifest_bytes(
    *,
    artifact_type: str,
    layers: list[tuple[str, int]],
    subject: tuple[str, str, int] | None,
    annotations: dict[str, str] | None = None,
) -> bytes:
    """An OCI 1.1 artifact: an image manifest with ``artifactType``, the empty config
    and, for referrers, ``subject`` = (media type, digest, size) of the subject."""
    layer_type = _ARTIFACT_LAYER.get(artifact_type, artifact_type)
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {"mediaType": OCI_EMPTY, "digest": EMPTY_DIGEST, "size": 2},
        "layers": [{"mediaType": layer_type, "digest": digest, "size": size} for digest, size in layers],
    }
    if subject is not None:
        document["subject"] = {"mediaType": subject[0], "digest": subject[1], "size": subject[2]}
    if annotations:
        document["annotations"] = dict(annotations)
    return _dumps(document)


def index_bytes(
    *,
    media_type: str,
    children: list[tuple[str, str, int, str | None, str | None]],
    annotations: dict[str, str] | None = None,
) -> bytes:
    """An OCI index / Docker manifest list; children are (media type, digest, size, os, arch)."""
    entries = []
    for child_type, digest, size, os_name, arch in children:
        entry: dict[str, Any] = {"mediaType": child_type, "digest": digest, "size": size}
        if os_name or arch:
            entry["platform"] = {"architecture": arch or "amd64", "os": os_name or "linux"}
        entries.append(entry)
    document: dict[str, Any] = {"schemaVersion": 2, "mediaType": media_type, "manifests": entries}
    if annotations:
        document["annotations"] = dict(annotations)
    return _dumps(document)


def parse_manifest(content: bytes) -> dict[str, Any]:
    """Fields the World keeps, read back from real manifest bytes (pushed or given).

    Returns mediaType, artifactType, subject digest, children digests, layers,
    config and annotations; raises ValueError when the bytes are not a manifest.
    """
    try:
        document = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(document, dict) or document.get("schemaVersion") != 2:
        raise ValueError("not a schemaVersion 2 manifest")
    media_type = document.get("mediaType")
    if media_type is None:
        media_type = OCI_INDEX if "manifests" in document else OCI_MANIFEST
    config = document.get("config") or None
    subject = document.get("subject") or None
    return {
        "media_type": media_type,
        "artifact_type": document.get("artifactType")
        or (
            config.get("mediaType")
            if config and config.get("mediaType") not in (OCI_CONFIG, DOCKER_CONFIG, OCI_EMPTY)
            else None
        ),
        "subject": subject.get("digest") if isinstance(subject, dict) else None,
        "children": [m.get("digest") for m in document.get("manifests", []) if isinstance(m, dict)],
        "layers": [(layer.get("digest"), int(layer.get("size", 0))) for layer in document.get("layers", [])],
        "config": (config.get("digest"), int(config.get("size", 0))) if isinstance(config, dict) else None,
        "annotations": dict(document.get("annotations") or {}),
    }
