"""What purge observes: registries, clusters, repositories, manifests and tags.

These frozen records are what adapters return and what the pure planner reads.
They hold only the fields purge decides on, so that a 100k-manifest estate stays
small in memory. A time the registry did not give (or gave unreadably) is ``None``:
unknown, never "long ago", so the planner protects what it cannot date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

#: Media types of manifests that list other manifests (multi-arch images).
INDEX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)

#: Media types whose content may carry an OCI ``subject`` (a referrer).
SUBJECT_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.artifact.manifest.v1+json",
    }
)


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A registry found through ARM: its name, data-plane host and SKU (for write limits).

    ``endpoints`` are every other host name that serves the registry (see
    :func:`ops.purge.images.registry_hosts`): an image pulled through any of them is
    the registry's image. The login server is the only one the app talks to.
    """

    name: str
    login_server: str
    sku: str = "Premium"
    id: str = ""
    endpoints: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """An AKS cluster found through ARM."""

    name: str
    resource_group: str
    subscription: str
    id: str = ""
    power_state: str = "Running"


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    digest: str
    updated: datetime | None
    delete_enabled: bool = True
    write_enabled: bool = True

    @property
    def locked(self) -> bool:
        return not (self.delete_enabled and self.write_enabled)


@dataclass(frozen=True, slots=True)
class Manifest:
    """One manifest. ``children`` are an index's manifests; ``subject`` makes it a referrer."""

    digest: str
    media_type: str
    created: datetime | None
    updated: datetime | None
    size: int = 0
    tags: tuple[str, ...] = ()
    delete_enabled: bool = True
    write_enabled: bool = True
    children: tuple[str, ...] = ()
    subject: str | None = None
    artifact_type: str | None = None

    @property
    def locked(self) -> bool:
        return not (self.delete_enabled and self.write_enabled)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_MEDIA_TYPES or bool(self.children)


@dataclass(frozen=True, slots=True)
class RepositoryState:
    """One repository as observed: every manifest and every tag, with attributes.

    A repository's own ``deleteEnabled``/``writeEnabled`` lock every manifest in it.
    """

    registry: str
    login_server: str
    repository: str
    manifests: tuple[Manifest, ...]
    tags: tuple[Tag, ...] = ()
    delete_enabled: bool = True
    write_enabled: bool = True

    @property
    def ref(self) -> str:
        return f"{self.registry}/{self.repository}"
