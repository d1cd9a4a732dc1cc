"""Fixtures for sandbox tests: a running sandbox per test, and the app's environment.

- ``sandbox_estate``: the estate to serve; override it in a test module (or with
  ``@pytest.mark.parametrize("sandbox_estate", [...], indirect=True)``).
- ``sandbox``: a started :class:`~sandbox.server.SandboxServer` for that estate.
- ``sandbox_env``: the env-file contract exported into ``os.environ`` (what
  ``ManagedIdentityCredential()`` and the SDK clients read).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.server import SandboxServer
from tests.support.sandbox import ARM_SCOPE, minimal_estate, start_sandbox
from tests.support.sandbox import sandbox_env as export_env


@pytest.fixture
def sandbox_estate(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", None) or minimal_estate()


@pytest.fixture
def sandbox(
    sandbox_estate: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxServer]:
    server = start_sandbox(sandbox_estate, state_dir=tmp_path_factory.mktemp("sandbox"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sandbox_env(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return export_env(sandbox, monkeypatch)


@pytest.fixture
def acr_mgmt(sandbox_env: dict[str, str]) -> Any:
    """A real ContainerRegistryManagementClient against the sandbox ARM endpoint."""
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    return ContainerRegistryManagementClient(
        ManagedIdentityCredential(),
        sandbox_env["AZURE_SUBSCRIPTION_ID"],
        base_url=sandbox_env["OPS_ARM_ENDPOINT"],
        credential_scopes=[ARM_SCOPE],
    )


@pytest.fixture
def aks_mgmt(sandbox_env: dict[str, str]) -> Any:
    """A real ContainerServiceClient against the sandbox ARM endpoint."""
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.containerservice import ContainerServiceClient

    return ContainerServiceClient(
        ManagedIdentityCredential(),
        sandbox_env["AZURE_SUBSCRIPTION_ID"],
        base_url=sandbox_env["OPS_ARM_ENDPOINT"],
        credential_scopes=[ARM_SCOPE],
    )
