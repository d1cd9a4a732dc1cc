"""JSON HTTP responses shared by every HTTP-triggered function.

Errors are RFC 9457 problem documents: ``type`` is a URN naming the error
(``urn:acr-aks-ops:problem:<status>``), ``title`` the status phrase, ``detail`` what
went wrong, and extension members carry what a program needs (the field path).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import azure.functions as func


def respond_json(body: Any, status: int = 200) -> func.HttpResponse:
    """A JSON response; non-JSON values (datetimes, enums) are rendered with ``str``."""
    return func.HttpResponse(
        json.dumps(body, default=str, indent=2), status_code=status, mimetype="application/json"
    )


PROBLEM_JSON = "application/problem+json"


def respond_problem(
    status: int, detail: str, extensions: Mapping[str, Any] | None = None
) -> func.HttpResponse:
    """An ``application/problem+json`` answer (RFC 9457) with ``extensions`` as extra members."""
    from http import HTTPStatus

    body = {
        **(extensions or {}),  # never over the standard members
        "type": f"urn:acr-aks-ops:problem:{status}",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return func.HttpResponse(
        json.dumps(body, default=str, indent=2), status_code=status, mimetype=PROBLEM_JSON
    )
