"""Credentials: the managed identity in Azure and in the sandbox, a developer login locally.

``DefaultAzureCredential`` tries the managed-identity endpoint first when
``IDENTITY_ENDPOINT`` is set, which is how the sandbox issues tokens, and falls
back to the Azure CLI on a developer's machine.
"""

from __future__ import annotations

from typing import Any

from ops.config import Settings

_CREDENTIALS: dict[str | None, Any] = {}


def build_credential(settings: Settings, client_id: str | None = None) -> Any:
    """One credential per client id per process: tokens are cached inside it."""
    client = client_id or settings.endpoints.managed_identity_client_id
    if client not in _CREDENTIALS:
        from azure.identity import DefaultAzureCredential

        kwargs: dict[str, Any] = {"exclude_interactive_browser_credential": True}
        if client:
            kwargs["managed_identity_client_id"] = client
        _CREDENTIALS[client] = DefaultAzureCredential(**kwargs)
    return _CREDENTIALS[client]
