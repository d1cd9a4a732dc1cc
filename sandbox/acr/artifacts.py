"""What a registry does to its content: push, delete, untag, lock, quarantine.

One implementation of ACR's semantics, used by both the HTTP endpoints (``/v2`` PUT
and DELETE, ``/acr/v1`` PATCH and DELETE) and the in-process ``ops sandbox push``:

* deleting a manifest removes its tags, and the referrers whose ``subject`` it is
  (ACR deletes the graph of artifacts with its subject: Microsoft Learn, "Push and
  pull supply chain artifacts", "Delete all artifacts in the graph");
* a lock refuses: ``writeEnabled=false`` on the repository, manifest or tag refuses
  overwrites and deletes, ``deleteEnabled=false`` refuses deletes, with ACR's
  ``405 REGISTRY_DISALLOWED_OPERATION``;
* with the registry's quarantine policy enabled, a newly pushed manifest starts
  ``Quarantined``;
* every manifest push records ``ImagePushed``, every manifest delete ``ImageDeleted``;
  removing only a tag records nothing (ACR's delete notification is "not triggered
  when only a tag is deleted").

Callers hold no lock; every function here takes ``world.lock`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sandbox.acr import listing, media
from sandbox.acr.errors import (
    RegistryError,
    bad_request,
    digest_invalid,
    disallowed,
    manifest_unknown,
    name_unknown,
    tag_unknown,
)
from sandbox.acr.events import IMAGE_DELETED, IMAGE_PUSHED, Caller, record_image_event
from sandbox.world import Attributes, Manifest, Registry, Repository, Tag, World

QUARANTINE_STATES = ("Quarantined", "Passed", "Failed")
QUARANTINE_FIELDS = frozenset({"quarantineState", "quarantineDetails"})
_ATTRIBUTE_FIELDS = {
    "deleteEnabled": "delete_enabled",
    "writeEnabled": "write_enabled",
    "readEnabled": "read_enabled",
    "listEnabled": "list_enabled",
}


@dataclass(frozen=True, slots=True)
class Pushed:
    manifest: Manifest
    tag: str | None
    created: bool  # a new manifest (False: already stored, perhaps tagged anew)


def get_repository(registry: Registry, name: str) -> Repository:
    repo = registry.repositories.get(name)
    if repo is None:
        raise name_unknown(name)
    return repo


def get_tag(repo: Repository, name: str) -> Tag:
    tag = repo.tags.get(name)
    if tag is None:
        raise tag_unknown(name)
    return tag


def resolve(repo: Repository, reference: str) -> tuple[Manifest, Tag | None]:
    """The manifest a tag or digest names, and the tag when it was a tag; 404 otherwise."""
    if media.looks_like_digest(reference):
        manifest = repo.manifests.get(reference)
        if manifest is None:
            raise manifest_unknown(reference)
        return manifest, None
    tag = repo.tags.get(reference)
    if tag is None or tag.digest not in repo.manifests:
        raise manifest_unknown(reference)
    return repo.manifests[tag.digest], tag


def put_manifest(
    world: World,
    registry: Registry,
    repository: str,
    reference: str,
    content: bytes,
    content_type: str | None,
    *,
    caller: Caller,
) -> Pushed:
    """Store a manifest under a tag or its digest, as ``PUT /v2/<name>/manifests/<reference>``."""
    try:
        parsed = media.parse_manifest(content, content_type)
    except media.ManifestInvalid as exc:
        raise RegistryError(400, exc.code, str(exc), detail=exc.detail) from None
    tag: str | None = None
    if media.looks_like_digest(reference):
        if reference != parsed.digest:
            raise digest_invalid(
                "manifest digest does not match the digest in the reference", {"Digest": reference}
            )
    elif not media.TAG_PATTERN.match(reference):
        raise RegistryError(400, "TAG_INVALID", "manifest tag did not match URI", detail={"Tag": reference})
    else:
        tag = reference
    with world.lock:
        repo = registry.repositories.get(repository)
        _check_references(registry, repo, parsed)
        if repo is not None:
            _refuse_unless(repo.attrs.write_enabled)
            existing_tag = repo.tags.get(tag) if tag else None
            if existing_tag is not None:
                _refuse_unless(existing_tag.attrs.write_enabled)
            existing = repo.manifests.get(parsed.digest)
            if existing is not None and tag is None:
                _refuse_unless(existing.attrs.write_enabled)
        now = world.now()
        if repo is None:
            repo = registry.repositories[repository] = Repository(repository, created=now, updated=now)
            listing.invalidate_catalog(registry)
        manifest = repo.manifests.get(parsed.digest)
        created = manifest is None
        if manifest is None:
            config_bytes = registry.blobs.get(parsed.config[0]) if parsed.config else None
            architecture, os_name = media.read_platform(config_bytes)
            manifest = Manifest(
                digest=parsed.digest,
                media_type=parsed.media_type,
                content=content,
                created=now,
                updated=now,
                artifact_type=parsed.artifact_type,
                subject=parsed.subject,
                children=parsed.children,
                layers=parsed.layers,
                config=parsed.config,
                annotations=parsed.annotations,
                architecture=architecture,
                os=os_name,
                quarantine_state="Quarantined" if registry.quarantine_enabled else None,
                config_media_type=parsed.config_media_type,
            )
            repo.manifests[parsed.digest] = manifest
        if tag is not None:
            current = repo.tags.get(tag)
            if current is None:
                repo.tags[tag] = Tag(tag, parsed.digest, created=now, updated=now)
            elif current.digest != parsed.digest:
                current.digest = parsed.digest
                current.updated = now
        repo.updated = now
        listing.invalidate(repo)
        record_image_event(
            world,
            registry,
            event_type=IMAGE_PUSHED,
            repository=repository,
            digest=parsed.digest,
            media_type=parsed.media_type,
            size=len(content),
            tag=tag,
            caller=caller,
        )
        return Pushed(manifest, tag, created)


def _check_references(registry: Registry, repo: Repository | None, parsed: media.ParsedManifest) -> None:
    """ACR, like the distribution spec, refuses a manifest whose blobs or children are missing."""
    missing = [
        d for d, _ in ([parsed.config] if parsed.config else []) + parsed.layers if d not in registry.blobs
    ]
    if missing:
        raise RegistryError(400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", detail=missing[0])
    children = repo.manifests if repo is not None else {}
    unknown = [child for child in parsed.children if child not in children]
    if unknown:
        raise RegistryError(
            400, "MANIFEST_BLOB_UNKNOWN", "manifest blob unknown to registry", detail=unknown[0]
        )


def delete_manifest(
    world: World, registry: Registry, repository: str, digest: str, *, caller: Caller
) -> list[str]:
    """Delete a manifest by digest with its tags and referrers; the digests deleted, subject first."""
    with world.lock:
        repo = get_repository(registry, repository)
        manifest = repo.manifests.get(digest)
        if manifest is None:
            raise manifest_unknown(digest)
        doomed = _with_referrers(repo, digest)
        for each in doomed:
            _check_deletable(repo, repo.manifests[each])
        for each in doomed:
            _remove_manifest(world, registry, repo, each, caller)
        repo.updated = world.now()
        return doomed


def _with_referrers(repo: Repository, digest: str) -> list[str]:
    """The digest and, transitively, every manifest whose subject is in the set."""
    order = [digest]
    seen = {digest}
    by_subject: dict[str, list[str]] = {}
    for each in repo.manifests.values():
        if each.subject:
            by_subject.setdefault(each.subject, []).append(each.digest)
    for current in order:
        for child in by_subject.get(current, []):
            if child not in seen:
                seen.add(child)
                order.append(child)
    return order


def _check_deletable(repo: Repository, manifest: Manifest) -> None:
    _refuse_unless(repo.attrs.delete_enabled, repo.attrs.write_enabled)
    _refuse_unless(manifest.attrs.delete_enabled, manifest.attrs.write_enabled)
    for tag in repo.tags.values():
        if tag.digest == manifest.digest:
            _refuse_unless(tag.attrs.delete_enabled, tag.attrs.write_enabled)


def _remove_manifest(world: World, registry: Registry, repo: Repository, digest: str, caller: Caller) -> None:
    manifest = repo.manifests.pop(digest)
    for name in [name for name, tag in repo.tags.items() if tag.digest == digest]:
        listing.remember_deleted(repo, tag=repo.tags.pop(name))
    listing.remember_deleted(repo, manifest=manifest)
    record_image_event(
        world,
        registry,
        event_type=IMAGE_DELETED,
        repository=repo.name,
        digest=digest,
        media_type=manifest.media_type,
        size=None,
        tag=None,
        caller=caller,
    )


def untag(world: World, registry: Registry, repository: str, tag_name: str) -> None:
    """Remove a tag, keeping its manifest (``DELETE /acr/v1/<name>/_tags/<tag>``)."""
    with world.lock:
        repo = get_repository(registry, repository)
        tag = get_tag(repo, tag_name)
        _refuse_unless(repo.attrs.delete_enabled, repo.attrs.write_enabled)
        _refuse_unless(tag.attrs.delete_enabled, tag.attrs.write_enabled)
        listing.remember_deleted(repo, tag=repo.tags.pop(tag_name))
        repo.updated = world.now()


def delete_repository(
    world: World, registry: Registry, repository: str, *, caller: Caller
) -> tuple[list[str], list[str]]:
    """Delete a repository and everything in it; (manifests deleted, tags deleted)."""
    with world.lock:
        repo = get_repository(registry, repository)
        _refuse_unless(repo.attrs.delete_enabled, repo.attrs.write_enabled)
        for manifest in repo.manifests.values():
            _check_deletable(repo, manifest)
        tags = sorted(repo.tags)
        digests = sorted(repo.manifests)
        for digest in digests:
            _remove_manifest(world, registry, repo, digest, caller)
        del registry.repositories[repository]
        listing.invalidate_catalog(registry)
        return digests, tags


def update_attributes(
    world: World,
    repo: Repository | None,
    attrs: Attributes,
    changes: dict[str, object],
    *,
    extra: frozenset[str] = frozenset(),
) -> None:
    """Apply a PATCH of changeable attributes; 400 on anything ACR would not accept."""
    unknown = sorted(set(changes) - set(_ATTRIBUTE_FIELDS) - extra)
    if unknown:
        raise bad_request(f"unsupported attribute(s): {', '.join(unknown)}", code="UNSUPPORTED")
    for key, value in changes.items():
        if key in _ATTRIBUTE_FIELDS and not isinstance(value, bool):
            raise bad_request(f"{key} must be a boolean, got {value!r}")
    with world.lock:
        for key, value in changes.items():
            if key in _ATTRIBUTE_FIELDS:
                setattr(attrs, _ATTRIBUTE_FIELDS[key], value)
        if repo is not None:
            listing.invalidate(repo)


def update_manifest(world: World, repo: Repository, manifest: Manifest, changes: dict[str, object]) -> None:
    """PATCH ``/acr/v1/<name>/_manifests/<digest>``: changeable attributes and quarantine state."""
    state = changes.get("quarantineState")
    if "quarantineState" in changes and state not in QUARANTINE_STATES:
        raise bad_request(f"quarantineState must be one of {', '.join(QUARANTINE_STATES)}, got {state!r}")
    details = changes.get("quarantineDetails")
    if details is not None and not isinstance(details, str):
        raise bad_request("quarantineDetails must be a string (ACR stores a JSON string)")
    with world.lock:
        update_attributes(world, repo, manifest.attrs, changes, extra=QUARANTINE_FIELDS)
        if isinstance(state, str):
            manifest.quarantine_state = state
        if "quarantineDetails" in changes:
            manifest.quarantine_details = details


def referrers(repo: Repository, digest: str, artifact_type: str | None) -> list[Manifest]:
    """Manifests whose ``subject`` is ``digest`` (optionally of one artifact type), by digest."""
    found = [
        m
        for m in repo.manifests.values()
        if m.subject == digest and (artifact_type is None or m.artifact_type == artifact_type)
    ]
    return sorted(found, key=lambda m: m.digest)


def store_blob(world: World, registry: Registry, data: bytes) -> str:
    digest = media.compute_digest(data)
    with world.lock:
        registry.blobs[digest] = data
    return digest


def is_quarantined(registry: Registry, manifest: Manifest) -> bool:
    return registry.quarantine_enabled and manifest.quarantine_state == "Quarantined"


def readable(repo: Repository, manifest: Manifest, tag: Tag | None) -> bool:
    """``readEnabled`` at every level allows the pull."""
    return repo.attrs.read_enabled and manifest.attrs.read_enabled and (tag is None or tag.attrs.read_enabled)


def _refuse_unless(*allowed: bool) -> None:
    if not all(allowed):
        raise disallowed()
