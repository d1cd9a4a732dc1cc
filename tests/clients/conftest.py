"""One sandbox for the client tests, and the real clients pointed at it.

The clients are the ones an SRE runs: ``kubectl`` (on PATH), ``skopeo`` (Debian), the
``oras`` Python package and the Azure CLI (its own venv, ``tools/az/bin/az``), each
installed by ``scripts/setup``. A client that is missing fails the test that needs it:
these tests stand for what the README promises, so they are never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from sandbox.server import SandboxServer
from tests.support.sandbox import arm_client, serve_sandbox

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIPTION = "5a5a5a5a-0000-4000-8000-000000000016"
CLUSTER = "aks-clients"
REGISTRY = "contosoclients"

ESTATE: dict[str, Any] = {
    "settings": {"throttling": False, "lroSeconds": 0.2},
    "subscriptions": [
        {
            "id": SUBSCRIPTION,
            "name": "clients",
            "resourceGroups": [
                {"name": "rg-acr", "location": "eastus2"},
                {"name": "rg-aks", "location": "eastus2"},
            ],
        }
    ],
    "registries": [
        {
            "name": REGISTRY,
            "resourceGroup": "rg-acr",
            "sku": "Premium",
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
            "name": CLUSTER,
            "resourceGroup": "rg-aks",
            "location": "eastus2",
            "tags": {"environment": "dev"},
            "agentPools": [
                {"name": "system", "mode": "System", "count": 1},
                {"name": "user", "mode": "User", "count": 2},
            ],
            "deployments": [
                {
                    "name": "api",
                    "namespace": "payments",
                    "replicas": 2,
                    "containers": [f"{REGISTRY}.azurecr.io/payments/api:v1"],
                }
            ],
        }
    ],
}


def tool(name: str) -> str:
    """The path of a client, or a failure naming what scripts/setup should have installed."""
    local = ROOT / "tools" / "bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run scripts/setup")
    return found


@pytest.fixture(scope="package")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_sandbox(ESTATE, tmp_path_factory.mktemp("clients-sandbox")) as server:
        yield server


@pytest.fixture(scope="package")
def kubeconfig(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cluster's kubeconfig from ARM (listClusterUserCredential), with a managed-identity
    token for the AKS audience where a real one would run kubelogin."""
    from azure.identity import ManagedIdentityCredential
    from azure.mgmt.containerservice import ContainerServiceClient

    from sandbox.http import AKS_AUDIENCE

    aks = arm_client(ContainerServiceClient, sandbox)
    credentials = aks.managed_clusters.list_cluster_user_credentials("rg-aks", CLUSTER)
    config = yaml.safe_load(credentials.kubeconfigs[0].value)
    token = ManagedIdentityCredential().get_token(f"{AKS_AUDIENCE}/.default").token
    config["users"] = [{"name": u["name"], "user": {"token": token}} for u in config["users"]]
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(yaml.safe_dump(config))
    return path


def run(
    *args: str, check: bool = True, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a client; on failure the assertion shows what it printed."""
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, env=env)
    if check:
        assert result.returncode == 0, (
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


@pytest.fixture(scope="package")
def registry_host(sandbox: SandboxServer) -> str:
    """The registry's login server, as ARM reports it."""
    from azure.mgmt.containerregistry import ContainerRegistryManagementClient

    acr = arm_client(ContainerRegistryManagementClient, sandbox)
    login_server: str = acr.registries.get("rg-acr", REGISTRY).login_server
    return login_server


@pytest.fixture(scope="package")
def refresh_token(sandbox: SandboxServer, registry_host: str) -> str:
    """An ACR refresh token for the managed identity (``az acr login --expose-token`` gives the
    same): the password OCI clients use with the null-GUID user name."""
    import requests
    from azure.identity import ManagedIdentityCredential

    aad = ManagedIdentityCredential().get_token("https://containerregistry.azure.net/.default").token
    answer = requests.post(
        f"https://{registry_host}/oauth2/exchange",
        data={"grant_type": "access_token", "service": registry_host, "access_token": aad},
        verify=str(sandbox.tls.ca_cert),
        timeout=10,
    )
    answer.raise_for_status()
    token: str = answer.json()["refresh_token"]
    return token


NULL_USER = "00000000-0000-0000-0000-000000000000"
