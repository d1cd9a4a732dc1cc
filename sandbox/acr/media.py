"""Manifest formats: media types, digests, and what a manifest's bytes say about it.

Both the ``/v2`` PUT handler and ``sandbox.acr.pushing`` turn raw manifest bytes into
a :class:`sandbox.world.Manifest` here, so a manifest pushed over HTTPS and one
pushed in-process carry the same layers, subject, artifact type and platform. The
rules follow the OCI image and distribution specs (and Docker's schema 2), which is
what ACR validates against.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sandbox.estate.manifests import (
    DOCKER_CONFIG,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_EMPTY,
    OCI_INDEX,
    OCI_MANIFEST,
)
from sandbox.estate.manifests import DOCKER_LIST as DOCKER_MANIFEST_LIST
from sandbox.estate.manifests import digest_of as compute_digest

#: The pre-1.1 OCI artifact manifest that ACR's preview accepted; listed so that
#: clients asking for it are answered rather than refused.
OCI_ARTIFACT_MANIFEST = "application/vnd.oci.artifact.manifest.v1+json"

INDEX_TYPES = frozenset({DOCKER_MANIFEST_LIST, OCI_INDEX})
IMAGE_TYPES = frozenset({DOCKER_MANIFEST, OCI_MANIFEST})
MANIFEST_TYPES = INDEX_TYPES | IMAGE_TYPES | {OCI_ARTIFACT_MANIFEST}

#: Configs that make a manifest an image rather than an artifact.
IMAGE_CONFIG_TYPES = frozenset({DOCKER_CONFIG, OCI_CONFIG})

_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")
#: The distribution spec's tag grammar.
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


class ManifestInvalid(ValueError):
    """The bytes are not a manifest this registry accepts. ``code`` is the OCI error code."""

    def __init__(self, message: str, *, code: str = "MANIFEST_INVALID", detail: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ParsedManifest:
    """What the registry keeps from a manifest's bytes (see :class:`sandbox.world.Manifest`)."""

    digest: str
    media_type: str
    config: tuple[str, int] | None
    config_media_type: str | None
    layers: list[tuple[str, int]]
    children: list[str]
    subject: str | None
    artifact_type: str | None
    annotations: dict[str, str] = field(default_factory=dict)


def is_digest(reference: str) -> bool:
    return bool(_DIGEST.match(reference))


def looks_like_digest(reference: str) -> bool:
    """True for anything shaped ``algorithm:hex``, valid or not (a tag cannot contain ':')."""
    return ":" in reference


def parse_manifest(content: bytes, media_type: str | None) -> ParsedManifest:
    """Validate manifest bytes and extract what listings, referrers and events need.

    ``media_type`` is the request's Content-Type; when absent the body's own
    ``mediaType`` decides, as registries do for clients that omit the header.
    """
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise ManifestInvalid(f"manifest is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ManifestInvalid("manifest must be a JSON object")
    declared = body.get("mediaType")
    kind = (media_type or "").split(";")[0].strip() or declared
    if kind not in MANIFEST_TYPES:
        raise ManifestInvalid(f"manifest media type {kind!r} is not supported", code="MANIFEST_INVALID")
    if declared is not None and declared != kind:
        raise ManifestInvalid(f"mediaType in manifest ({declared}) does not match Content-Type ({kind})")
    if kind != OCI_ARTIFACT_MANIFEST and body.get("schemaVersion") != 2:
        raise ManifestInvalid("schemaVersion must be 2")
    config = _descriptor(body.get("config"), "config") if "config" in body else None
    if kind in IMAGE_TYPES and config is None:
        raise ManifestInvalid("an image manifest needs a config descriptor")
    layer_key = "blobs" if kind == OCI_ARTIFACT_MANIFEST else "layers"
    layers = [_descriptor(item, f"{layer_key}[{i}]") for i, item in enumerate(body.get(layer_key) or [])]
    children = []
    if kind in INDEX_TYPES:
        manifests = body.get("manifests")
        if not isinstance(manifests, list):
            raise ManifestInvalid("an index needs a manifests list")
        children = [_descriptor(item, f"manifests[{i}]")["digest"] for i, item in enumerate(manifests)]
    subject = _descriptor(body["subject"], "subject")["digest"] if body.get("subject") else None
    config_type = config["mediaType"] if config else None
    artifact_type = body.get("artifactType")
    if artifact_type is None and config_type and config_type not in IMAGE_CONFIG_TYPES | {OCI_EMPTY}:
        # OCI image spec: without artifactType, an artifact is typed by its config.
        artifact_type = config_type
    annotations = body.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise ManifestInvalid("annotations must be an object of strings")
    return ParsedManifest(
        digest=compute_digest(content),
        media_type=kind,
        config=(config["digest"], config["size"]) if config else None,
        config_media_type=config_type,
        layers=[(layer["digest"], layer["size"]) for layer in layers],
        children=children,
        subject=subject,
        artifact_type=artifact_type,
        annotations={str(k): str(v) for k, v in annotations.items()},
    )


def _descriptor(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestInvalid(f"{where} must be a descriptor object")
    digest = value.get("digest")
    size = value.get("size")
    if not isinstance(digest, str) or not is_digest(digest):
        raise ManifestInvalid(f"{where}.digest {digest!r} is not a sha256 digest", code="DIGEST_INVALID")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestInvalid(f"{where}.size must be a non-negative integer")
    if not isinstance(value.get("mediaType", ""), str):
        raise ManifestInvalid(f"{where}.mediaType must be a string")
    return value


def accepts(accept_header: str | None, media_type: str) -> bool:
    """Whether a client's Accept header allows ``media_type`` (no header allows anything)."""
    if not accept_header:
        return True
    for part in accept_header.split(","):
        kind = part.split(";")[0].strip()
        if kind in ("*/*", media_type) or kind == media_type.split("/")[0] + "/*":
            return True
    return False


def read_platform(config_bytes: bytes | None) -> tuple[str | None, str | None]:
    """(architecture, os) from an image config blob, as ACR shows them in listings."""
    if not config_bytes:
        return None, None
    try:
        config = json.loads(config_bytes)
    except ValueError:
        return None, None
    if not isinstance(config, dict):
        return None, None
    arch, os_name = config.get("architecture"), config.get("os")
    return (arch if isinstance(arch, str) else None), (os_name if isinstance(os_name, str) else None)


def index_platforms(content: bytes) -> list[dict[str, str]]:
    """``references`` of an index as ACR lists them: digest, architecture, os per child."""
    try:
        body = json.loads(content)
    except ValueError:
        return []
    out = []
    for item in body.get("manifests") or []:
        platform = item.get("platform") or {}
        ref = {"digest": item.get("digest", "")}
        if platform.get("architecture"):
            ref["architecture"] = platform["architecture"]
        if platform.get("os"):
            ref["os"] = platform["os"]
        out.append(ref)
    return out
