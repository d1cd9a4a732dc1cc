"""Facets: per-request ``summarize count() by <columns>`` over the whole query result.

Each facet names result columns (a dotted path names the column a projection of that
path produced, ``properties.a.b`` → ``properties_a_b``), optionally filters the rows
first, and returns the top groups by ``count`` (or by its ``sortBy`` expression). A
facet over a column the result does not have is a ``FacetError``, not a failed query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.graph.errors import QueryError
from sandbox.graph.expressions import Row, Schema
from sandbox.graph.operators import compile_operator
from sandbox.graph.paging import format_rows
from sandbox.graph.parsing import parse_query
from sandbox.graph.syntax import Assignment, Call, ColumnRef, OrderBy, SortKey, Summarize, Where

_DEFAULT_TOP = 10


def _facet_error(expression: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"expression": expression, "resultType": "FacetError", "errors": errors}


def _error_details(error: QueryError) -> list[dict[str, str]]:
    return [{"code": str(error.detail.get("code")), "message": str(error.detail.get("message"))}]


def compute_facet(
    request: Any, schema: Schema, rows: list[Row], *, result_format: str, now: datetime
) -> dict[str, Any]:
    if not isinstance(request, dict) or not isinstance(request.get("expression"), str):
        return _facet_error(
            str(request), [{"code": "InvalidFacet", "message": "A facet needs an expression."}]
        )
    expression: str = request["expression"]
    options = request.get("options") or {}
    columns = [part.strip().replace(".", "_") for part in expression.split(",") if part.strip()]
    missing = [c for c in columns if schema.type_of(c) is None]
    if not columns or missing:
        return _facet_error(
            expression,
            [
                {"code": "NoValidColumns", "message": "No valid columns in facet expression."},
                {"code": "InvalidColumnNames", "message": f"Invalid column names: [{', '.join(missing)}]."},
            ],
        )
    try:
        if options.get("filter"):
            where = parse_query(f"resources | where {options['filter']}").operators[0]
            assert isinstance(where, Where)
            _, keep = compile_operator(where, schema, now=now)
            rows = keep(rows)
        by = tuple(Assignment(None, ColumnRef(c, 1, 0)) for c in columns)
        count = Assignment("count", Call("count", (), 1, 0))
        facet_schema, group = compile_operator(Summarize((count,), by), schema, now=now)
        groups = group(rows)
        descending = str(options.get("sortOrder", "desc")).lower() != "asc"
        sort_text = options.get("sortBy") or "count"
        sort_expr = parse_query(f"resources | order by {sort_text}").operators[0]
        assert isinstance(sort_expr, OrderBy)
        key = SortKey(sort_expr.keys[0].expr, descending, not descending)
        _, sort = compile_operator(OrderBy((key,)), facet_schema, now=now)
        ordered = sort(groups)
    except QueryError as error:
        return _facet_error(expression, _error_details(error))
    top = options.get("$top") or _DEFAULT_TOP
    selected = ordered[:top]
    return {
        "expression": expression,
        "resultType": "FacetResult",
        "totalRecords": len(ordered),
        "count": len(selected),
        "data": format_rows(facet_schema, selected, result_format),
    }
