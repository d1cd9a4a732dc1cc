"""JSON HTTP responses shared by every HTTP-triggered function."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def respond_json(body: Any, status: int = 200) -> func.HttpResponse:
    """A JSON response; non-JSON values (datetimes, enums) are rendered with ``str``."""
    return func.HttpResponse(
        json.dumps(body, default=str, indent=2), status_code=status, mimetype="application/json"
    )
