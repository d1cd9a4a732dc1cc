"""``POST /providers/Microsoft.ResourceGraph/resources``: the route the ARM app mounts.

The pinned azure-mgmt-resourcegraph (8.0.x) sends ``api-version=2021-03-01`` and a
``QueryRequest`` body (``subscriptions``, ``query``, ``options`` with ``$top``, ``$skip``,
``$skipToken``, ``resultFormat``, and ``facets``); the answer is a ``QueryResponse``
(``totalRecords``, ``count``, ``resultTruncated``, ``$skipToken``, ``data``, ``facets``).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.graph.errors import GraphError, bad_request, unknown_table
from sandbox.graph.facets import compute_facet
from sandbox.graph.operators import compile_query
from sandbox.graph.paging import build_page, query_hash, read_options
from sandbox.graph.parsing import parse_query
from sandbox.graph.tables import SCHEMAS, FindingRows, table_rows
from sandbox.http import SandboxHTTPError, azure_error, require_arm_bearer
from sandbox.world import World

PATH = "/providers/Microsoft.ResourceGraph/resources"
#: api-versions of the resources operation; the pinned SDK sends 2021-03-01.
API_VERSIONS = (
    "2019-04-01",
    "2020-04-01-preview",
    "2021-03-01",
    "2021-06-01-preview",
    "2022-10-01",
    "2024-04-01",
)


def _check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if version is None:
        raise SandboxHTTPError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )
    if version not in API_VERSIONS:
        raise SandboxHTTPError(
            400,
            "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. "
            f"The supported versions are '{', '.join(API_VERSIONS)}'.",
        )


def _read_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise bad_request(
            "InvalidRequestContent", f"The request content was invalid and could not be deserialized: {exc}"
        ) from exc
    if not isinstance(body, dict):
        raise bad_request("InvalidRequestContent", "The request content must be a JSON object.")
    if not isinstance(body.get("query"), str) or not body["query"].strip():
        raise bad_request("InvalidRequestContent", "The 'query' property is required.")
    subscriptions = body.get("subscriptions")
    if subscriptions is not None and (
        not isinstance(subscriptions, list) or not all(isinstance(s, str) for s in subscriptions)
    ):
        raise bad_request("InvalidRequestContent", "'subscriptions' must be a list of subscription ids.")
    return body


def run_query(world: World, body: dict[str, Any], findings: FindingRows | None = None) -> dict[str, Any]:
    """The QueryResponse for a validated request body (no auth, no throttling)."""
    options = read_options(body.get("options"))
    query = parse_query(body["query"])
    table = query.table.lower()
    schema = SCHEMAS.get(table)
    if schema is None:
        raise unknown_table(query.table)
    now = world.now()
    compiled = compile_query(query, schema, now=now)
    subscriptions = body.get("subscriptions")
    scope = {s.lower() for s in subscriptions} if subscriptions else None
    rows = compiled.run(table_rows(world, table, scope, findings))
    response = build_page(
        schema=compiled.schema,
        rows=rows,
        request=options,
        pageable=compiled.pageable,
        digest=query_hash(body["query"], subscriptions),
    )
    facets = body.get("facets") or []
    response["facets"] = [
        compute_facet(f, compiled.schema, rows, result_format=options.result_format, now=now) for f in facets
    ]
    return response


def build_graph_routes(world: World) -> list[Route]:
    """The Resource Graph route, for the ARM app to include.

    Throttling (the per-user quota and its ``x-ms-user-quota-*`` headers) is applied by
    the server's guard middleware for the "graph" service, not here.
    """

    findings = FindingRows()

    async def resources(request: Request) -> Response:
        try:
            require_arm_bearer(request)
            _check_api_version(request)
            body = _read_body(await request.body())
            return JSONResponse(run_query(world, body, findings))
        except GraphError as error:
            return error.to_response()
        except SandboxHTTPError as error:
            return azure_error(error.status, error.code, error.message, error.headers)

    return [Route(PATH, resources, methods=["POST"])]
