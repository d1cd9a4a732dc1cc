"""Resource Graph's error bodies.

A rejected query answers 400 ``{"error": {"code": "BadRequest", "message": "Please
provide below info when asking for support: timestamp = …, correlationId = ….",
"details": [{"code": "InvalidQuery", …}, {"code": "ParserFailure", "line", …}]}}``.
The SDK surfaces ``error.code`` and ``error.details``, so both levels matter.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.responses import JSONResponse

from sandbox.http import SandboxHTTPError

INVALID_QUERY = {
    "code": "InvalidQuery",
    "message": "Query is invalid. Please refer to the documentation for the Azure Resource Graph service "
    "and fix the error before retrying.",
}


def support_message() -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    return (
        "Please provide below info when asking for support: "
        f"timestamp = {stamp}, correlationId = {uuid.uuid4()}."
    )


class GraphError(SandboxHTTPError):
    """A Resource Graph failure with its ``details`` list."""

    def __init__(
        self, status: int, code: str, details: list[dict[str, Any]], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, support_message(), headers)
        self.details = details

    def to_response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message, "details": self.details}}
        return JSONResponse(body, self.status, headers=self.headers or None)


class QueryError(GraphError):
    """The query is outside the language or the sandbox's subset: 400 InvalidQuery."""

    def __init__(self, detail: dict[str, Any]) -> None:
        super().__init__(400, "BadRequest", [dict(INVALID_QUERY), detail])
        self.detail = detail


def parser_failure(token: str, line: int, column: int, expected: str | None = None) -> QueryError:
    detail: dict[str, Any] = {
        "code": "ParserFailure",
        "message": "ParserFailure",
        "line": line,
        "characterPositionInLine": column,
        "token": token,
    }
    if expected is not None:
        detail["expectedToken"] = expected
    return QueryError(detail)


def unsupported_operator(name: str) -> QueryError:
    return QueryError(
        {
            "code": "UnsupportedOperator",
            "message": f"Operator '{name}' is not supported by the sandbox's Resource Graph, which "
            "implements a KQL subset: where, project, project-away, extend, mv-expand, order by/sort by, "
            "top, limit/take, summarize, distinct, count.",
            "token": name,
        }
    )


def unknown_function(name: str) -> QueryError:
    return QueryError({"code": "UnknownFunction", "message": f"Unknown function: '{name}'."})


def unknown_table(name: str) -> QueryError:
    return QueryError(
        {
            "code": "DisallowedLogicalTableName",
            "message": f"Table {name} is invalid, unsupported or disallowed.",
        }
    )


def unresolved_name(operator: str, name: str) -> QueryError:
    return QueryError(
        {
            "code": "FailedToResolveScalarExpression",
            "message": f"'{operator}' operator: Failed to resolve scalar expression named '{name}'",
        }
    )


def invalid_argument(message: str) -> QueryError:
    return QueryError({"code": "InvalidArgument", "message": message})


def bad_request(code: str, message: str) -> GraphError:
    """A request-level problem (body, options, skip token) rather than a query error."""
    return GraphError(400, "BadRequest", [{"code": code, "message": message}])
