"""The runbooks' OpenAPI 3.1 document, generated from the same pydantic models that
validate the requests, so that the document cannot drift from what the API accepts.

Served at ``GET /api/runbooks/openapi.json`` and checked into ``docs/openapi.json``
(a test keeps the copy current: ``python -m ops.runbooks.openapi > docs/openapi.json``).
Every runbook gets its own path, with its parameters as query parameters (GET) and
as ``params`` in the body (POST); every error is an RFC 9457 problem document.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ops import __version__
from ops.runbooks.catalog import Runbook, all_runbooks
from ops.runbooks.requests import DIGEST_PATTERN, MAX_RUNBOOK_BODY_BYTES

PROBLEM = "application/problem+json"
_ERRORS = {
    "400": "Invalid input: the problem's `path` names the field",
    "401": "No valid token (`WWW-Authenticate: Bearer`)",
    "403": "The token lacks the app role (`role` names it)",
    "404": "A registry, image, cluster or run that does not exist",
    "409": "The plan changed since it was reviewed (the new `plan` and `planDigest` are in the problem)",
    "422": "Refused by a guard or over the cap; nothing was applied",
    "500": "The app's configuration is invalid",
    "502": "Azure refused the app's own identity",
    "503": "Azure is busy or unreachable: try again (`Retry-After`)",
}
_PLAN_ERRORS = ("400", "401", "403", "404", "422", "500", "502", "503")


def build_openapi(runbooks: Mapping[str, Runbook] | None = None) -> dict[str, Any]:
    found = dict(runbooks) if runbooks is not None else all_runbooks()
    schemas: dict[str, Any] = {
        "Problem": _PROBLEM,
        "Plan": _PLAN,
        "Run": _RUN,
        "RunAnswer": _RUN_ANSWER,
        "PlanAnswer": _PLAN_ANSWER,
        "RunbookList": _LIST,
    }
    paths: dict[str, Any] = {
        "/runbooks": {
            "get": _operation(
                "listRunbooks",
                "Every runbook, its parameters and roles",
                {"200": _json("The runbooks", "RunbookList")},
                ("401", "403", "500"),
            )
        },
        "/runbooks/runs/{id}": {
            "get": _operation(
                "getRunbookRun",
                "A runbook run: its status, caller and outcomes",
                {"200": _json("The run", "RunAnswer")},
                ("400", "401", "403", "404", "500", "503"),
                parameters=[
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 100},
                    }
                ],
            )
        },
    }
    for runbook in found.values():
        name = _schema_name(runbook)
        schema = runbook.params.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
        request_name = f"{name}Request"
        schemas[request_name] = _request_schema(name)
        roles = "Ops.Operate and Ops.Approve" if runbook.approval else "Ops.Operate"
        paths[f"/runbooks/{runbook.name}"] = {
            "get": _operation(
                f"plan{name}",
                f"{runbook.summary} The plan only (Ops.Read); nothing is changed.",
                {"200": _json("The plan and its digest", "PlanAnswer")},
                _PLAN_ERRORS,
                parameters=_query(schema),
            ),
            "post": _operation(
                f"apply{name}",
                f"{runbook.summary} Applies it ({roles}).",
                {
                    "200": _json("The run, finished", "RunAnswer"),
                    "202": {
                        **_json("The run, queued: poll its Location", "RunAnswer"),
                        "headers": {
                            "Location": {"schema": {"type": "string"}, "description": "runbooks/runs/{id}"}
                        },
                    },
                },
                (*_PLAN_ERRORS, "409"),
                body={
                    "required": False,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{request_name}"}}
                    },
                },
            ),
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "acr-aks-ops runbooks",
            "version": __version__,
            "description": "Manual runbooks: GET plans, POST applies. Entra ID bearer tokens; app roles "
            "Ops.Read, Ops.Operate, Ops.Approve (docs/runbooks.md).",
        },
        "servers": [{"url": "/api"}],
        "security": [{"entra": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"entra": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _schema_name(runbook: Runbook) -> str:
    return "".join(part.title() for part in runbook.name.split("-"))


def _request_schema(params: str) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "params": {"$ref": f"#/components/schemas/{params}"},
            "planDigest": {
                "type": "string",
                "pattern": DIGEST_PATTERN,
                "description": "planDigest of the plan reviewed; a different plan now is refused (409)",
            },
            "reason": {"type": "string", "minLength": 1, "maxLength": 1000},
        },
        "description": f"At most {MAX_RUNBOOK_BODY_BYTES} bytes.",
    }


def _query(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": _scalar(prop)}
        for name, prop in schema.get("properties", {}).items()
    ]


def _scalar(prop: Mapping[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: an optional field's ``anyOf [x, null]`` is just ``x``."""
    options = [p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"]
    out = dict(options[0]) if options else {"type": "string"}
    out.pop("default", None)
    return out


def _operation(
    operation_id: str,
    summary: str,
    answers: dict[str, Any],
    errors: tuple[str, ...],
    *,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses = dict(answers)
    for code in errors:
        responses[code] = {
            "description": _ERRORS[code],
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    return operation


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


class _Problem(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    error: str | None = None
    path: str | None = None


class _Guard(BaseModel):
    target: str
    reason: str
    detail: dict[str, Any] | None = None


class _Action(BaseModel):
    kind: str
    target: str
    reason: str
    service: str
    params: dict[str, Any]
    key: str


class _PlanModel(BaseModel):
    capability: str
    summary: dict[str, Any]
    actions: list[_Action]
    protected: list[_Guard]
    skipped: list[_Guard]
    notes: list[str]


class _RunModel(BaseModel):
    id: str
    runbook: str
    status: str = Field(description="queued, running, succeeded, failed or refused")
    params: dict[str, Any]
    planDigest: str
    reason: str | None
    caller: dict[str, Any] = Field(description="oid, appid, tid, kind, name, roles used")
    createdAt: str
    finishedAt: str | None
    actions: int
    summary: dict[str, int]
    outcomes: list[dict[str, Any]]
    detail: dict[str, Any]
    error: str | None


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    for name, value in defs.items():
        _DEFS[name] = value
    return schema


_DEFS: dict[str, Any] = {}
_PROBLEM = _model_schema(_Problem)
_PLAN = _model_schema(_PlanModel)
_RUN = _model_schema(_RunModel)
_RUN_ANSWER = {
    "type": "object",
    "required": ["run"],
    "properties": {"run": {"$ref": "#/components/schemas/Run"}, "replayed": {"type": "boolean"}},
}
_PLAN_ANSWER = {
    "type": "object",
    "required": ["runbook", "params", "plan", "planDigest", "background"],
    "properties": {
        "runbook": {"type": "string"},
        "params": {"type": "object"},
        "plan": {"$ref": "#/components/schemas/Plan"},
        "planDigest": {"type": "string"},
        "background": {"type": "boolean"},
        "detail": {"type": "object"},
    },
}
_LIST = {
    "type": "object",
    "required": ["runbooks"],
    "properties": {
        "runbooks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "summary", "parameters", "roles", "approval"],
                "properties": {
                    "name": {"type": "string"},
                    "summary": {"type": "string"},
                    "capability": {"type": "string"},
                    "parameters": {"type": "object"},
                    "roles": {"type": "object"},
                    "approval": {"type": "boolean"},
                },
            },
        }
    },
}


def openapi_document() -> dict[str, Any]:
    document = build_openapi()
    document["components"]["schemas"].update(_DEFS)
    return document


def openapi_text() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    print(openapi_text(), end="")
