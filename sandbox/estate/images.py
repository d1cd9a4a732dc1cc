"""Image references, and the mapping between estate names and sandbox login servers.

An estate names its registries' images as Azure does, ``<registry>.azurecr.io/repo:tag``
(or through another endpoint of the registry, ``<registry>.<region>.geo.azurecr.io``, which
is left as written, as a workload would have it),
so that an estate file does not depend on the ports a server happens to get. When a
server assigns ports, :func:`apply_login_servers` rewrites those references in the
in-cluster objects to ``127.0.0.1:<port>/repo:tag`` (the login server ARM reports, so
the app matches pod images to registries exactly as in Azure); ``dump_estate`` maps
them back with :func:`estate_image`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sandbox.world import World

ACR_SUFFIX = ".azurecr.io"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# A registry's endpoints, as a workload may name them: the login server, a replica's
# regional endpoint or a data endpoint, any case, with or without the HTTPS port.
_ACR_ENDPOINT = re.compile(r"(?P<name>[a-z0-9]+)(?:\.[a-z0-9]+\.(?:geo|data))?\.azurecr\.io(?::443)?")


@dataclass(frozen=True, slots=True)
class ImageRef:
    host: str
    repository: str
    tag: str | None
    digest: str | None
    registry_name: str | None  # the estate registry, when the host is one of ours

    def __str__(self) -> str:
        suffix = f"@{self.digest}" if self.digest else f":{self.tag}"
        return f"{self.host}/{self.repository}{suffix}"


def parse_image_ref(text: str, *, short_registry: bool = False) -> ImageRef | None:
    """Parse ``host/repo[:tag][@digest]``; with ``short_registry`` the first part is a registry name."""
    text = text.strip()
    if not text or " " in text:
        return None
    name, _, digest = text.partition("@")
    if digest and not _DIGEST.match(digest):
        return None
    tag = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not tag:
            return None
    parts = name.split("/")
    if short_registry:
        if len(parts) < 2:
            return None
        host = parts[0]
        registry = host[: -len(ACR_SUFFIX)] if host.endswith(ACR_SUFFIX) else host
        return ImageRef(
            host, "/".join(parts[1:]), tag or (None if digest else "latest"), digest or None, registry
        )
    if len(parts) >= 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        host, repo_parts = parts[0], parts[1:]
    else:
        host, repo_parts = "docker.io", (parts if len(parts) >= 2 else ["library", *parts])
    endpoint = _ACR_ENDPOINT.fullmatch(host.lower())
    registry_name = endpoint["name"] if endpoint else None
    if not all(repo_parts):
        return None
    return ImageRef(
        host, "/".join(repo_parts), tag or (None if digest else "latest"), digest or None, registry_name
    )


def _rewrite(obj: dict[str, Any], mapping: list[tuple[str, str]]) -> None:
    """Rewrite image prefixes in a pod, a pod template (workloads, ReplicaSets, Jobs,
    replication controllers) or a cronjob's job template, in place."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec", {})
    elif "template" in spec:
        spec = spec["template"].get("spec", {})
    for container in spec.get("containers", ()):
        container["image"] = _mapped(container.get("image", ""), mapping)
    for status in (obj.get("status") or {}).get("containerStatuses", ()):
        status["image"] = _mapped(status.get("image", ""), mapping)
        status["imageID"] = _mapped(status.get("imageID", ""), mapping)


def _mapped(image: str, mapping: list[tuple[str, str]]) -> str:
    for old, new in mapping:
        if image.startswith(old):
            return new + image[len(old) :]
    return image


def apply_login_servers(world: World) -> None:
    """Point ``<name>.azurecr.io/`` image references at each registry's sandbox login server."""
    mapping = [(f"{r.name}{ACR_SUFFIX}/", f"{r.login_server}/") for r in world.registries.values() if r.port]
    mapping += [
        (f"{r.name.lower()}{ACR_SUFFIX}/", f"{r.login_server}/")
        for r in world.registries.values()
        if r.port and r.name != r.name.lower()
    ]
    if not mapping:
        return
    with world.lock:
        for cluster in world.clusters.values():
            kube = cluster.kube
            for store in (
                kube.pods,
                kube.deployments,
                kube.statefulsets,
                kube.daemonsets,
                kube.cronjobs,
                kube.replicasets,
                kube.jobs,
                kube.replicationcontrollers,
            ):
                for obj in store.values():
                    _rewrite(obj, mapping)


def estate_image(world: World, image: str) -> str:
    """The estate form of an image reference (login server → ``<name>.azurecr.io``)."""
    if not image.startswith("127.0.0.1:"):
        return image
    host, _, rest = image.partition("/")
    for registry in world.registries.values():
        if registry.port and registry.login_server == host:
            return f"{registry.name}{ACR_SUFFIX}/{rest}"
    return image


def default_image_id(world: World, image: str) -> str:
    """The imageID a container runs when the estate does not say otherwise: the digest the
    reference resolves to now (for the estate's registries) or a stable made-up digest."""
    from sandbox.estate.manifests import seeded_digest

    ref = parse_image_ref(image)
    if ref is None:
        return ""
    base = f"{ref.host}/{ref.repository}"
    if ref.digest:
        return f"{base}@{ref.digest}"
    if ref.registry_name is not None:
        registry = world.registries.get(ref.registry_name) or next(
            (r for r in world.registries.values() if r.name.lower() == ref.registry_name.lower()), None
        )
        repo = registry.repositories.get(ref.repository) if registry else None
        tag = repo.tags.get(ref.tag or "latest") if repo else None
        return f"{base}@{tag.digest}" if tag else ""
    return f"{base}@{seeded_digest(image)}"
