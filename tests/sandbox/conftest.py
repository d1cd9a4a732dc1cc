"""Fixtures for sandbox tests: a running sandbox per test or per module, and the app's environment.

- ``sandbox_estate``: the estate to serve; override it in a test module (or with
  ``@pytest.mark.parametrize("sandbox_estate", [...], indirect=True)``).
- ``sandbox``: a started :class:`~sandbox.server.SandboxServer` for that estate.
- ``sandbox_env``: the env-file contract exported into ``os.environ`` (what
  ``ManagedIdentityCredential()`` and the SDK clients read).
- ``acr_estate``, ``acr``: the registry suites' sandbox, shared by a module's tests, env
  exported; a module overrides ``acr_estate`` (module scope) to serve its own estate.
- ``http``: a session to ``acr``'s registries with the identity's ACR tokens;
  ``base``: ``https://<login server>`` of its ``contosotest``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.server import SandboxServer
from tests.support.sandbox import acr_session, arm_client, minimal_estate, running_sandbox, serve_sandbox
from tests.support.sandbox import sandbox_env as export_env


@pytest.fixture
def sandbox_estate(request: pytest.FixtureRequest) -> dict[str, Any]:
    return getattr(request, "param", None) or minimal_estate()


@pytest.fixture
def sandbox(
    sandbox_estate: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxServer]:
    with running_sandbox(sandbox_estate, tmp_path_factory.mktemp("sandbox")) as server:
        yield server


@pytest.fixture
def sandbox_env(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    return export_env(sandbox, monkeypatch)


@pytest.fixture(scope="module")
def acr_estate() -> dict[str, Any]:
    return minimal_estate()


@pytest.fixture(scope="module")
def acr(
    acr_estate: dict[str, Any], request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxServer]:
    state_dir = tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])
    with serve_sandbox(acr_estate, state_dir) as server:
        yield server


@pytest.fixture(scope="module")
def http(acr: SandboxServer) -> requests.Session:
    return acr_session(acr)


@pytest.fixture
def base(acr: SandboxServer) -> str:
    return f"https://{acr.world.registries['contosotest'].login_server}"


@pytest.fixture
def acr_mgmt(sandbox: SandboxServer, sandbox_env: dict[str, str]) -> Any:
    """A real ContainerRegistryManagementClient against the sandbox ARM endpoint."""
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    return arm_client(ContainerRegistryManagementClient, sandbox, sandbox_env["AZURE_SUBSCRIPTION_ID"])


@pytest.fixture
def aks_mgmt(sandbox: SandboxServer, sandbox_env: dict[str, str]) -> Any:
    """A real ContainerServiceClient against the sandbox ARM endpoint."""
    from azure.mgmt.containerservice import ContainerServiceClient

    return arm_client(ContainerServiceClient, sandbox, sandbox_env["AZURE_SUBSCRIPTION_ID"])
