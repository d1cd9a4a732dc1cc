"""``/v2/<name>/blobs``: blob pulls and the upload protocol a push starts with.

A push uploads each layer and the config before its manifest, monolithically
(``POST`` then one ``PUT ?digest=``, or one ``POST ?digest=``) or in chunks (``POST``,
``PATCH``..., ``PUT ?digest=``), and cross-repository mounts (``POST ?mount=&from=``).
The registry verifies the digest of what it received before it keeps the blob
(``400 DIGEST_INVALID`` otherwise), as the distribution spec and ACR do. Blobs are
kept per registry (``Registry.blobs``); upload sessions live with the app.
"""

from __future__ import annotations

import re
import uuid

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.acr import artifacts, media
from sandbox.acr.context import API_VERSION_HEADER, RegistryContext, Upload
from sandbox.acr.errors import RegistryError, blob_unknown, digest_invalid, upload_unknown
from sandbox.acr.tokens import repository_access

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")
_OCTETS = "application/octet-stream"


def blob_routes(ctx: RegistryContext) -> list[Route]:
    async def get_blob(request: Request) -> Response:
        name, digest = request.path_params["name"], request.path_params["digest"]
        ctx.tokens.authorize(request, repository_access(name, "pull"))
        data = _blob(ctx, digest)
        headers = {**API_VERSION_HEADER, "Docker-Content-Digest": digest, "Accept-Ranges": "bytes"}
        wanted = request.headers.get("range")
        status, body = 200, data
        if wanted:
            match = _RANGE.match(wanted.strip())
            if not match or int(match.group(1)) >= max(len(data), 1):
                raise RegistryError(416, "RANGE_INVALID", "invalid content range", detail={"Range": wanted})
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            status, body = 206, data[start : end + 1]
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        headers["Content-Length"] = str(len(body))
        if request.method == "HEAD":
            body = b""
        return Response(body, status, headers=headers, media_type=_OCTETS)

    async def delete_blob(request: Request) -> Response:
        name, digest = request.path_params["name"], request.path_params["digest"]
        ctx.tokens.authorize(request, repository_access(name, "delete"))
        with ctx.world.lock:
            if ctx.registry.blobs.pop(digest, None) is None:
                raise blob_unknown(digest)
        return Response(b"", 202, headers={**API_VERSION_HEADER, "Docker-Content-Digest": digest})

    async def start_upload(request: Request) -> Response:
        name = request.path_params["name"]
        ctx.tokens.authorize(request, repository_access(name, "push"))
        query = request.query_params
        mount, source = query.get("mount"), query.get("from")
        if mount and source:
            ctx.tokens.authorize(request, repository_access(source, "pull"))
            if mount in ctx.registry.blobs:
                return _created(name, mount)
        digest = query.get("digest")
        if digest:  # monolithic upload in one POST
            return _complete(ctx, name, digest, await request.body())
        session = str(uuid.uuid4())
        ctx.uploads[session] = Upload(name)
        return _accepted(name, session, 0)

    async def upload_status(request: Request) -> Response:
        name, session = request.path_params["name"], request.path_params["session"]
        ctx.tokens.authorize(request, repository_access(name, "push"))
        upload = _upload(ctx, name, session)
        response = _accepted(name, session, len(upload.data))
        response.status_code = 204
        return response

    async def upload_chunk(request: Request) -> Response:
        name, session = request.path_params["name"], request.path_params["session"]
        ctx.tokens.authorize(request, repository_access(name, "push"))
        upload = _upload(ctx, name, session)
        chunk = await request.body()
        content_range = request.headers.get("content-range")
        if content_range:
            start = int(content_range.split("-")[0].removeprefix("bytes ").strip() or 0)
            if start != len(upload.data):
                raise RegistryError(
                    416, "RANGE_INVALID", "chunk out of order", detail={"Range": content_range}
                )
        upload.data.extend(chunk)
        return _accepted(name, session, len(upload.data))

    async def finish_upload(request: Request) -> Response:
        name, session = request.path_params["name"], request.path_params["session"]
        ctx.tokens.authorize(request, repository_access(name, "push"))
        upload = _upload(ctx, name, session)
        digest = request.query_params.get("digest")
        if not digest:
            raise digest_invalid("digest query parameter is required to complete an upload")
        upload.data.extend(await request.body())
        response = _complete(ctx, name, digest, bytes(upload.data))
        ctx.uploads.pop(session, None)
        return response

    async def cancel_upload(request: Request) -> Response:
        name, session = request.path_params["name"], request.path_params["session"]
        ctx.tokens.authorize(request, repository_access(name, "push"))
        _upload(ctx, name, session)
        ctx.uploads.pop(session, None)
        return Response(b"", 204, headers=API_VERSION_HEADER)

    uploads = "/v2/{name:path}/blobs/uploads/{session}"
    return [
        Route("/v2/{name:path}/blobs/uploads/", start_upload, methods=["POST"], name="v2.uploads.start"),
        Route(uploads, upload_status, methods=["GET"], name="v2.uploads.status"),
        Route(uploads, upload_chunk, methods=["PATCH"], name="v2.uploads.chunk"),
        Route(uploads, finish_upload, methods=["PUT"], name="v2.uploads.finish"),
        Route(uploads, cancel_upload, methods=["DELETE"], name="v2.uploads.cancel"),
        Route("/v2/{name:path}/blobs/{digest}", get_blob, methods=["GET", "HEAD"], name="v2.blobs.get"),
        Route("/v2/{name:path}/blobs/{digest}", delete_blob, methods=["DELETE"], name="v2.blobs.delete"),
    ]


def _blob(ctx: RegistryContext, digest: str) -> bytes:
    data = ctx.registry.blobs.get(digest)
    if data is None:
        raise blob_unknown(digest)
    return data


def _upload(ctx: RegistryContext, name: str, session: str) -> Upload:
    upload = ctx.uploads.get(session)
    if upload is None or upload.repository != name:
        raise upload_unknown(session)
    return upload


def _complete(ctx: RegistryContext, name: str, digest: str, data: bytes) -> Response:
    if not media.is_digest(digest):
        raise digest_invalid("invalid digest", {"Digest": digest})
    actual = media.compute_digest(data)
    if actual != digest:
        raise digest_invalid(detail={"Digest": digest, "Computed": actual})
    artifacts.store_blob(ctx.world, ctx.registry, data)
    return _created(name, digest)


def _created(name: str, digest: str) -> Response:
    headers = {
        **API_VERSION_HEADER,
        "Location": f"/v2/{name}/blobs/{digest}",
        "Docker-Content-Digest": digest,
        "Content-Length": "0",
    }
    return Response(b"", 201, headers=headers)


def _accepted(name: str, session: str, size: int) -> Response:
    headers = {
        **API_VERSION_HEADER,
        "Location": f"/v2/{name}/blobs/uploads/{session}",
        "Docker-Upload-UUID": session,
        # The distribution spec's inclusive range of bytes received ("0-0" before any).
        "Range": f"0-{max(size - 1, 0)}",
        "Content-Length": "0",
    }
    return Response(b"", 202, headers=headers)
