"""What the gate knows about one pushed image: the facts a verdict is computed from.

Evidence arrives piecemeal. The manifest (annotations, size, config labels) is read
once at push time and never changes for a digest; referrers (signatures, SBOMs) are
pushed after the image; Defender's findings appear minutes later through Resource
Graph. ``None`` means "not looked at yet", which the planner tells apart from "looked,
and found nothing". Every type here round-trips through JSON for the state store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Media types of a multi-platform image: its children are the images Defender scans.
INDEX_MEDIA_TYPES = frozenset(
    {"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}
)


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One manifest in one repository. ``registry`` is the resource name, ``registry_id`` its ARM id."""

    registry: str
    login_server: str
    repository: str
    digest: str
    registry_id: str = ""

    @property
    def key(self) -> str:
        """The image's identity in the gate's state: ``<login server>/<repository>@<digest>``."""
        return f"{self.login_server}/{self.repository}@{self.digest}"

    def with_digest(self, digest: str) -> ImageRef:
        return ImageRef(self.registry, self.login_server, self.repository, digest, self.registry_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "loginServer": self.login_server,
            "repository": self.repository,
            "digest": self.digest,
            "registryId": self.registry_id,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ImageRef:
        return cls(
            registry=str(value["registry"]),
            login_server=str(value["loginServer"]),
            repository=str(value["repository"]),
            digest=str(value["digest"]),
            registry_id=str(value.get("registryId") or ""),
        )


@dataclass(frozen=True, slots=True)
class ManifestFacts:
    """What the manifest itself says. ``content`` is its exact bytes (as text), kept so that a
    tag can be restored onto it even while the manifest is locked against reads."""

    media_type: str
    size: int  # config + layers: what a pull downloads
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    artifact_type: str | None = None
    subject: str | None = None  # set on referrers (signatures, SBOMs)
    children: tuple[str, ...] = ()  # an index's platform images
    content: str = ""

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES

    def to_dict(self) -> dict[str, Any]:
        return {
            "mediaType": self.media_type,
            "size": self.size,
            "annotations": dict(self.annotations),
            "labels": dict(self.labels),
            "artifactType": self.artifact_type,
            "subject": self.subject,
            "children": list(self.children),
            "content": self.content,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> ManifestFacts:
        return cls(
            media_type=str(value.get("mediaType") or ""),
            size=int(value.get("size") or 0),
            annotations=dict(value.get("annotations") or {}),
            labels=dict(value.get("labels") or {}),
            artifact_type=value.get("artifactType"),
            subject=value.get("subject"),
            children=tuple(value.get("children") or ()),
            content=str(value.get("content") or ""),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One Defender sub-assessment row for a digest. ``status`` is Unhealthy, Healthy or NotApplicable."""

    digest: str
    cve: str
    severity: str
    status: str
    fix_status: str = "Unknown"
    fixed_version: str = ""
    package: str = ""
    cause: str = ""
    registry_host: str = ""  # artifactDetails.registryHost: the login server
    repository: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "registryHost": self.registry_host,
            "repository": self.repository,
            "digest": self.digest,
            "cve": self.cve,
            "severity": self.severity,
            "status": self.status,
            "fixStatus": self.fix_status,
            "fixedVersion": self.fixed_version,
            "package": self.package,
            "cause": self.cause,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Finding:
        return cls(
            digest=str(value.get("digest") or ""),
            cve=str(value.get("cve") or ""),
            severity=str(value.get("severity") or ""),
            status=str(value.get("status") or ""),
            fix_status=str(value.get("fixStatus") or "Unknown"),
            fixed_version=str(value.get("fixedVersion") or ""),
            package=str(value.get("package") or ""),
            cause=str(value.get("cause") or ""),
            registry_host=str(value.get("registryHost") or ""),
            repository=str(value.get("repository") or ""),
        )


@dataclass(frozen=True, slots=True)
class Scan:
    """Defender's report on an image (on each platform image, for an index).

    Defender reports an image it scanned with at least one sub-assessment, a Healthy
    one when it found nothing; an image with no rows at all has not been scanned yet.
    ``unscanned`` lists the digests still without a row.
    """

    findings: tuple[Finding, ...] = ()
    unscanned: tuple[str, ...] = ()
    checked_at: datetime | None = None

    @property
    def complete(self) -> bool:
        return not self.unscanned

    def to_dict(self) -> dict[str, Any]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "unscanned": list(self.unscanned),
            "checkedAt": self.checked_at.isoformat() if self.checked_at else None,
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Scan:
        checked = value.get("checkedAt")
        return cls(
            findings=tuple(Finding.from_dict(f) for f in value.get("findings") or ()),
            unscanned=tuple(value.get("unscanned") or ()),
            checked_at=datetime.fromisoformat(checked) if checked else None,
        )


@dataclass(frozen=True, slots=True)
class Referrer:
    """A manifest whose ``subject`` is the image, listed by the OCI referrers API."""

    digest: str
    artifact_type: str

    def to_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "artifactType": self.artifact_type}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Referrer:
        return cls(digest=str(value["digest"]), artifact_type=str(value.get("artifactType") or ""))


@dataclass(frozen=True, slots=True)
class TagConflict:
    """A push that moved an immutable tag: ``tag`` already named ``previous``."""

    tag: str
    previous: str
    pattern: str

    def to_dict(self) -> dict[str, Any]:
        return {"tag": self.tag, "previous": self.previous, "pattern": self.pattern}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> TagConflict:
        return cls(
            tag=str(value["tag"]), previous=str(value["previous"]), pattern=str(value.get("pattern", ""))
        )


@dataclass(frozen=True, slots=True)
class Evidence:
    """Everything a verdict is computed from, for one image at one moment."""

    image: ImageRef
    first_seen: datetime
    tags: tuple[str, ...] = ()
    manifest: ManifestFacts | None = None
    scan: Scan | None = None
    referrers: tuple[Referrer, ...] | None = None
    conflicts: tuple[TagConflict, ...] = ()
    quarantine_enabled: bool = False  # the registry's quarantine policy
    # An index's platform images that were denied on their own: the index cannot pass.
    denied_children: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The evidence as published with a verdict (manifest bytes left out)."""
        manifest = self.manifest.to_dict() if self.manifest else None
        if manifest is not None:
            manifest.pop("content", None)
        return {
            "image": self.image.to_dict(),
            "firstSeen": self.first_seen.isoformat(),
            "tags": list(self.tags),
            "manifest": manifest,
            "scan": self.scan.to_dict() if self.scan else None,
            "referrers": [r.to_dict() for r in self.referrers] if self.referrers is not None else None,
            "tagConflicts": [c.to_dict() for c in self.conflicts],
            "quarantinePolicyEnabled": self.quarantine_enabled,
            "deniedPlatformImages": list(self.denied_children),
        }


#: Layer media types of cosign's tag-scheme artifacts: simple signing payloads, DSSE/in-toto
#: attestations, and SPDX/CycloneDX SBOMs.
COSIGN_LAYER_TYPES = frozenset(
    {
        "application/vnd.dev.cosign.simplesigning.v1+json",
        "application/vnd.dsse.envelope.v1+json",
        "application/vnd.in-toto+json",
        "application/spdx+json",
        "text/spdx",
        "text/spdx+xml",
        "application/vnd.cyclonedx+json",
        "application/vnd.cyclonedx+xml",
        "application/vnd.cyclonedx",
    }
)


def cosign_layers(content: str) -> bool:
    """Whether a manifest's layers are all (and at least one) cosign artifact media types."""
    try:
        body = json.loads(content) if content else None
    except ValueError:
        return False
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list) or not layers:
        return False
    return all(isinstance(layer, dict) and layer.get("mediaType") in COSIGN_LAYER_TYPES for layer in layers)
