"""Start the sandbox in-process for a test, and talk to it the way the app does.

``start_sandbox(estate)`` loads an estate (dict, YAML text or path), starts a
:class:`~sandbox.server.SandboxServer` on free ports and returns it (it is also a
context manager). ``sandbox_env(server, monkeypatch)`` puts the env-file contract into
``os.environ`` so that unmodified SDK code (``ManagedIdentityCredential()``,
``DefaultAzureCredential()``) reaches the sandbox. ``control`` calls the ``/_sandbox``
endpoints. ``MINIMAL_ESTATE`` is a small valid estate to build test estates from.
"""

from __future__ import annotations

import copy
import json
import ssl
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from sandbox.estate import load_estate
from sandbox.server import SandboxServer

SUBSCRIPTION = "00000000-0000-4000-8000-000000000001"
ARM_SCOPE = "https://management.azure.com/.default"

MINIMAL_ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": 0.2},
    "subscriptions": [
        {
            "id": SUBSCRIPTION,
            "name": "test",
            "resourceGroups": [
                {"name": "rg-acr", "location": "eastus2"},
                {"name": "rg-aks", "location": "eastus2"},
            ],
        }
    ],
    "registries": [
        {
            "name": "contosotest",
            "resourceGroup": "rg-acr",
            "sku": "Premium",
            "replications": [{"location": "westeurope"}],
            "repositories": [
                {
                    "name": "payments/api",
                    "manifests": [
                        {"tags": ["v1"], "age": "40d"},
                        {"tags": ["v2", "latest"], "age": "2d"},
                    ],
                }
            ],
        }
    ],
    "clusters": [
        {
            "name": "aks-test",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "dev"},
            "agentPools": [
                {"name": "system", "mode": "System", "count": 1},
                {
                    "name": "user",
                    "mode": "User",
                    "count": 2,
                    "enableAutoScaling": True,
                    "minCount": 1,
                    "maxCount": 5,
                },
            ],
            "deployments": [
                {
                    "name": "api",
                    "namespace": "payments",
                    "replicas": 2,
                    "containers": ["contosotest.azurecr.io/payments/api:v1"],
                },
            ],
        }
    ],
}


def minimal_estate(**overrides: Any) -> dict[str, Any]:
    """A deep copy of MINIMAL_ESTATE with top-level sections replaced."""
    estate = copy.deepcopy(MINIMAL_ESTATE)
    estate.update(copy.deepcopy(overrides))
    return estate


def start_sandbox(estate: dict[str, Any] | str | Path, *, state_dir: Path | None = None) -> SandboxServer:
    """A running sandbox for ``estate``; call ``stop()`` (or use ``with``) when done."""
    return SandboxServer(load_estate(estate), state_dir=state_dir).start()


def sandbox_env(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Export the env-file contract for the duration of a test; returns it."""
    env = server.env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # A developer's own Azure settings must not leak into tests.
    for key in (
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
        "IMDS_ENDPOINT",
        "IDENTITY_SERVER_THUMBPRINT",
    ):
        monkeypatch.delenv(key, raising=False)
    return env


def control(server: SandboxServer, method: str, path: str, body: Any = None) -> Any:
    """Call a ``/_sandbox`` endpoint; returns the decoded JSON (None for 204)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{server.arm_endpoint}/_sandbox/{path.lstrip('/')}",
        data=data,
        method=method,
        headers={"content-type": "application/json"},
    )
    context = ssl.create_default_context(cafile=str(server.tls.ca_cert))
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        payload = response.read()
    return json.loads(payload) if payload else None
