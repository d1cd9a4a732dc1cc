"""``/v2``: the OCI distribution API for manifests, tags, the catalog and referrers.

What OCI clients (docker, oras, notation, the SDK's ``get_manifest``/``set_manifest``)
and the product's gate rely on, with ACR's semantics on top of the distribution
spec: a manifest is deleted only by digest (a tag is refused with 405 UNSUPPORTED, as
the spec allows) and takes its tags and referrers with it; locks refuse with 405
REGISTRY_DISALLOWED_OPERATION; ``readEnabled=false`` refuses pulls; a quarantined
manifest is hidden from pulls by tag and refused by digest
(``IMAGE_QUARANTINED``) to callers without the AcrQuarantineReader role. The
referrers API (distribution spec 1.1) answers an image index, filtered by
``artifactType`` with ``OCI-Filters-Applied``.

Blocked images, and where each behaviour comes from (docs/gate.md keeps the table):

* ``readEnabled=false`` on a manifest refuses every pull of it, GET and HEAD, by digest
  and by any tag naming it ("Prevent read (pull) operations", Microsoft Learn
  container-registry-image-lock.md), with ACR's lock refusal ``405
  REGISTRY_DISALLOWED_OPERATION`` (the FAQ's "Why does my pull or push request fail with
  disallowed operation?": "The image or repository may be locked"; the 405 and its body
  as recorded in Azure/azure-sdk-for-net#22827).
* ``readEnabled=false`` on a tag refuses pulls by that tag only: tag and manifest
  attributes "are managed separately" (container-registry-image-lock.md), so the digest
  stays readable.
* A manifest whose ``subject`` is locked or quarantined is still accepted: "A registry
  MUST initially accept an otherwise valid manifest with a subject field that references
  a manifest that does not exist" (distribution spec 1.1, Push), so the registry never
  reads the subject on a push; the client does (notation and oras resolve the subject
  before they sign or attach), and that read is what a lock refuses.
* Quarantine: a pull by tag answers 404 (the tag is not found) and by digest
  ``IMAGE_QUARANTINED`` "The image is quarantined." (Azure/acr docs/preview/quarantine,
  Azure/acr#210), unless the caller holds AcrQuarantineReader ("List, read, and pull
  quarantined images", container-registry-rbac-built-in-roles-directory-reference.md).
* Unconfirmed, so a setting: the referrers API of a subject the caller may not read
  (``unreadableSubjectReferrers``: ``list``, the default, or ``refuse`` with the
  same error a pull of the subject gets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.acr import artifacts, listing, media
from sandbox.acr.context import API_VERSION_HEADER, RegistryContext, json_response
from sandbox.acr.errors import (
    RegistryError,
    digest_invalid,
    disallowed,
    manifest_unknown,
    quarantined,
    unsupported,
)
from sandbox.acr.tokens import QUARANTINE_READ, allows, catalog_access, repository_access
from sandbox.world import Manifest, Repository, Tag


def distribution_routes(ctx: RegistryContext) -> list[Route]:
    async def api_version(request: Request) -> Response:
        ctx.tokens.authorize(request, None)
        return json_response(b"{}")

    async def list_tags(request: Request) -> Response:
        name = request.path_params["name"]
        ctx.tokens.authorize(request, repository_access(name, "pull"))
        query = request.query_params
        n = listing.parse_n(query.get("n"))
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            page, more = listing.page_names(
                listing.listed_tag_names(repo), n=n, last=query.get("last") or None
            )
        headers = None
        if more and page:
            headers = {"Link": listing.next_link(f"/v2/{quote(name)}/tags/list", last=page[-1], n=n)}
        return json_response(listing.dump({"name": name, "tags": page}), headers=headers)

    async def get_manifest(request: Request) -> Response:
        name, reference = request.path_params["name"], request.path_params["reference"]
        claims = ctx.tokens.authorize(request, repository_access(name, "pull"))
        with ctx.world.lock:
            registry = ctx.registry
            repo = artifacts.get_repository(registry, name)
            manifest, tag = artifacts.resolve(repo, reference)
            _check_readable(ctx, repo, manifest, tag, reference, claims)
            if not media.accepts(request.headers.get("accept"), manifest.media_type):
                raise _not_acceptable(reference, manifest.media_type)
            content = manifest.content
        headers = {
            **API_VERSION_HEADER,
            "Docker-Content-Digest": manifest.digest,
            "ETag": f'"{manifest.digest}"',
            "Content-Length": str(len(content)),
        }
        body = b"" if request.method == "HEAD" else content
        return Response(body, 200, headers=headers, media_type=manifest.media_type)

    async def put_manifest(request: Request) -> Response:
        name, reference = request.path_params["name"], request.path_params["reference"]
        claims = ctx.tokens.authorize(request, repository_access(name, "push"))
        content = await request.body()
        pushed = artifacts.put_manifest(
            ctx.world,
            ctx.registry,
            name,
            reference,
            content,
            request.headers.get("content-type"),
            caller=ctx.caller(request, claims),
        )
        digest = pushed.manifest.digest
        headers = {
            **API_VERSION_HEADER,
            "Docker-Content-Digest": digest,
            "Location": f"/v2/{name}/manifests/{digest}",
            "Content-Length": "0",
        }
        if pushed.manifest.subject:
            headers["OCI-Subject"] = pushed.manifest.subject
        return Response(b"", 201, headers=headers)

    async def delete_manifest(request: Request) -> Response:
        name, reference = request.path_params["name"], request.path_params["reference"]
        claims = ctx.tokens.authorize(request, repository_access(name, "delete"))
        if not media.looks_like_digest(reference):
            # ACR deletes manifests by digest only; untagging is DELETE /acr/v1/<name>/_tags/<tag>.
            raise unsupported("The operation is unsupported. A manifest can only be deleted by digest.")
        artifacts.delete_manifest(
            ctx.world, ctx.registry, name, reference, caller=ctx.caller(request, claims)
        )
        return Response(b"", 202, headers={**API_VERSION_HEADER, "Content-Length": "0"})

    async def list_referrers(request: Request) -> Response:
        name, digest = request.path_params["name"], request.path_params["digest"]
        claims = ctx.tokens.authorize(request, repository_access(name, "pull"))
        if not media.is_digest(digest):
            raise digest_invalid("invalid digest", {"Digest": digest})
        artifact_type = request.query_params.get("artifactType") or None
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            subject = repo.manifests.get(digest)
            if subject is not None and ctx.world.settings.get("unreadable_subject_referrers") == "refuse":
                # Unconfirmed: ACR may refuse the referrers of a subject the caller may not pull.
                _check_readable(ctx, repo, subject, None, digest, claims)
            found = artifacts.referrers(repo, digest, artifact_type)
            descriptors = [_descriptor(m) for m in found]
        body = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": descriptors}
        headers = dict(API_VERSION_HEADER)
        if artifact_type:
            headers["OCI-Filters-Applied"] = "artifactType"
        return Response(listing.dump(body), 200, headers=headers, media_type=media.OCI_INDEX)

    return [
        Route("/v2/", api_version, methods=["GET"], name="v2.base"),
        Route("/v2/_catalog", catalog_lister(ctx, "/v2/_catalog"), methods=["GET"], name="v2.catalog.list"),
        Route("/v2/{name:path}/tags/list", list_tags, methods=["GET"], name="v2.tags.list"),
        Route(
            "/v2/{name:path}/manifests/{reference}",
            get_manifest,
            methods=["GET", "HEAD"],
            name="v2.manifests.get",
        ),
        Route(
            "/v2/{name:path}/manifests/{reference}", put_manifest, methods=["PUT"], name="v2.manifests.put"
        ),
        Route(
            "/v2/{name:path}/manifests/{reference}",
            delete_manifest,
            methods=["DELETE"],
            name="v2.manifests.delete",
        ),
        Route(
            "/v2/{name:path}/referrers/{digest}", list_referrers, methods=["GET"], name="v2.referrers.list"
        ),
    ]


def _check_readable(
    ctx: RegistryContext,
    repo: Repository,
    manifest: Manifest,
    tag: Tag | None,
    reference: str,
    claims: dict[str, Any],
) -> None:
    """Refuse a pull as ACR does: a read lock at any level (405), or a quarantine (a tag is
    not found, a digest is ``IMAGE_QUARANTINED``) unless the caller is a quarantine reader."""
    if not artifacts.readable(repo, manifest, tag):
        raise disallowed()
    registry = ctx.registry
    if artifacts.is_quarantined(registry, manifest) and not allows(
        ctx.world, registry, QUARANTINE_READ, principal=claims.get("sub")
    ):
        raise manifest_unknown(reference) if tag is not None else quarantined()


def catalog_lister(ctx: RegistryContext, path: str) -> Callable[[Request], Awaitable[Response]]:
    """``GET <path>``: a page of repository names; ``/v2/_catalog`` and ``/acr/v1/_catalog``
    answer alike, each linking the next page to itself."""

    async def list_catalog(request: Request) -> Response:
        ctx.tokens.authorize(request, catalog_access())
        query = request.query_params
        n = listing.parse_n(query.get("n"))
        with ctx.world.lock:
            names = listing.catalog(ctx.registry)
        page, more = listing.page_names(names, n=n, last=query.get("last") or None)
        headers = {"Link": listing.next_link(path, last=page[-1], n=n)} if more and page else None
        return json_response(listing.dump({"repositories": page}), headers=headers)

    return list_catalog


def _not_acceptable(reference: str, media_type: str) -> RegistryError:
    """What ACR (like distribution) says when the client's Accept excludes the stored type."""
    error = manifest_unknown(reference)
    kind = {media.OCI_INDEX: "OCI index", media.OCI_MANIFEST: "OCI manifest"}.get(media_type)
    if kind:
        error.message = f"{kind} found, but accept header does not support {kind}s"
    return error


def _descriptor(manifest: Manifest) -> dict[str, Any]:
    """A referrer as the referrers API lists it (distribution spec 1.1)."""
    out: dict[str, Any] = {
        "mediaType": manifest.media_type,
        "digest": manifest.digest,
        "size": len(manifest.content),
    }
    artifact_type = manifest.artifact_type or manifest.config_media_type
    if artifact_type:
        out["artifactType"] = artifact_type
    if manifest.annotations:
        out["annotations"] = dict(manifest.annotations)
    return out
