"""The doors purge needs to the outside, as Protocols; ``ops.services`` passes adapters in.

Every method raises ``ops.errors`` (never SDK exceptions): ``TransientError`` for
throttling and 5xx, ``NotFound`` for what is gone, ``Forbidden`` for missing roles.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from ops.purge.images import ImageUse
from ops.purge.inventory import ClusterRef, RegistryRef, RepositoryState


class Directory(Protocol):
    """ARM: the registries and AKS clusters in the subscriptions in scope."""

    def list_registries(self) -> Sequence[RegistryRef]: ...

    def list_clusters(self) -> Sequence[ClusterRef]: ...


class ClusterReader(Protocol):
    """One cluster's Kubernetes API: every image its pods and pod templates name.

    Pod templates are those of every kind that may run them again: deployments and
    their ReplicaSets (rollback targets), statefulsets, daemonsets, replication
    controllers, cronjobs and Jobs. They count whatever their replicas (a deployment
    scaled to zero still uses its image). Raises an OpsError when the cluster cannot
    be read in full.
    """

    def list_image_uses(self, cluster: ClusterRef) -> Iterable[ImageUse]: ...


class RegistryClient(Protocol):
    """One registry's data plane."""

    def list_repositories(self) -> Iterable[str]: ...

    def prepare(self, repositories: Sequence[str]) -> None:
        """Get ready to read and change these repositories (one access token for all of them)."""
        ...

    def read_repository(self, repository: str) -> RepositoryState:
        """Every manifest (with children and subject) and tag, with their attributes."""
        ...

    def read_layers(self, repository: str, digest: str) -> Sequence[tuple[str, int]]:
        """The config and layer blobs (digest, size) a manifest references; empty for an index."""
        ...

    def delete_manifest(self, repository: str, digest: str) -> None: ...

    def unlock_manifest(self, repository: str, digest: str) -> None: ...

    def unlock_tag(self, repository: str, tag: str) -> None: ...

    def read_manifest_flags(self, repository: str, digest: str) -> tuple[bool, bool]:
        """The manifest's (deleteEnabled, writeEnabled); NotFound when it is gone."""
        ...

    def read_tag_flags(self, repository: str, tag: str) -> tuple[bool, bool]:
        """The tag's (deleteEnabled, writeEnabled); NotFound when it is gone."""
        ...


class RegistryClients(Protocol):
    """Builds (and caches) the data-plane client of a registry."""

    def __call__(self, registry: RegistryRef) -> RegistryClient: ...


class WorkQueue(Protocol):
    """The Storage queue that ``purge_repository`` is triggered by."""

    def send(self, body: str) -> None: ...
