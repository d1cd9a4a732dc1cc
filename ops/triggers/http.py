"""HTTP-triggered functions: health, the runbooks, and (as remediation lands) alerts.

Every function but ``health`` validates an Entra ID token and checks app roles in
code (``services.authenticator()``, see docs/runbooks.md); errors are problem
documents (``ops.triggers.handling``). Service modules are imported inside the
functions, so that cold start pays only for azure.functions.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

import azure.functions as func

from ops.triggers.handling import respond_to_request
from ops.triggers.responses import respond_json

if TYPE_CHECKING:
    from ops.services import Services

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness plus a settings check: 200 when settings are valid, 503 otherwise."""
    from ops.health import report_health  # settings validation loads pydantic: not at cold start

    report = report_health(os.environ)
    return respond_json(report, 200 if report["status"] == "ok" else 503)


@bp.function_name("runbook")
@bp.route(route="runbooks/{name?}", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def runbook(req: func.HttpRequest) -> func.HttpResponse:
    """GET runbooks: the list (Ops.Read); GET runbooks/{name}?…: the plan (Ops.Read);
    POST runbooks/{name}: apply (Ops.Operate, and Ops.Approve where the runbook says);
    GET runbooks/openapi.json: the OpenAPI document (no token needed)."""
    name = req.route_params.get("name")
    if name == "openapi.json" and req.method == "GET":
        from ops.runbooks.openapi import openapi_document

        return respond_json(openapi_document())
    body = req.get_body()

    def handle(services: Services) -> func.HttpResponse:
        from ops.auth import Role
        from ops.errors import InvalidInput
        from ops.runbooks.requests import parse_runbook_request

        started = time.perf_counter()
        authenticator = services.authenticator()
        runbooks = services.runbook_service()
        if req.method == "GET":
            authenticator.require(req.headers, Role.READ)
            checked = time.perf_counter()
            if not name:
                names = {role.value: authenticator.role_name(role) for role in Role}
                return respond_json(runbooks.describe(names))
            plan = runbooks.plan(name, dict(req.params))
            response = respond_json(plan)
            done = time.perf_counter()
            response.headers["Server-Timing"] = (
                f"auth;dur={(checked - started) * 1000:.3f}, plan;dur={(done - checked) * 1000:.3f}"
            )
            return response
        caller = authenticator.authenticate(req.headers)
        if not name:
            raise InvalidInput("name", "a runbook name in the route: POST /api/runbooks/{name}")
        roles = (Role.OPERATE, Role.APPROVE) if runbooks.runbook(name).approval else (Role.OPERATE,)
        caller = authenticator.authorize(caller, *roles)
        answer = runbooks.apply(name, parse_runbook_request(name, body), caller.to_audit())
        response = respond_json(answer.to_dict(), answer.status)
        if answer.status == 202:
            response.headers["Location"] = f"/api/runbooks/runs/{answer.run.id}"
        return response

    return respond_to_request("runbook", handle, capability="runbook", body=body)


@bp.function_name("runbook_run")
@bp.route(route="runbooks/runs/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def runbook_run(req: func.HttpRequest) -> func.HttpResponse:
    """GET runbooks/runs/{id}: a run's status, caller and outcomes (Ops.Read)."""

    def handle(services: Services) -> func.HttpResponse:
        from ops.auth import Role

        services.authenticator().require(req.headers, Role.READ)
        run = services.runbook_service().get_run(req.route_params.get("id", ""))
        return respond_json({"run": run.to_dict()})

    return respond_to_request("runbook_run", handle, capability="runbook")
