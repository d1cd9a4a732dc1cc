"""The Kubernetes API server app of one sandbox cluster.

``build_kube_app(world, cluster_name)`` returns the Starlette app the sandbox server
mounts on the cluster's port (``Cluster.port``). Routes are generic over the kind
table (:mod:`sandbox.kube.kinds`); handlers authenticate every request with an AKS
AAD token (audience ``6dae42f8-…``) except the public health and version paths, and
every failure is a Kubernetes ``Status``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from sandbox.http import SandboxHTTPError
from sandbox.kube import discovery, printing
from sandbox.kube.access import authenticate, authorize
from sandbox.kube.kinds import ALL_KINDS, KubeKind
from sandbox.kube.objects import ClusterView, list_objects, read_object, with_type
from sandbox.kube.reachability import StoppedClusterGate
from sandbox.kube.reviews import review_access
from sandbox.kube.status import KubeStatusError, status_body, status_response
from sandbox.kube.watching import watch_response
from sandbox.kube.workloads import patch_workload, read_scale, replace_workload, write_scale
from sandbox.world import World

Handler = Callable[[Request], Awaitable[Response]]

_KINDS = {(k.api_version, k.plural): k for k in ALL_KINDS}


def _endpoint(
    view: ClusterView, handler: Callable[[ClusterView, Request], Response], *, public: bool = False
) -> Handler:
    async def endpoint(request: Request) -> Response:
        request.state.claims = authenticate(request, public=public)
        return handler(view, request)

    return endpoint


def _body_endpoint(view: ClusterView, handler: Callable[[ClusterView, Request, bytes], Response]) -> Handler:
    """An endpoint whose handler needs the request body (writes)."""

    async def endpoint(request: Request) -> Response:
        request.state.claims = authenticate(request, public=False)
        return handler(view, request, await request.body())

    return endpoint


def _not_found_path() -> KubeStatusError:
    return KubeStatusError(404, "NotFound", "the server could not find the requested resource", details={})


def _kind(request: Request, *, namespaced: bool) -> KubeKind:
    params = request.path_params
    api_version = f"{params['group']}/{params['version']}" if "group" in params else "v1"
    kind = _KINDS.get((api_version, params["plural"]))
    if kind is None or (namespaced and not kind.namespaced):
        raise _not_found_path()
    return kind


def _check(
    view: ClusterView, request: Request, kind: KubeKind, verb: str, subresource: str | None = None
) -> None:
    params = request.path_params
    authorize(
        view.world,
        view.cluster(),
        request.state.claims,
        kind=kind,
        verb=verb,
        namespace=params.get("namespace"),
        name=params.get("name"),
        subresource=subresource,
    )


def _list(view: ClusterView, request: Request) -> Response:
    namespace = request.path_params.get("namespace")
    kind = _kind(request, namespaced=namespace is not None)
    if request.query_params.get("watch") not in (None, "", "0", "false"):
        _check(view, request, kind, "watch")
        table = printing.wants_table(request.headers.get("accept", ""))
        return watch_response(view, kind, namespace, request.query_params, table=table)
    _check(view, request, kind, "list")
    body = list_objects(view, kind, namespace, request.query_params)
    if printing.wants_table(request.headers.get("accept", "")):
        body = _as_table(view, request, kind, body["items"], body["metadata"])
    return JSONResponse(body)


def _as_table(
    view: ClusterView, request: Request, kind: KubeKind, items: list[dict[str, Any]], metadata: dict[str, Any]
) -> dict[str, Any]:
    return printing.to_table(
        kind.plural,
        items,
        metadata=metadata,
        now=view.world.now(),
        include=printing.include_policy(request.query_params),
        api_version=kind.api_version,
        kind=kind.kind,
    )


def _get(view: ClusterView, request: Request) -> Response:
    namespace = request.path_params.get("namespace")
    kind = _kind(request, namespaced=namespace is not None)
    if kind.namespaced and namespace is None:
        raise _not_found_path()
    _check(view, request, kind, "get")
    with view.world.lock:
        obj = with_type(kind, read_object(view, kind, namespace, request.path_params["name"]))
    if printing.wants_table(request.headers.get("accept", "")):
        version = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
        return JSONResponse(_as_table(view, request, kind, [obj], version))
    return JSONResponse(obj)


def _write(view: ClusterView, request: Request, raw: bytes) -> Response:
    kind = _kind(request, namespaced=True)
    if "patch" not in kind.verbs:
        raise _method_not_allowed(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    _check(view, request, kind, "patch" if request.method == "PATCH" else "update")
    if request.method == "PATCH":
        body = patch_workload(view, kind, namespace, name, raw, request.headers.get("content-type", ""))
    else:
        body = replace_workload(view, kind, namespace, name, raw)
    return JSONResponse(body)


def _subresource(view: ClusterView, request: Request, raw: bytes) -> Response:
    kind = _kind(request, namespaced=True)
    if kind.plural == "pods" and request.path_params["sub"] == "log":
        return _pod_log(view, request, kind)
    return _scale(view, request, kind, raw)


def _pod_log(view: ClusterView, request: Request, kind: KubeKind) -> Response:
    """``pods/log``: the sandbox runs no containers, so every log is empty, but the pod
    must exist and the caller must be allowed to read it, as on an apiserver."""
    if request.method != "GET":
        raise _method_not_allowed(request)
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    _check(view, request, kind, "get", "log")
    with view.world.lock:
        read_object(view, kind, namespace, name)
    return PlainTextResponse("")


def _scale(view: ClusterView, request: Request, kind: KubeKind, raw: bytes) -> Response:
    if not kind.scalable or request.path_params["sub"] != "scale":
        raise _not_found_path()
    namespace, name = request.path_params["namespace"], request.path_params["name"]
    verb = {"GET": "get", "PATCH": "patch"}.get(request.method, "update")
    _check(view, request, kind, verb, "scale")
    if request.method == "GET":
        return JSONResponse(read_scale(view, kind, namespace, name))
    content_type = request.headers.get("content-type", "") if request.method == "PATCH" else None
    return JSONResponse(write_scale(view, kind, namespace, name, raw, content_type))


def _method_not_allowed(request: Request) -> KubeStatusError:
    return KubeStatusError(
        405,
        "MethodNotAllowed",
        f"the server does not allow this method on the requested resource ({request.method})",
    )


def _version(view: ClusterView, request: Request) -> Response:
    return JSONResponse(discovery.version_info(view.cluster()))


def _health(view: ClusterView, request: Request) -> Response:
    return PlainTextResponse("ok")


def _discovery(body: dict[str, Any], request: Request, *, core: bool) -> Response:
    """The legacy document, or the aggregated one when the client asks for it first."""
    if discovery.wants_aggregated(request.headers.get("accept", "")):
        return JSONResponse(
            discovery.aggregated(core=core),
            media_type=discovery.AGGREGATED_MEDIA_TYPE,
            headers={"Vary": "Accept"},
        )
    return JSONResponse(body, headers={"Vary": "Accept"})


def _api(view: ClusterView, request: Request) -> Response:
    return _discovery(discovery.core_versions(request.url.netloc), request, core=True)


def _apis(view: ClusterView, request: Request) -> Response:
    return _discovery(discovery.group_list(), request, core=False)


def _api_group(view: ClusterView, request: Request) -> Response:
    body = discovery.group(request.path_params["group"])
    if body is None:
        raise _not_found_path()
    return JSONResponse(body)


def _resources(view: ClusterView, request: Request) -> Response:
    params = request.path_params
    api_version = f"{params['group']}/{params['version']}" if "group" in params else "v1"
    body = discovery.resource_list(api_version)
    if body is None:
        raise _not_found_path()
    return JSONResponse(body)


def _routes(view: ClusterView) -> list[Route]:
    get, write = ["GET"], ["PATCH", "PUT"]
    routes = [
        Route("/version", _endpoint(view, _version, public=True), methods=get),
        Route("/healthz", _endpoint(view, _health, public=True), methods=get),
        Route("/livez", _endpoint(view, _health, public=True), methods=get),
        Route("/readyz", _endpoint(view, _health, public=True), methods=get),
        Route("/api", _endpoint(view, _api), methods=get),
        Route("/apis", _endpoint(view, _apis), methods=get),
        Route("/api/v1", _endpoint(view, _resources), methods=get),
        Route(
            f"/apis/{discovery.AUTHORIZATION_GROUP}/v1/selfsubjectaccessreviews",
            _body_endpoint(view, review_access),
            methods=["POST"],
        ),
        Route("/apis/{group}", _endpoint(view, _api_group), methods=get),
        Route("/apis/{group}/{version}", _endpoint(view, _resources), methods=get),
    ]
    for prefix in ("/api/v1", "/apis/{group}/{version}"):
        namespaced = f"{prefix}/namespaces/{{namespace}}/{{plural}}"
        routes += [
            Route(f"{namespaced}/{{name}}/{{sub}}", _body_endpoint(view, _subresource), methods=get + write),
            Route(f"{namespaced}/{{name}}", _endpoint(view, _get), methods=get),
            Route(f"{namespaced}/{{name}}", _body_endpoint(view, _write), methods=write),
            Route(namespaced, _endpoint(view, _list), methods=get),
            Route(f"{prefix}/{{plural}}/{{name}}", _endpoint(view, _get), methods=get),
            Route(f"{prefix}/{{plural}}", _endpoint(view, _list), methods=get),
        ]
    return routes


async def _sandbox_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SandboxHTTPError)
    return status_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error = _method_not_allowed(request)
        return JSONResponse(status_body(405, error.code, error.message), 405)
    return JSONResponse(status_body(404, "NotFound", "the server could not find the requested resource"), 404)


def build_kube_app(world: World, cluster_name: str) -> Starlette:
    """The API server of ``world.clusters[cluster_name]``, for the sandbox server to mount."""
    view = ClusterView(world, cluster_name)
    handlers: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
        SandboxHTTPError: _sandbox_error,
        HTTPException: _http_error,
    }
    return Starlette(
        routes=_routes(view),
        exception_handlers=handlers,
        middleware=[Middleware(StoppedClusterGate, world=world, cluster_name=cluster_name)],
    )
