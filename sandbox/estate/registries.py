"""Building registries from an estate: repositories, manifests with real content, tags.

Manifests are built in dependency order (an index after its children, a referrer
after its subject), with references by local ``ref``, tag or digest inside the
repository; see docs/estate.md, "manifests".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.estate import manifests as oci
from sandbox.estate.images import ImageRef
from sandbox.estate.models import (
    AttributesModel,
    ManifestModel,
    RegistryModel,
    RepositoryModel,
    TagModel,
)
from sandbox.world import (
    Attributes,
    Manifest,
    Registry,
    Replication,
    Repository,
    Tag,
    World,
)

_IMAGE_LAYERS = (31_457_280, 4_194_304)
_CONFIG_SIZE = 1_469
_SIGNATURE_SIZE = 2_048


def attributes_of(model: AttributesModel | None) -> Attributes:
    if model is None:
        return Attributes()
    return Attributes(model.delete_enabled, model.write_enabled, model.read_enabled, model.list_enabled)


class RegistryBuilding:
    """The registry half of :class:`~sandbox.estate.building.Builder`."""

    world: World
    now: datetime
    problems: Any
    cache: dict[tuple[str, str], Any]

    def build_registry(self, model: RegistryModel, path: str) -> None:
        world = self.world
        if model.name.lower() in (name.lower() for name in world.registries):
            self.problems.add(f"{path}.name", f"duplicate registry {model.name}")
            return
        sub, group, location = self.place(model.subscription, model.resource_group, model.location, path)
        registry = Registry(
            name=model.name,
            subscription=sub,
            resource_group=group,
            location=location,
            sku=model.sku,
            quarantine_enabled=model.quarantine_enabled,
            admin_user_enabled=model.admin_user_enabled,
            data_endpoint_enabled=model.data_endpoint_enabled,
            tags=dict(model.tags),
            created=self.created_of(model),
        )
        if model.data_endpoint_enabled and model.sku != "Premium":
            self.problems.add(
                f"{path}.dataEndpointEnabled", f"data endpoints need the Premium SKU, not {model.sku}"
            )
        if model.replications and model.sku != "Premium":
            self.problems.add(
                f"{path}.replications", f"geo-replication needs the Premium SKU, not {model.sku}"
            )
        for index, rep in enumerate(model.replications):
            name = rep.name or rep.location
            if name in registry.replications:
                self.problems.add(f"{path}.replications[{index}].name", f"duplicate replication {name}")
            registry.replications[name] = Replication(
                name=name,
                location=rep.location,
                region_endpoint_enabled=rep.region_endpoint_enabled,
                status=rep.status,
                zone_redundancy=rep.zone_redundancy,
            )
        if location not in (r.location for r in registry.replications.values()) and registry.replications:
            # ACR always lists the home region as a replication of a geo-replicated registry.
            registry.replications = {
                location: Replication(name=location, location=location),
                **registry.replications,
            }
        for index, repo in enumerate(model.repositories):
            self.build_repository(registry, repo, f"{path}.repositories[{index}]")
        if model.generate is not None:
            from sandbox.estate.generating import generate_repositories

            generate_repositories(self, registry, model.generate)
        world.registries[registry.name] = registry

    def build_repository(self, registry: Registry, model: RepositoryModel, path: str) -> None:
        if model.name in registry.repositories:
            self.problems.add(f"{path}.name", f"duplicate repository {model.name}")
            return
        repo = Repository(
            name=model.name, created=self.now, updated=self.now, attrs=attributes_of(model.attributes)
        )
        declared: set[str] = set()
        for m_index, manifest in enumerate(model.manifests):
            if manifest.ref:
                declared.add(manifest.ref)
            if manifest.digest:
                declared.add(manifest.digest)
            for tag in manifest.tags:
                name = tag if isinstance(tag, str) else tag.name
                if name in declared and name != manifest.ref:
                    self.problems.add(f"{path}.manifests[{m_index}].tags", f"tag {name!r} is used twice")
                declared.add(name)
        names: dict[str, str] = {}  # ref or tag → digest, for built manifests
        pending = list(enumerate(model.manifests))
        while pending:
            progressed = False
            for entry in list(pending):
                m_index, manifest = entry
                m_path = f"{path}.manifests[{m_index}]"
                outcome = self.build_manifest(registry, repo, manifest, m_index, m_path, names, declared)
                if outcome != "wait":
                    pending.remove(entry)
                    progressed = True
            if not progressed:
                for m_index, manifest in pending:
                    field = "subject" if manifest.kind == "artifact" else "children"
                    self.problems.add(
                        f"{path}.manifests[{m_index}].{field}",
                        "references form a cycle, or name a manifest that cannot be built",
                    )
                break
        if repo.manifests:
            created = [m.created for m in repo.manifests.values()]
            updated = [m.updated for m in repo.manifests.values()] + [t.updated for t in repo.tags.values()]
            repo.created = min(created)
            repo.updated = max(updated)
        if model.created is not None or model.age is not None:
            repo.created = self.created_of(model)
        if model.updated is not None or model.updated_age is not None:
            repo.updated = self.updated_of(model, repo.created)
        registry.repositories[repo.name] = repo

    def resolve_local(
        self, name: str, names: dict[str, str], declared: set[str], repo: Repository
    ) -> str | bool | None:
        """The digest ``name`` refers to in this repository; None = not yet built; False = unknown."""
        if name in names:
            return names[name]
        if name.startswith("sha256:") and name in repo.manifests:
            return name
        if name in declared:
            return None
        return False

    def reference(
        self, name: str, names: dict[str, str], declared: set[str], repo: Repository, path: str
    ) -> str | bool | None:
        """Like :meth:`resolve_local`, reporting an unknown name at ``path`` (then False)."""
        digest = self.resolve_local(name, names, declared, repo)
        if digest is False:
            self.problems.add(path, f"{name!r} is not a ref, tag or digest in {repo.name}")
        return digest

    def build_manifest(
        self,
        registry: Registry,
        repo: Repository,
        model: ManifestModel,
        index: int,
        path: str,
        names: dict[str, str],
        declared: set[str],
    ) -> str:
        """Build one manifest model; returns "done", "error" or "wait" (a reference is not built yet)."""
        created = self.created_of(model)
        updated = self.updated_of(model, created)
        seed = f"{registry.name}/{repo.name}#{index}"
        extra: list[Manifest] = []
        os_name, arch = _platform(model.platform) if model.platform else ("linux", "amd64")
        if model.content is not None:
            content = model.content.encode()
            try:
                fields = oci.parse_manifest(content)
            except ValueError as exc:
                self.problems.add(f"{path}.content", f"is not a manifest ({exc})")
                return "error"
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=fields["media_type"],
                content=content,
                created=created,
                updated=updated,
                artifact_type=fields["artifact_type"],
                subject=fields["subject"],
                children=[d for d in fields["children"] if d],
                layers=fields["layers"],
                config=fields["config"],
                annotations=fields["annotations"],
                # given bytes say nothing of the platform: only an explicit one is recorded
                architecture=arch if model.platform else None,
                os=os_name if model.platform else None,
            )
        elif model.kind == "image":
            media_type = self.media_type_of(
                model, path, default=oci.OCI_MANIFEST, allowed=oci.IMAGE_TYPES, what="an image"
            )
            if media_type is None:
                return "error"
            if model.config is None and not model.layers:
                config, layers, blobs = oci.image_blobs(seed, os_name=os_name, arch=arch)
                registry.blobs.update(blobs)
            else:  # declared by digest and size only: described, not pullable (docs/estate.md)
                config = (
                    (model.config.digest or oci.seeded_digest(seed + "/config"), model.config.size)
                    if model.config
                    else (oci.seeded_digest(seed + "/config"), _CONFIG_SIZE)
                )
                layers = self.layers_of(model, seed, _IMAGE_LAYERS)
            manifest = _image_manifest(
                media_type=media_type,
                config=config,
                layers=layers,
                annotations=model.annotations,
                created=created,
                updated=updated,
                platform=(os_name, arch),
            )
        elif model.kind == "index":
            media_type = self.media_type_of(
                model, path, default=oci.OCI_INDEX, allowed=oci.INDEX_TYPES, what="an index"
            )
            if media_type is None:
                return "error"
            child_type = oci.DOCKER_MANIFEST if media_type == oci.DOCKER_LIST else oci.OCI_MANIFEST
            entries: list[tuple[str, str, int, str | None, str | None]] = []
            for p_index, platform in enumerate(model.platforms):
                try:
                    c_os, c_arch = _platform(platform)
                except ValueError as exc:
                    self.problems.add(f"{path}.platforms[{p_index}]", str(exc))
                    return "error"
                c_seed = f"{seed}/{platform}"
                c_config, c_layers, blobs = oci.image_blobs(c_seed, os_name=c_os, arch=c_arch)
                registry.blobs.update(blobs)
                child = _image_manifest(
                    media_type=child_type,
                    config=c_config,
                    layers=c_layers,
                    annotations={},
                    created=created,
                    updated=updated,
                    platform=(c_os, c_arch),
                )
                extra.append(child)
                entries.append((child_type, child.digest, len(child.content), c_os, c_arch))
            for c_index, name in enumerate(model.children):
                digest = self.reference(name, names, declared, repo, f"{path}.children[{c_index}]")
                if not isinstance(digest, str):
                    return "wait" if digest is None else "error"
                child = repo.manifests[digest]
                entries.append(
                    (child.media_type, child.digest, len(child.content), child.os, child.architecture)
                )
            content = oci.index_bytes(media_type=media_type, children=entries, annotations=model.annotations)
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=media_type,
                content=content,
                created=created,
                updated=updated,
                children=[entry[1] for entry in entries],
                annotations=dict(model.annotations),
            )
        else:  # artifact
            assert model.artifact_type is not None
            subject_tuple = None
            subject_digest = None
            if model.subject:
                digest = self.reference(model.subject, names, declared, repo, f"{path}.subject")
                if not isinstance(digest, str):
                    return "wait" if digest is None else "error"
                subject = repo.manifests[digest]
                subject_digest = subject.digest
                subject_tuple = (subject.media_type, subject.digest, len(subject.content))
            if model.layers:
                layers = self.layers_of(model, seed, (_SIGNATURE_SIZE,))
            else:
                layer, blobs = oci.artifact_blob(seed, model.artifact_type)
                registry.blobs.update(blobs)
                layers = [layer]
            registry.blobs.setdefault(oci.EMPTY_DIGEST, b"{}")
            content = oci.artifact_manifest_bytes(
                artifact_type=model.artifact_type,
                layers=layers,
                subject=subject_tuple,
                annotations=model.annotations,
            )
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=oci.OCI_MANIFEST,
                content=content,
                created=created,
                updated=updated,
                artifact_type=model.artifact_type,
                subject=subject_digest,
                layers=layers,
                config=(oci.EMPTY_DIGEST, 2),
                annotations=dict(model.annotations),
            )
        if model.digest is not None and model.digest != manifest.digest:
            self.problems.add(
                f"{path}.digest",
                f"{model.digest} is not the digest of this manifest's content ({manifest.digest}); "
                "leave digest out, or give the exact content",
            )
            return "error"
        if manifest.digest in repo.manifests:
            self.problems.add(path, f"describes the same content as another manifest ({manifest.digest})")
            return "error"
        manifest.attrs = attributes_of(model.attributes)
        manifest.quarantine_state = model.quarantine_state
        manifest.quarantine_details = model.quarantine_details
        for child in extra:
            repo.manifests.setdefault(child.digest, child)
        repo.manifests[manifest.digest] = manifest
        if model.ref:
            names[model.ref] = manifest.digest
        names[manifest.digest] = manifest.digest
        for t_index, tag in enumerate(model.tags):
            tag_model = TagModel(name=tag) if isinstance(tag, str) else tag
            if tag_model.name in repo.tags:
                self.problems.add(f"{path}.tags[{t_index}]", f"tag {tag_model.name!r} is used twice")
                continue
            t_created = self.created_of(tag_model, created)
            repo.tags[tag_model.name] = Tag(
                name=tag_model.name,
                digest=manifest.digest,
                created=t_created,
                updated=self.updated_of(
                    tag_model, updated if tag_model.age is None and tag_model.created is None else t_created
                ),
                attrs=attributes_of(tag_model.attributes),
            )
            names[tag_model.name] = manifest.digest
        return "done"

    def media_type_of(
        self, model: ManifestModel, path: str, *, default: str, allowed: frozenset[str], what: str
    ) -> str | None:
        """The model's media type (``default`` when not given); None, reported, if not ``allowed``."""
        media_type = model.media_type or default
        if media_type not in allowed:
            self.problems.add(f"{path}.mediaType", f"{what} is one of {', '.join(sorted(allowed))}")
            return None
        return media_type

    def layers_of(self, model: ManifestModel, seed: str, default: tuple[int, ...]) -> list[tuple[str, int]]:
        if not model.layers:
            return _seeded_layers(seed, default)
        out = []
        for i, layer in enumerate(model.layers):
            if isinstance(layer, int):
                out.append((oci.seeded_digest(f"{seed}/layer{i}"), layer))
            else:
                out.append((layer.digest or oci.seeded_digest(f"{seed}/layer{i}"), layer.size))
        return out

    def find_registry(self, name: str | None) -> Registry | None:
        if name is None:
            return None
        return self.world.registries.get(name) or next(
            (r for r in self.world.registries.values() if r.name.lower() == name.lower()), None
        )

    def resolve_ref(self, registry: Registry, ref: ImageRef) -> str | None:
        repo = registry.repositories.get(ref.repository)
        if repo is None:
            return None
        if ref.digest:
            return ref.digest if ref.digest in repo.manifests else None
        tag = repo.tags.get(ref.tag or "latest")
        return tag.digest if tag else None


def _platform(text: str) -> tuple[str, str]:
    parts = text.split("/")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"{text!r} is not a platform like linux/amd64")
    return parts[0], parts[1]


def _seeded_layers(seed: str, sizes: tuple[int, ...]) -> list[tuple[str, int]]:
    """Layers of the given sizes whose digests are stable per seed."""
    return [(oci.seeded_digest(f"{seed}/layer{i}"), size) for i, size in enumerate(sizes)]


def _image_manifest(
    *,
    media_type: str,
    config: tuple[str, int],
    layers: list[tuple[str, int]],
    annotations: dict[str, str],
    created: datetime,
    updated: datetime,
    platform: tuple[str, str],
) -> Manifest:
    """An image manifest with its bytes; ``platform`` is (os, architecture)."""
    content = oci.image_manifest_bytes(
        media_type=media_type, config=config, layers=layers, annotations=annotations
    )
    return Manifest(
        digest=oci.digest_of(content),
        media_type=media_type,
        content=content,
        created=created,
        updated=updated,
        layers=layers,
        config=config,
        annotations=dict(annotations),
        architecture=platform[1],
        os=platform[0],
    )
