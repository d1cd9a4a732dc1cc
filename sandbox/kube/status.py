"""Kubernetes ``Status`` failures, shaped exactly as kube-apiserver writes them.

The kubernetes client surfaces ``ApiException(status, reason, body)``; callers branch
on ``status`` and on the body's ``reason`` (``Expired``, ``Conflict``), so both must be
right. Handlers raise :class:`KubeStatusError`; the app turns it into the body.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from sandbox.http import SandboxHTTPError

# HTTP status → the apiserver's StatusReason for errors raised without one.
_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


class KubeStatusError(SandboxHTTPError):
    """A failure answered as a ``Status`` object; ``code`` is the StatusReason."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        continue_token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, reason, message, headers)
        self.details = details
        self.continue_token = continue_token


def status_body(
    status: int,
    reason: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    continue_token: str | None = None,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"continue": continue_token} if continue_token else {}
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata,
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details:
        body["details"] = details
    body["code"] = status
    return body


def status_response(error: SandboxHTTPError) -> JSONResponse:
    """Any sandbox error as a Status; Azure-style codes map to the StatusReason."""
    if isinstance(error, KubeStatusError):
        body = status_body(
            error.status,
            error.code,
            error.message,
            details=error.details,
            continue_token=error.continue_token,
        )
    else:
        # Errors from shared code (token checks) carry Azure codes; the apiserver
        # answers a bad token with a bare "Unauthorized".
        message = "Unauthorized" if error.status == 401 else error.message
        body = status_body(error.status, _REASONS.get(error.status, "InternalError"), message)
    # The apiserver sends no WWW-Authenticate challenge with its 401.
    headers = None if error.status == 401 else (error.headers or None)
    return JSONResponse(body, error.status, headers=headers)


def not_found(kind_qualified: str, name: str, *, group: str, plural: str) -> KubeStatusError:
    return KubeStatusError(
        404,
        "NotFound",
        f'{kind_qualified} "{name}" not found',
        details={"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural},
    )


def bad_request(message: str) -> KubeStatusError:
    return KubeStatusError(400, "BadRequest", message)
