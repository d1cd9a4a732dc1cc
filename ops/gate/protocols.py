"""The doors the gate needs to the outside, as Protocols; ``ops.services`` passes adapters in.

Every method raises ``ops.errors`` (never SDK exceptions): ``TransientError`` for
throttling and 5xx, ``NotFound`` for what is gone, ``Forbidden`` for a missing role.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ops.gate.evidence import Finding, ImageRef, ManifestFacts, Referrer
from ops.purge.inventory import RegistryRef


class RegistryGate(Protocol):
    """One registry's data plane: read what a verdict needs, and block or release images."""

    def read_manifest(self, repository: str, digest: str, *, labels: bool) -> ManifestFacts:
        """The manifest's facts and bytes; ``labels`` also reads the image config's labels."""
        ...

    def list_referrers(self, repository: str, digest: str) -> Sequence[Referrer]:
        """Every manifest whose subject is ``digest`` (the OCI referrers API)."""
        ...

    def set_read_enabled(self, repository: str, digest: str, enabled: bool) -> None:
        """Lock (False) or unlock (True) pulls of the manifest."""
        ...

    def set_tag_read_enabled(self, repository: str, tag: str, enabled: bool) -> None:
        """Lock (False) or unlock (True) pulls by ``tag``; pulls by digest are not affected."""
        ...

    def set_quarantine(self, repository: str, digest: str, state: str, details: str) -> None:
        """Set ``quarantineState`` (Quarantined, Passed or Failed) with ``quarantineDetails``."""
        ...

    def untag(self, repository: str, tag: str) -> None: ...

    def read_manifest_readable(self, repository: str, digest: str) -> bool:
        """Whether pulls of the manifest are enabled (``readEnabled``)."""
        ...

    def read_tag_readable(self, repository: str, tag: str) -> bool:
        """Whether pulls by ``tag`` are enabled."""
        ...

    def read_quarantine(self, repository: str, digest: str) -> str | None:
        """The manifest's ``quarantineState``; None when it has none."""
        ...

    def put_tag(self, repository: str, tag: str, content: str, media_type: str) -> None:
        """Point ``tag`` at the manifest with exactly these bytes (a re-tag)."""
        ...

    def resolve_tag(self, repository: str, tag: str) -> str:
        """The digest ``tag`` names now (from its metadata: a read-locked tag resolves too)."""
        ...


class RegistryGates(Protocol):
    """Builds (and caches) the data-plane client of an image's registry."""

    def __call__(self, image: ImageRef) -> RegistryGate: ...


class RegistryDirectory(Protocol):
    """ARM: the registries in scope, and what each one's configuration says about quarantine."""

    def resolve_registry(self, registry_id: str) -> RegistryRef:
        """The registry with this ARM id as ARM reports it: login server, SKU, every endpoint.
        InvalidInput for an id that names no registry in scope."""
        ...

    def quarantine_enabled(self, image: ImageRef) -> bool:
        """Whether the registry's ``policies.quarantinePolicy.status`` is enabled."""
        ...

    def find_registry(self, name: str) -> tuple[str, str, str] | None:
        """(name, login server, ARM id) of the registry with this name or login server."""
        ...

    def list_registry_names(self) -> Sequence[str]:
        """The names of the registries in scope (to suggest one for a misspelt name)."""
        ...


class FindingsSource(Protocol):
    """Defender for Containers through Resource Graph."""

    def list_findings(self, digests: Sequence[str]) -> Sequence[Finding]:
        """Every sub-assessment row for these digests, Healthy ones included: one query."""
        ...


class VerdictPublisher(Protocol):
    """The Event Grid topic verdicts are published to."""

    def publish(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Send CloudEvents 1.0 (dicts) in one batch."""
        ...
