"""The Azure App Configuration data plane: key-values with ETags, for one store.

Shapes follow the azure-rest-api-specs data-plane examples (GetKeyValue,
PutKeyValue_IfMatch, api-version 2023-11-01 and later): the body carries ``etag``
unquoted, the ``ETag`` header carries it quoted, media type
``application/vnd.microsoft.appconfig.kv+json``. ``If-Match`` / ``If-None-Match``
are honoured (412 on a mismatch), so that a pointer is only moved from the value it
was read at. Callers authenticate with Entra tokens for ``https://appconfig.azure.com``
(what the azure-appconfiguration SDK asks for when the endpoint is not an
``azconfig.io`` host). Only ``GET``/``PUT`` of one key-value are emulated; other
operations get a loud 400.
"""

from __future__ import annotations

import json
from email.utils import format_datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.authz import check_action
from sandbox.failover.state import AppConfigStore, KeyValue
from sandbox.http import SandboxHTTPError, require_bearer
from sandbox.world import World

APPCONFIG_AUDIENCE = "https://appconfig.azure.com"
_KV_MEDIA = "application/vnd.microsoft.appconfig.kv+json"
_READ = "Microsoft.AppConfiguration/configurationStores/keyValues/read"
_WRITE = "Microsoft.AppConfiguration/configurationStores/keyValues/write"


def store_id(store: AppConfigStore) -> str:
    return (
        f"/subscriptions/{store.subscription}/resourceGroups/{store.resource_group}"
        f"/providers/Microsoft.AppConfiguration/configurationStores/{store.name}"
    )


def render_key_value(kv: KeyValue) -> dict[str, Any]:
    return {
        "etag": kv.etag,
        "key": kv.key,
        "label": kv.label,
        "content_type": kv.content_type,
        "value": kv.value,
        "tags": dict(kv.tags),
        "locked": kv.locked,
        "last_modified": kv.last_modified.isoformat(),
    }


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"https://azconfig.io/errors/{title.lower().replace(' ', '-')}",
            "title": title,
            "detail": detail,
            "status": status,
        },
        status,
        media_type="application/problem+json",
    )


def _kv_response(store: AppConfigStore, kv: KeyValue, status: int = 200) -> Response:
    return Response(
        json.dumps(render_key_value(kv)),
        status,
        media_type=_KV_MEDIA,
        headers={
            "ETag": f'W/"{kv.etag}"',
            "Last-Modified": format_datetime(kv.last_modified, usegmt=True),
            "Sync-Token": f"sandbox={store.sequence};sn={store.sequence}",
        },
    )


def _etag_matches(header: str, etag: str | None) -> bool:
    wanted = [part.strip().removeprefix("W/").strip('"') for part in header.split(",")]
    return etag is not None and ("*" in wanted or etag in wanted)


def build_appconfig_app(world: World, name: str) -> Starlette:
    def current_store() -> AppConfigStore:
        return world.failover.app_configs[name]

    async def key_value(request: Request) -> Response:
        require_bearer(request, audience=APPCONFIG_AUDIENCE)
        if not request.query_params.get("api-version"):
            raise SandboxHTTPError(400, "InvalidArgument", "The api-version query parameter is required.")
        store = current_store()
        key = request.path_params["key"]
        label = request.query_params.get("label") or None
        if label == "\0":
            label = None
        with world.lock:
            existing = store.key_values.get((key, label))
        if request.method == "GET":
            check_action(world, store_id(store), _READ)
            if existing is None:
                return _problem(404, "Not Found", f"The key-value '{key}' (label {label!r}) was not found.")
            none_match = request.headers.get("if-none-match")
            if none_match and _etag_matches(none_match, existing.etag):
                return Response(status_code=304, headers={"ETag": f'W/"{existing.etag}"'})
            return _kv_response(store, existing)
        check_action(world, store_id(store), _WRITE)
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError as exc:
            return _problem(400, "Invalid Request", f"The body is not JSON: {exc}")
        if not isinstance(body, dict):
            return _problem(400, "Invalid Request", "The body must be a JSON object.")
        unknown = sorted(
            set(body) - {"key", "label", "value", "content_type", "tags", "etag", "locked", "last_modified"}
        )
        if unknown:
            return _problem(400, "Invalid Request", f"Unknown key-value fields: {', '.join(unknown)}.")
        with world.lock:
            existing = store.key_values.get((key, label))
            match = request.headers.get("if-match")
            none_match = request.headers.get("if-none-match")
            if match and not _etag_matches(match, existing.etag if existing else None):
                return _problem(412, "Precondition Failed", f"The key-value '{key}' has changed.")
            if none_match == "*" and existing is not None:
                return _problem(412, "Precondition Failed", f"The key-value '{key}' already exists.")
            if existing is not None and existing.locked:
                return _problem(409, "Key Locked", f"The key-value '{key}' is read-only.")
            kv = KeyValue(
                key=key,
                label=label,
                value=body.get("value"),
                content_type=body.get("content_type"),
                tags={str(k): str(v) for k, v in (body.get("tags") or {}).items()},
                etag=store.next_etag(key, label),
                last_modified=world.now(),
            )
            store.key_values[(key, label)] = kv
        return _kv_response(store, kv)

    async def unsupported(request: Request) -> Response:
        return _problem(
            400,
            "Unsupported By Sandbox",
            f"The sandbox emulates GET and PUT of /kv/{{key}} only, not {request.method} {request.url.path}.",
        )

    async def on_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SandboxHTTPError)
        return exc.to_response()

    return Starlette(
        routes=[
            Route("/kv/{key:path}", key_value, methods=["GET", "PUT"], name="appconfig.kv"),
            Route("/{rest:path}", unsupported, methods=["GET", "PUT", "POST", "DELETE", "PATCH", "HEAD"]),
        ],
        exception_handlers={SandboxHTTPError: on_error},
    )
