"""The Azure CLI against the sandbox: cloud register, managed-identity login, acr and aks.

The CLI runs from its own venv (``tools/az``), with its own config directory, and only
the sandbox's env file for company. ``az graph query`` lives in the resource-graph
extension, which is not on the package registries these machines reach, so the same
query goes through ``az rest`` (what the extension sends).

Cases:
- ``cloud register --endpoint-resource-manager`` reads the sandbox's cloud metadata;
  ``login --identity`` finds the subscription;
- ``acr list``, ``acr show`` (found through Resources - List), ``acr repository list``,
  ``show-tags --orderby time_desc`` (newest first), ``acr manifest list-metadata``,
  ``acr login --expose-token``;
- ``aks list``, ``aks show``, ``aks nodepool list``, ``aks stop`` then ``aks start``
  (POST LROs, polled to the end), ``aks get-credentials``;
- the Resource Graph query through ``az rest``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.server import SandboxServer
from tests.clients.conftest import CLUSTER, REGISTRY, ROOT, run

AZ = ROOT / "tools" / "az" / "bin" / "az"


@pytest.fixture(scope="module")
def az_env(sandbox: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if not AZ.exists():
        pytest.fail("the Azure CLI is not installed in tools/az: run scripts/setup")
    env = {
        **os.environ,
        **sandbox.env(),
        "AZURE_CONFIG_DIR": str(tmp_path_factory.mktemp("az")),
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
        "AZURE_CORE_NO_COLOR": "true",
    }
    az(env, "cloud", "register", "-n", "Sandbox", "--endpoint-resource-manager", sandbox.arm_endpoint)
    az(env, "cloud", "set", "-n", "Sandbox")
    yield env


def az(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run(str(AZ), *args, check=check, timeout=120, env=env)


def az_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(az(env, *args, "-o", "json").stdout)


@pytest.fixture(scope="module")
def logged_in(az_env: dict[str, str]) -> dict[str, str]:
    accounts = az_json(az_env, "login", "--identity")
    assert [a["name"] for a in accounts] == ["clients"]
    assert accounts[0]["user"]["assignedIdentityInfo"] == "MSI"
    return az_env


def test_acr_commands(logged_in: dict[str, str], sandbox: SandboxServer) -> None:
    env = logged_in
    assert [r["name"] for r in az_json(env, "acr", "list")] == [REGISTRY]
    login_server = az(
        env, "acr", "show", "-n", REGISTRY, "--query", "loginServer", "-o", "tsv"
    ).stdout.strip()
    assert login_server == sandbox.world.registries[REGISTRY].login_server
    assert az_json(env, "acr", "repository", "list", "-n", REGISTRY) == ["payments/api"]
    tags = az_json(env, "acr", "repository", "show-tags", "-n", REGISTRY, "--repository", "payments/api",
                   "--orderby", "time_desc")  # fmt: skip
    assert tags[-1] == "v1"  # 40 days old; v2 and latest are 2 days old
    manifests = az_json(env, "acr", "manifest", "list-metadata", "-r", REGISTRY, "-n", "payments/api")
    assert {m["digest"] for m in manifests} == set(
        sandbox.world.registries[REGISTRY].repositories["payments/api"].manifests
    )
    token = az(env, "acr", "login", "-n", REGISTRY, "--expose-token", "--query", "accessToken", "-o", "tsv")
    assert token.stdout.count(".") == 2


def test_aks_commands(logged_in: dict[str, str], sandbox: SandboxServer, tmp_path: Path) -> None:
    env = logged_in
    assert [c["name"] for c in az_json(env, "aks", "list")] == [CLUSTER]
    shown = az_json(env, "aks", "show", "-g", "rg-aks", "-n", CLUSTER)
    assert shown["powerState"]["code"] == "Running"
    pools = az_json(env, "aks", "nodepool", "list", "-g", "rg-aks", "--cluster-name", CLUSTER)
    assert {p["name"]: p["count"] for p in pools} == {"system": 1, "user": 2}
    az(env, "aks", "stop", "-g", "rg-aks", "-n", CLUSTER)
    assert az_json(env, "aks", "show", "-g", "rg-aks", "-n", CLUSTER)["powerState"]["code"] == "Stopped"
    assert sandbox.world.clusters[CLUSTER].power_state == "Stopped"
    az(env, "aks", "start", "-g", "rg-aks", "-n", CLUSTER)
    assert az_json(env, "aks", "show", "-g", "rg-aks", "-n", CLUSTER)["powerState"]["code"] == "Running"
    kubeconfig = tmp_path / "config"
    az(env, "aks", "get-credentials", "-g", "rg-aks", "-n", CLUSTER, "-f", str(kubeconfig))
    assert f"127.0.0.1:{sandbox.world.clusters[CLUSTER].port}" in kubeconfig.read_text()


def test_resource_graph_through_az_rest(logged_in: dict[str, str], sandbox: SandboxServer) -> None:
    body = json.dumps(
        {"query": "Resources | where type =~ 'microsoft.containerservice/managedclusters' | project name"}
    )
    url = f"{sandbox.arm_endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01"
    answer = az_json(logged_in, "rest", "--method", "post", "--url", url, "--body", body)
    assert answer["data"] == [{"name": CLUSTER}]
