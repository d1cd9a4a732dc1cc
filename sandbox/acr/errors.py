"""ACR's error body and the errors the registry endpoints raise.

Every ACR data-plane answer that fails, on ``/oauth2``, ``/acr/v1`` and ``/v2`` alike,
carries the distribution-spec shape ``{"errors": [{"code", "message", "detail"}]}``
(``AcrErrors`` in the data-plane REST spec and the azure-containerregistry models),
so one exception type and one renderer serve all three. The codes and messages are
ACR's own where it has its own (``REGISTRY_DISALLOWED_OPERATION`` for a lock,
``IMAGE_QUARANTINED``) and the distribution spec's otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from sandbox.http import SandboxHTTPError

_DISALLOWED = (
    "The operation is disallowed on this registry, repository or image. View troubleshooting steps at "
    "https://aka.ms/acr/faq/#why-does-my-pull-or-push-request-fail-with-disallowed-operation"
)
_JSON = "application/json; charset=utf-8"


class RegistryError(SandboxHTTPError):
    """A failed registry call; ``detail`` goes into the error entry as ACR puts it there."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, code, message, headers)
        self.detail = detail

    def to_response(self) -> Response:
        return render_error(self)


def render_error(error: SandboxHTTPError) -> Response:
    """Any SandboxHTTPError (from here, ``sandbox.http`` or ``sandbox.authz``) in ACR's shape."""
    code = error.code
    if error.status == 403 and code == "AuthorizationFailed":
        # An Azure RBAC refusal reaches registry clients as the distribution DENIED code.
        code = "DENIED"
    if error.status == 401 and not isinstance(error, RegistryError):
        code = "UNAUTHORIZED"
    entry: dict[str, Any] = {"code": code, "message": error.message}
    detail = getattr(error, "detail", None)
    if detail is not None:
        entry["detail"] = detail
    body = json.dumps({"errors": [entry]}, separators=(",", ":")).encode()
    headers = {"Docker-Distribution-Api-Version": "registry/2.0", **error.headers}
    return Response(body, error.status, headers=headers, media_type=_JSON)


async def handle_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for the registry app."""
    assert isinstance(exc, SandboxHTTPError)
    return render_error(exc)


def name_unknown(repository: str) -> RegistryError:
    return RegistryError(
        404, "NAME_UNKNOWN", "repository name not known to registry", detail={"name": repository}
    )


def manifest_unknown(reference: str) -> RegistryError:
    key = "Digest" if ":" in reference else "Tag"
    return RegistryError(404, "MANIFEST_UNKNOWN", "manifest unknown", detail={key: reference})


def tag_unknown(tag: str) -> RegistryError:
    return RegistryError(404, "TAG_UNKNOWN", "the specified tag does not exist", detail={"tag": tag})


def blob_unknown(digest: str) -> RegistryError:
    return RegistryError(404, "BLOB_UNKNOWN", "blob unknown to registry", detail=digest)


def upload_unknown(upload: str) -> RegistryError:
    return RegistryError(
        404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", detail={"uuid": upload}
    )


def digest_invalid(
    message: str = "provided digest did not match uploaded content", detail: Any = None
) -> RegistryError:
    return RegistryError(400, "DIGEST_INVALID", message, detail=detail)


def disallowed() -> RegistryError:
    """A lock (``deleteEnabled``/``writeEnabled``/``readEnabled`` false) refused the call."""
    return RegistryError(405, "REGISTRY_DISALLOWED_OPERATION", _DISALLOWED)


def unsupported(message: str = "The operation is unsupported.") -> RegistryError:
    return RegistryError(405, "UNSUPPORTED", message)


def bad_request(message: str, *, code: str = "BAD_REQUEST", detail: Any = None) -> RegistryError:
    """An argument the registry does not support: fail loudly, never an empty success."""
    return RegistryError(400, code, message, detail=detail)


def quarantined() -> RegistryError:
    return RegistryError(403, "IMAGE_QUARANTINED", "The image is quarantined.", detail={})
