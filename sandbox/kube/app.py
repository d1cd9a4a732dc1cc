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
from sandbox.kube import discovery
from sandbox.kube.access import authenticate, authorize
from sandbox.kube.kinds import ALL_KINDS, KubeKind
from sandbox.kube.objects import ClusterView, list_objects, read_object, with_type
from sandbox.kube.reachability import StoppedClusterGate
from sandbox.kube.status import KubeStatusError, status_body, status_response
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
    _check(view, request, kind, "list")
    return JSONResponse(list_objects(view, kind, namespace, request.query_params))


def _get(view: ClusterView, request: Request) -> Response:
    namespace = request.path_params.get("namespace")
    kind = _kind(request, namespaced=namespace is not None)
    if kind.namespaced and namespace is None:
        raise _not_found_path()
    _check(view, request, kind, "get")
    with view.world.lock:
        return JSONResponse(with_type(kind, read_object(view, kind, namespace, request.path_params["name"])))


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


def _scale(view: ClusterView, request: Request, raw: bytes) -> Response:
    kind = _kind(request, namespaced=True)
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


def _api(view: ClusterView, request: Request) -> Response:
    host = request.url.netloc
    return JSONResponse(discovery.core_versions(host))


def _apis(view: ClusterView, request: Request) -> Response:
    return JSONResponse(discovery.group_list())


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
        Route("/apis/{group}", _endpoint(view, _api_group), methods=get),
        Route("/apis/{group}/{version}", _endpoint(view, _resources), methods=get),
    ]
    for prefix in ("/api/v1", "/apis/{group}/{version}"):
        namespaced = f"{prefix}/namespaces/{{namespace}}/{{plural}}"
        routes += [
            Route(f"{namespaced}/{{name}}/{{sub}}", _body_endpoint(view, _scale), methods=get + write),
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
