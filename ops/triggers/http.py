"""HTTP-triggered functions: health today; alerts and runbooks as capabilities land.

Service modules are imported inside the functions, so that cold start pays only
for azure.functions.
"""

from __future__ import annotations

import os

import azure.functions as func

from ops.triggers.responses import respond_json

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    """Liveness plus a settings check: 200 when settings are valid, 503 otherwise."""
    from ops.health import report_health  # settings validation loads pydantic: not at cold start

    report = report_health(os.environ)
    return respond_json(report, 200 if report["status"] == "ok" else 503)
