"""Start the sandbox in-process for a test, and talk to it the way the app does.

``start_sandbox(estate)`` loads an estate (dict, YAML text or path), starts a
:class:`~sandbox.server.SandboxServer` on free ports and returns it;
``running_sandbox`` also stops it on leaving. ``sandbox_env(server, monkeypatch)``
puts the env-file contract into ``os.environ`` so that unmodified SDK code
(``ManagedIdentityCredential()``, ``DefaultAzureCredential()``) reaches the sandbox;
``serve_sandbox`` is ``running_sandbox`` with the env exported, for module-scoped
fixtures. ``connect_app`` aims the app at a sandbox for one test (env, settings, and
``reset_adapter_caches`` to forget its clients of an earlier sandbox); ``app_sandbox``
starts one so connected. The app's ways in: ``arm_client`` (an ARM SDK client),
``kube_configuration`` (a cluster's API server from ARM's kubeconfig) and
``acr_session`` (a registry with ACR tokens). ``control`` calls the ``/_sandbox``
endpoints. ``MINIMAL_ESTATE`` is a small valid estate to build test estates from.
"""

from __future__ import annotations

import contextlib
import copy
import json
import ssl
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
import requests

from sandbox.estate import load_estate
from sandbox.server import SandboxServer

if TYPE_CHECKING:
    from kubernetes.client import Configuration

_Client = TypeVar("_Client")

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


@contextlib.contextmanager
def running_sandbox(estate: dict[str, Any] | str | Path, state_dir: Path) -> Iterator[SandboxServer]:
    """A running sandbox for ``estate``, stopped on leaving."""
    server = start_sandbox(estate, state_dir=state_dir)
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def serve_sandbox(estate: dict[str, Any] | str | Path, state_dir: Path) -> Iterator[SandboxServer]:
    """A running sandbox with its env-file contract exported, for fixtures wider than a test
    (which cannot take ``monkeypatch``); the environment is restored and the sandbox stopped after."""
    with running_sandbox(estate, state_dir) as server, pytest.MonkeyPatch.context() as monkeypatch:
        sandbox_env(server, monkeypatch)
        yield server


def connect_app(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, settings: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """Aim the app at ``server`` for one test: its env-file contract and ``settings`` exported
    (None unsets one), and the clients the app made for an earlier sandbox forgotten; returns
    the env-file contract."""
    env = sandbox_env(server, monkeypatch)
    for key, value in (settings or {}).items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    reset_adapter_caches(monkeypatch)
    return env


def connect_local_app(
    server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """Aim the app at ``server`` as the CLI runs on a workstation, applying for real: state in
    ``tmp_path/state.db``, ``OPS_DRY_RUN=false`` and no Storage account (``AzureWebJobsStorage``
    unset); ``settings`` come on top (see ``connect_app``). Returns the env-file contract."""
    local: dict[str, str | None] = {
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_DRY_RUN": "false",
        "AzureWebJobsStorage": None,
    }
    return connect_app(server, monkeypatch, {**local, **(settings or {})})


@contextlib.contextmanager
def app_sandbox(
    estate: dict[str, Any] | str | Path,
    state_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Mapping[str, str | None] | None = None,
) -> Iterator[SandboxServer]:
    """A running sandbox the app is connected to for one test (see ``connect_app``), stopped after."""
    with running_sandbox(estate, state_dir) as server:
        connect_app(server, monkeypatch, settings)
        yield server


def arm_client(
    client_type: Callable[..., _Client], server: SandboxServer, subscription: str | None = None
) -> _Client:
    """An ARM SDK client (``ContainerServiceClient``, ...) aimed at the sandbox with the managed
    identity, as the app builds it (the env must be exported); by default for the first subscription."""
    from azure.identity import ManagedIdentityCredential

    return client_type(
        ManagedIdentityCredential(),
        subscription or server.env()["AZURE_SUBSCRIPTION_ID"],
        base_url=server.arm_endpoint,
        credential_scopes=[ARM_SCOPE],
    )


def kube_configuration(aks: Any, resource_group: str, cluster: str) -> Configuration:
    """A cluster's API server as the app reaches it: server and CA from ARM's user kubeconfig
    (``aks`` is a ContainerServiceClient), and a managed-identity token for the AKS audience
    where the kubeconfig would run kubelogin."""
    import yaml
    from azure.identity import ManagedIdentityCredential
    from kubernetes import client, config

    from sandbox.http import AKS_AUDIENCE

    credentials = aks.managed_clusters.list_cluster_user_credentials(resource_group, cluster)
    kubeconfig = yaml.safe_load(credentials.kubeconfigs[0].value)
    token = ManagedIdentityCredential().get_token(f"{AKS_AUDIENCE}/.default").token
    kubeconfig["users"] = [{"name": u["name"], "user": {"token": token}} for u in kubeconfig["users"]]
    configuration = client.Configuration()
    config.load_kube_config_from_dict(kubeconfig, client_configuration=configuration)
    return configuration


def acr_session(server: SandboxServer) -> requests.Session:
    """A session to the sandbox's registries that answers ACR's challenges with the managed
    identity's tokens (the env must be exported) and trusts the sandbox CA."""
    from azure.identity import ManagedIdentityCredential

    from sandbox.acr.client import registry_session

    credential = ManagedIdentityCredential()
    return registry_session(
        lambda: credential.get_token("https://containerregistry.azure.net/.default").token,
        verify=str(server.tls.ca_cert),
    )


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


def reset_adapter_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's per-process credentials, clients and services point at one sandbox (its ports
    and CA): forget them all for a test, which gets its own."""
    from ops import services
    from ops.adapters import clients, entra, identity, kube

    monkeypatch.setattr(entra, "_KEYS", {})
    monkeypatch.setattr(identity, "_CREDENTIALS", {})
    monkeypatch.setattr(clients, "_CLIENTS", {})
    monkeypatch.setattr(kube, "_READERS", {})
    services.reset_services()


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
