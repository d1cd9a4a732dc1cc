"""``/acr/v1``: ACR's own metadata API (catalog, repository, tags, manifests and their attributes).

Paths, bodies and status codes are those of the data-plane REST spec
(``specification/containerregistry/data-plane/Azure.ContainerRegistry/stable/2021-07-01``)
and of the azure-containerregistry 1.2 client that calls it: lists page with ``n``,
``last`` and ``orderby`` and answer ``Link: </acr/v1/...?last=..&n=..&orderby=>;
rel="next"``; PATCH takes the changeable attributes (and, for manifests,
``quarantineState``/``quarantineDetails``) and answers the updated properties;
DELETE answers 202 (a repository delete lists what it removed).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.acr import artifacts, listing
from sandbox.acr.context import RegistryContext, json_response, read_json
from sandbox.acr.distribution import catalog_lister
from sandbox.acr.tokens import QUARANTINE_WRITE, check_rbac, repository_access
from sandbox.world import Repository


def metadata_routes(ctx: RegistryContext) -> list[Route]:
    async def get_repository(request: Request) -> Response:
        name = request.path_params["name"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_read"))
        repo = artifacts.get_repository(ctx.registry, name)
        return json_response(listing.dump(_repository_properties(ctx, request, repo)))

    async def update_repository(request: Request) -> Response:
        name = request.path_params["name"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_write"))
        changes = await read_json(request)
        repo = artifacts.get_repository(ctx.registry, name)
        artifacts.update_attributes(ctx.world, None, repo.attrs, changes)
        listing.invalidate_catalog(ctx.registry)  # listEnabled hides it from the catalog
        return json_response(listing.dump(_repository_properties(ctx, request, repo)))

    async def delete_repository(request: Request) -> Response:
        name = request.path_params["name"]
        claims = ctx.tokens.authorize(request, repository_access(name, "delete"))
        manifests, tags = artifacts.delete_repository(
            ctx.world, ctx.registry, name, caller=ctx.caller(request, claims)
        )
        return json_response(listing.dump({"manifestsDeleted": manifests, "tagsDeleted": tags}), 202)

    async def list_tags(request: Request) -> Response:
        name = request.path_params["name"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_read"))
        query = _ListQuery.of(request)
        digest = request.query_params.get("digest") or None
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            page, more = listing.page_tags(
                repo, n=query.n, last=query.last, orderby=query.orderby, digest=digest
            )
            fragments = [listing.tag_json(repo, repo.tags[tag]) for tag in page]
        headers = query.next_page(f"/acr/v1/{listing.quote_name(name)}/_tags", page, more, digest=digest)
        return json_response(_page_body(ctx, request, name, "tags", fragments), headers=headers)

    async def get_tag(request: Request) -> Response:
        name, tag_name = request.path_params["name"], request.path_params["tag"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_read"))
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            fragment = listing.tag_json(repo, artifacts.get_tag(repo, tag_name))
        return json_response(_item_body(ctx, request, name, "tag", fragment))

    async def update_tag(request: Request) -> Response:
        name, tag_name = request.path_params["name"], request.path_params["tag"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_write"))
        changes = await read_json(request)
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            tag = artifacts.get_tag(repo, tag_name)
            artifacts.update_attributes(ctx.world, repo, tag.attrs, changes)
            fragment = listing.tag_json(repo, tag)
        return json_response(_item_body(ctx, request, name, "tag", fragment))

    async def delete_tag(request: Request) -> Response:
        name, tag_name = request.path_params["name"], request.path_params["tag"]
        ctx.tokens.authorize(request, repository_access(name, "delete"))
        artifacts.untag(ctx.world, ctx.registry, name, tag_name)
        return Response(status_code=202, headers={"Docker-Distribution-Api-Version": "registry/2.0"})

    async def list_manifests(request: Request) -> Response:
        name = request.path_params["name"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_read"))
        query = _ListQuery.of(request)
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            page, more = listing.page_manifests(repo, n=query.n, last=query.last, orderby=query.orderby)
            fragments = listing.manifests_json(repo, page)
        headers = query.next_page(f"/acr/v1/{listing.quote_name(name)}/_manifests", page, more)
        return json_response(_page_body(ctx, request, name, "manifests", fragments), headers=headers)

    async def get_manifest(request: Request) -> Response:
        name, reference = request.path_params["name"], request.path_params["reference"]
        ctx.tokens.authorize(request, repository_access(name, "metadata_read"))
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            manifest, _ = artifacts.resolve(repo, reference)
            fragment = listing.manifest_json(repo, manifest)
        return json_response(_item_body(ctx, request, name, "manifest", fragment))

    async def update_manifest(request: Request) -> Response:
        name, reference = request.path_params["name"], request.path_params["reference"]
        claims = ctx.tokens.authorize(request, repository_access(name, "metadata_write"))
        changes = await read_json(request)
        if artifacts.QUARANTINE_FIELDS & set(changes):
            # Only AcrQuarantineWriter may clear or set quarantine.
            check_rbac(ctx.world, ctx.registry, QUARANTINE_WRITE, principal=claims.get("sub"))
        with ctx.world.lock:
            repo = artifacts.get_repository(ctx.registry, name)
            manifest, _ = artifacts.resolve(repo, reference)
            artifacts.update_manifest(ctx.world, repo, manifest, changes)
            fragment = listing.manifest_json(repo, manifest)
        return json_response(_item_body(ctx, request, name, "manifest", fragment))

    # Order matters: "/acr/v1/{name:path}" would match every other path.
    return [
        Route(
            "/acr/v1/_catalog",
            catalog_lister(ctx, "/acr/v1/_catalog"),
            methods=["GET"],
            name="acr.catalog.list",
        ),
        Route("/acr/v1/{name:path}/_tags/{tag}", get_tag, methods=["GET"], name="acr.tags.get"),
        Route("/acr/v1/{name:path}/_tags/{tag}", update_tag, methods=["PATCH"], name="acr.tags.update"),
        Route("/acr/v1/{name:path}/_tags/{tag}", delete_tag, methods=["DELETE"], name="acr.tags.delete"),
        Route("/acr/v1/{name:path}/_tags", list_tags, methods=["GET"], name="acr.tags.list"),
        Route(
            "/acr/v1/{name:path}/_manifests/{reference}",
            get_manifest,
            methods=["GET"],
            name="acr.manifests.get",
        ),
        Route(
            "/acr/v1/{name:path}/_manifests/{reference}",
            update_manifest,
            methods=["PATCH"],
            name="acr.manifests.update",
        ),
        Route("/acr/v1/{name:path}/_manifests", list_manifests, methods=["GET"], name="acr.manifests.list"),
        Route("/acr/v1/{name:path}", get_repository, methods=["GET"], name="acr.repositories.get"),
        Route("/acr/v1/{name:path}", update_repository, methods=["PATCH"], name="acr.repositories.update"),
        Route("/acr/v1/{name:path}", delete_repository, methods=["DELETE"], name="acr.repositories.delete"),
    ]


def _repository_properties(ctx: RegistryContext, request: Request, repo: Repository) -> dict[str, object]:
    return {
        "registry": ctx.login_server(request),
        "imageName": repo.name,
        "createdTime": listing.format_time(repo.created),
        "lastUpdateTime": listing.format_time(repo.updated),
        "manifestCount": len(repo.manifests),
        "tagCount": len(repo.tags),
        "changeableAttributes": repo.attrs.to_dict(),
    }


@dataclass(frozen=True, slots=True)
class _ListQuery:
    """The paging parameters of a tag or manifest list: ``n``, ``last`` and ``orderby``."""

    n: int
    last: str | None
    orderby: str
    echoed: str  # ACR's Link echoes the order it was asked for, and an empty one when none was

    @classmethod
    def of(cls, request: Request) -> _ListQuery:
        query = request.query_params
        n = listing.parse_n(query.get("n"))
        orderby = listing.parse_orderby(query.get("orderby"))
        return cls(
            n=n,
            last=query.get("last") or None,
            orderby=orderby,
            echoed=orderby if query.get("orderby") else "",
        )

    def next_page(
        self, path: str, page: list[str], more: bool, *, digest: str | None = None
    ) -> dict[str, str] | None:
        """The ``Link`` header to the page after ``page``, if there is one."""
        if not (more and page):
            return None
        return {"Link": listing.next_link(path, last=page[-1], n=self.n, orderby=self.echoed, digest=digest)}


def _head(ctx: RegistryContext, request: Request, name: str) -> bytes:
    """``{"registry":...,"imageName":...`` without its closing brace."""
    return listing.dump({"registry": ctx.login_server(request), "imageName": name})[:-1]


def _page_body(ctx: RegistryContext, request: Request, name: str, key: str, fragments: list[bytes]) -> bytes:
    return b"".join((_head(ctx, request, name), b',"', key.encode(), b'":[', b",".join(fragments), b"]}"))


def _item_body(ctx: RegistryContext, request: Request, name: str, key: str, fragment: bytes) -> bytes:
    return b"".join((_head(ctx, request, name), b',"', key.encode(), b'":', fragment, b"}"))
