"""Azure SDK exceptions → the project's error tree, in one place for every adapter.

Services and triggers decide from the error's type alone (see ops.errors): throttling,
5xx and network failures are TransientError (with ``retry_after`` from the response
headers when Azure gave one), 404 is NotFound, 409/412 Conflict, 401/403 Forbidden,
and any other 4xx is PermanentError. A request that never reached the service
(connection refused, DNS, TLS) is ``Unreachable`` (transient); a credential chain that
produced no token is ``NoCredential`` (a Forbidden: retrying does not help until the
endpoint or the login is fixed). Either says in one line what could not be reached or
refused, rather than the credential chain's twenty. The message keeps ARM's error code,
so that ``OperationNotAllowed`` or ``AllocationFailed`` shows up in plans and audit records.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import time
from collections.abc import Iterator, Mapping

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from ops.errors import (
    Conflict,
    Forbidden,
    Locked,
    NoCredential,
    NotFound,
    OpsError,
    PermanentError,
    TransientError,
    Unreachable,
)


@contextlib.contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Raise the project's error for any Azure SDK error escaping ``action``."""
    try:
        yield
    except AzureError as error:
        raise to_ops_error(action, error) from error


def to_ops_error(action: str, error: AzureError) -> OpsError:
    """The ops.errors equivalent of an Azure SDK error, judged by type and status."""
    message = f"{action}: {error.message or error}".splitlines()[0]
    status = getattr(error, "status_code", None)
    if isinstance(error, ServiceRequestError):
        return Unreachable(f"{action}: could not connect ({_cause(error)})")
    if isinstance(error, ServiceResponseError):
        return TransientError(message)
    if isinstance(error, ClientAuthenticationError) and status is None:
        return NoCredential(f"{action}: no credential gave an access token ({_credential_cause(error)})")
    if status in (408, 429) or (status is not None and status >= 500):
        return TransientError(message, retry_after=read_retry_after(error))
    if isinstance(error, ResourceExistsError | ResourceModifiedError) or status in (409, 412):
        return Conflict(message)
    if isinstance(error, ResourceNotFoundError) or status == 404:
        return NotFound(message)
    if isinstance(error, ClientAuthenticationError) or status in (401, 403):
        return Forbidden(message)
    if status == 405 and _registry_code(error) == "REGISTRY_DISALLOWED_OPERATION":
        return Locked(message)
    return PermanentError(message)


def _cause(error: AzureError) -> str:
    """The innermost reason a request failed to connect, without the connection pool's
    retelling: ``Connection refused`` rather than three nested exception reprs."""
    inner: BaseException = error
    for _ in range(10):
        deeper = inner.__cause__ or inner.__context__
        if deeper is None:
            break
        inner = deeper
    text = (str(inner).strip() or str(error)).splitlines()[0]
    return _without_errno(text)[:200]


def _credential_cause(error: AzureError) -> str:
    """The managed identity's line of a DefaultAzureCredential failure (the endpoint the
    app uses in Azure and with the sandbox), else the first line of the message."""
    lines = [line.strip() for line in str(error.message or error).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ManagedIdentityCredential:"):
            detail = _without_errno(line.removeprefix("ManagedIdentityCredential:").strip())
            endpoint = os.environ.get("IDENTITY_ENDPOINT") or os.environ.get("MSI_ENDPOINT")
            return f"the managed-identity endpoint {endpoint or '(IMDS)'}: {detail}"[:240]
    return (lines[0] if lines else "no reason given")[:200]


def _without_errno(text: str) -> str:
    """``[Errno 111] Connection refused`` → ``Connection refused``."""
    return text.rsplit("] ", 1)[-1] if "[Errno" in text else text


def _registry_code(error: AzureError) -> str | None:
    """The first code of an ACR error body (``{"errors": [{"code", "message"}]}``), if any."""
    response = getattr(error, "response", None)
    try:
        body = response.json() if response is not None else None
    except Exception:  # not JSON: no code to read
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    return str(first.get("code")) if isinstance(first, dict) else None


def read_retry_after(error: AzureError) -> float | None:
    """Seconds from the response's ``retry-after-ms``/``Retry-After`` header, if any."""
    response = getattr(error, "response", None)
    headers: Mapping[str, str] = getattr(response, "headers", None) or {}
    return retry_after_seconds(headers)


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``x-ms-retry-after-ms`` or ``Retry-After``
    (seconds or an HTTP date), or None when none is usable."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("Retry-After", 1.0)):
        value = headers.get(name)
        if not value:
            continue
        try:
            return max(float(value) * scale, 0.0)
        except ValueError:
            pass
        with contextlib.suppress(TypeError, ValueError):
            return max(email.utils.parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    return None
