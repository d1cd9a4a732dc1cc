"""Which images are in use: parsing image references and indexing them by registry.

Kubernetes names images the way a container runtime pulls them:
``myreg.azurecr.io/team/api:1.4``, ``...@sha256:…``, both at once, or a pod
status ``imageID`` such as ``docker-pullable://myreg.azurecr.io/team/api@sha256:…``.
A registry answers at several hosts (its login server, each replica's regional
endpoint, its data endpoints; ``ops.registries``), in any case and with or without
``:443``: every one of them counts as the registry, so its images are indexed under
its login server whichever spelling a workload uses.
Purge matches an image by digest *and* by tag (a tag is resolved to the manifest it
points at now, through the registry's own tag list), so both forms are kept.

The index is computed once per run by ``purge_schedule`` and stored per registry,
so every batch of repositories reads the same answer instead of listing 100k pods
again; :func:`split_parts`/:func:`join_parts` bound each stored record's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ops.purge.inventory import RegistryRef
from ops.registries import normalize_host

_SCHEMES = ("docker-pullable://", "docker://", "containerd://", "cri-o://")
_DEFAULT_HOST = "docker.io"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A parsed image reference. ``host`` is lower-case; ``tag`` and ``digest`` may both be set."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class ImageUse:
    """One image a workload runs or would run, and who: ``cluster/namespace/kind/name``."""

    image: str
    user: str


def parse_image(text: str) -> ImageRef | None:
    """Parse ``text``; None for what names no repository (a bare ``sha256:…`` image ID)."""
    ref = text.strip()
    for scheme in _SCHEMES:
        if ref.startswith(scheme):
            ref = ref[len(scheme) :]
            break
    if not ref or ref.startswith("sha256:"):
        return None
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not digest.startswith("sha256:") and ":" not in digest:
            return None
    host, _, rest = ref.partition("/")
    if not rest or not ("." in host or ":" in host or host == "localhost"):
        host, rest = _DEFAULT_HOST, ref
    tag = None
    last_slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > last_slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
    if not rest:
        return None
    if tag is None and digest is None:
        tag = "latest"
    # A registry's repositories and digests are lower case; a reference spelled otherwise
    # still names them (a runtime may refuse to pull it, but protecting it costs nothing).
    return ImageRef(
        host=host.lower(), repository=rest.lower(), tag=tag, digest=digest.lower() if digest else None
    )


@dataclass(slots=True)
class RegistryInUse:
    """What runs from one registry: ``repo@digest`` → user and ``repo:tag`` → user."""

    digests: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def digest_user(self, repository: str, digest: str) -> str | None:
        return self.digests.get(f"{repository}@{digest}")

    def tag_user(self, repository: str, tag: str) -> str | None:
        return self.tags.get(f"{repository}:{tag}")

    def add(self, ref: ImageRef, user: str) -> None:
        # The first user seen is enough to explain a protection; keeping one bounds memory.
        if ref.digest:
            self.digests.setdefault(f"{ref.repository}@{ref.digest}", user)
        if ref.tag:
            self.tags.setdefault(f"{ref.repository}:{ref.tag}", user)

    def __len__(self) -> int:
        return len(self.digests) + len(self.tags)


@dataclass(slots=True)
class InUseIndex:
    """In-use images of every registry in scope, plus the clusters that could not be read.

    ``unreadable`` maps a cluster name to why it could not be read; purge deletes
    nothing in a registry while any cluster in scope is unreadable, unless the
    policy allows that cluster to be. ``last_seen`` maps a *stopped* cluster whose
    last-known in-use set stands in for it to when that set was read (the cluster was
    running then), so that plans can say how old the answer is.
    """

    registries: dict[str, RegistryInUse] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    clusters: tuple[str, ...] = ()
    last_seen: dict[str, datetime] = field(default_factory=dict)

    def for_host(self, login_server: str) -> RegistryInUse:
        return self.registries.get(login_server.lower()) or RegistryInUse()


def build_in_use(
    uses: Iterable[ImageUse],
    *,
    hosts: Iterable[str],
    aliases: Mapping[str, str] | None = None,
    clusters: Sequence[str] = (),
    unreadable: Mapping[str, str] | None = None,
) -> InUseIndex:
    """Index ``uses`` by registry, keeping only images from ``hosts`` (our registries' login
    servers) or from ``aliases`` (any other endpoint of theirs → its login server)."""
    wanted = {h.lower(): RegistryInUse() for h in hosts}
    route = {normalize_host(h): h.lower() for h in wanted}
    route.update({normalize_host(alias): login.lower() for alias, login in (aliases or {}).items()})
    for use in uses:
        ref = parse_image(use.image)
        if ref is None:
            continue
        login = route.get(normalize_host(ref.host))
        if login is not None:
            wanted.setdefault(login, RegistryInUse()).add(ref, use.user)
    return InUseIndex(registries=wanted, unreadable=dict(unreadable or {}), clusters=tuple(clusters))


def endpoint_aliases(registries: Iterable[RegistryRef]) -> dict[str, str]:
    """Every endpoint of every registry → its login server (see ``ops.registries``)."""
    return {endpoint: r.login_server.lower() for r in registries for endpoint in r.endpoints}


def merge_in_use(into: InUseIndex, other: InUseIndex) -> None:
    """Add ``other``'s images (unreadable clusters, last-seen times) to ``into``; the first
    user seen stays."""
    for host, found in other.registries.items():
        target = into.registries.setdefault(host, RegistryInUse())
        for key, user in found.digests.items():
            target.digests.setdefault(key, user)
        for key, user in found.tags.items():
            target.tags.setdefault(key, user)
    into.unreadable.update(other.unreadable)
    into.last_seen.update(other.last_seen)


def split_parts(in_use: RegistryInUse, *, max_entries: int = 2000) -> list[dict[str, Any]]:
    """``in_use`` as JSON documents of at most ``max_entries`` entries each (at least one).

    An Azure Table entity holds at most 1 MiB (strings count twice, as UTF-16); 2,000
    entries of ~150 characters stay well under that.
    """
    items = [("d", k, v) for k, v in in_use.digests.items()] + [("t", k, v) for k, v in in_use.tags.items()]
    parts: list[dict[str, Any]] = []
    for start in range(0, max(len(items), 1), max_entries):
        chunk = items[start : start + max_entries]
        parts.append(
            {
                "digests": {k: v for kind, k, v in chunk if kind == "d"},
                "tags": {k: v for kind, k, v in chunk if kind == "t"},
            }
        )
    return parts


def join_parts(parts: Iterable[Mapping[str, Any]]) -> RegistryInUse:
    joined = RegistryInUse()
    for part in parts:
        joined.digests.update(part.get("digests") or {})
        joined.tags.update(part.get("tags") or {})
    return joined
