"""Purge's adapters against the sandbox (ARM, ACR, Kubernetes) and Azurite (queues), through
the real SDKs.

Cases:
- ARM: registries with login server and SKU, clusters with power state, the user
  kubeconfig;
- ACR: a repository read whole (media types, index children, a referrer's subject read
  from its content, manifest, tag and repository locks, tag times); lists page at 1,000
  and follow ``Link``; one token exchange covers many repositories, so no request meets
  a 401; blobs of a manifest; delete (a missing manifest is done), unlock of a manifest
  and a tag; a throttled delete is a TransientError with Retry-After (the executor
  retries writes, not the SDK);
- Kubernetes: images of pods (spec and status imageID), of a deployment scaled to zero,
  a statefulset, a daemonset and a cronjob; paging with ``limit``/``continue``; an expired
  continue token (410) restarts the list; a stopped cluster cannot be read;
- queues: send, receive and delete on Azurite; ``UseDevelopmentStorage=true`` expands to
  Azurite's well-known account.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.adapters.arm import ArmDirectory
from ops.adapters.kube import KubeReader
from ops.adapters.queues import StorageQueue, expand_connection_string
from ops.adapters.registry import registry_client
from ops.config import Settings, load_settings
from ops.errors import TransientError
from ops.purge.inventory import INDEX_MEDIA_TYPES, ClusterRef, RegistryRef
from sandbox.server import SandboxServer
from tests.support.azurite import run_azurite
from tests.support.purge import ESTATE, REGISTRY, reset_adapter_caches
from tests.support.sandbox import control, sandbox_env, start_sandbox

PAGED = {
    "name": "pagedreg",
    "resourceGroup": "rg-acr",
    "sku": "Standard",
    "generate": {"repositories": 2, "manifestsPerRepository": 1200, "repositoryPrefix": "gen/app"},
}


def estate() -> dict[str, Any]:
    import copy

    data = copy.deepcopy(ESTATE)
    data["registries"].append(PAGED)
    data["registries"][0]["repositories"].append(
        {
            "name": "shop/frozen",
            "attributes": {"writeEnabled": False},
            "manifests": [{"tags": ["x"], "age": "9d"}],
        }
    )
    data["clusters"][0]["statefulsets"] = [
        {"name": "db", "namespace": "shop", "containers": [f"{REGISTRY}.azurecr.io/shop/web:ci-301"]}
    ]
    data["clusters"][0]["daemonsets"] = [
        {
            "name": "agent",
            "namespace": "kube-system",
            "containers": [f"{REGISTRY}.azurecr.io/shop/base:stable"],
        }
    ]
    data["clusters"].append({"name": "aks-off", "resourceGroup": "rg-aks", "powerState": "Stopped"})
    return data


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    server = start_sandbox(estate(), state_dir=tmp_path_factory.mktemp("sandbox"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    sandbox_env(sandbox, monkeypatch)
    reset_adapter_caches(monkeypatch)
    control(sandbox, "DELETE", "requests")
    return load_settings(os.environ)


def registry_ref(settings: Settings, name: str = REGISTRY) -> RegistryRef:
    return next(r for r in ArmDirectory(settings).list_registries() if r.name == name)


def acr_log(sandbox: SandboxServer, name: str = REGISTRY) -> list[dict[str, Any]]:
    return control(sandbox, "GET", f"requests?service=acr:{name}")["requests"]


def test_arm_lists_registries_and_clusters(settings: Settings, sandbox: SandboxServer) -> None:
    directory = ArmDirectory(settings)
    registries = {r.name: r for r in directory.list_registries()}
    assert registries[REGISTRY].login_server == sandbox.world.registries[REGISTRY].login_server
    assert registries[REGISTRY].sku == "Premium" and registries["pagedreg"].sku == "Standard"
    clusters = {c.name: c for c in directory.list_clusters()}
    assert clusters["aks-shop"].power_state == "Running" and clusters["aks-shop"].resource_group == "rg-aks"
    assert clusters["aks-off"].power_state == "Stopped"
    assert b"certificate-authority-data" in directory.get_kubeconfig(clusters["aks-shop"])


def test_acr_reads_a_repository_whole(settings: Settings, sandbox: SandboxServer) -> None:
    client = registry_client(settings, registry_ref(settings))
    assert {"shop/api", "shop/base", "shop/web"} <= set(client.list_repositories())
    api = client.read_repository("shop/api")
    by_tag = {t: m for m in api.manifests for t in m.tags}
    signed = by_tag["ci-104"]
    referrers = [m for m in api.manifests if m.subject == signed.digest]
    assert {m.artifact_type for m in referrers} == {
        "application/vnd.cncf.notary.signature",
        "application/spdx+json",
    }
    assert not by_tag["ci-103"].delete_enabled
    assert {t.name for t in api.tags} >= {"ci-100", "ci-103"} and all(t.updated.tzinfo for t in api.tags)
    base = client.read_repository("shop/base")
    index = next(m for m in base.manifests if "stable" in m.tags)
    assert index.media_type in INDEX_MEDIA_TYPES and len(index.children) == 2
    assert set(index.children) <= {m.digest for m in base.manifests}
    frozen = client.read_repository("shop/frozen")
    assert frozen.write_enabled is False and frozen.delete_enabled is True
    child = base.manifests[0] if base.manifests[0].digest in index.children else base.manifests[1]
    blobs = client.read_layers("shop/base", child.digest)
    assert len(blobs) >= 2 and all(d.startswith("sha256:") and size > 0 for d, size in blobs)


def test_acr_lists_page_at_1000_without_401s(settings: Settings, sandbox: SandboxServer) -> None:
    client = registry_client(settings, registry_ref(settings, "pagedreg"))
    names = list(client.list_repositories())
    client.prepare(names)
    states = [client.read_repository(n) for n in names]
    assert [len(s.manifests) for s in states] == [1200, 1200]
    log = acr_log(sandbox, "pagedreg")
    lists = [r for r in log if r["operation"] in ("acr.manifests.list", "acr.tags.list")]
    assert len([r for r in lists if r["operation"] == "acr.manifests.list"]) == 4  # 2 repositories x 2 pages
    assert all("n=" not in r["path"] for r in lists)  # (paths carry no query; the sandbox caps n at 1000)
    assert [r for r in log if r["status"] == 401] == []
    tokens = [r for r in log if r["path"].startswith("/oauth2/")]
    assert len(tokens) <= 3  # one refresh token, one access token for both repositories, one for the catalog


def test_acr_deletes_and_unlocks(settings: Settings, sandbox: SandboxServer) -> None:
    client = registry_client(settings, registry_ref(settings))
    web = client.read_repository("shop/web")
    doomed = next(m for m in web.manifests if "ci-301" in m.tags)
    client.delete_manifest("shop/web", doomed.digest)
    client.delete_manifest("shop/web", doomed.digest)  # already gone: done, not an error
    assert doomed.digest not in sandbox.world.registries[REGISTRY].repositories["shop/web"].manifests
    api = client.read_repository("shop/api")
    locked = next(m for m in api.manifests if "ci-103" in m.tags)
    client.unlock_manifest("shop/api", locked.digest)
    client.unlock_tag("shop/api", "ci-103")
    world_manifest = sandbox.world.registries[REGISTRY].repositories["shop/api"].manifests[locked.digest]
    assert world_manifest.attrs.delete_enabled and world_manifest.attrs.write_enabled


def test_acr_throttled_delete_is_transient_with_retry_after(
    settings: Settings, sandbox: SandboxServer
) -> None:
    client = registry_client(settings, registry_ref(settings))
    digest = next(m.digest for m in client.read_repository("shop/api").manifests if "ci-100" in m.tags)
    control(sandbox, "POST", "faults", [{"kind": "throttle", "service": f"acr:{REGISTRY}", "method": "DELETE",
                                          "count": 1, "retryAfter": 7}])  # fmt: skip
    with pytest.raises(TransientError) as info:
        client.delete_manifest("shop/api", digest)
    assert info.value.retry_after == 7
    assert [r["status"] for r in acr_log(sandbox) if r["method"] == "DELETE"] == [429]  # no SDK retry


def cluster(settings: Settings, name: str) -> ClusterRef:
    return next(c for c in ArmDirectory(settings).list_clusters() if c.name == name)


def reader(settings: Settings, page_size: int = 500) -> KubeReader:
    from ops.adapters.identity import build_credential

    return KubeReader(
        ArmDirectory(settings), build_credential(settings), page_size=page_size, sleep=lambda _: None
    )


def test_kube_images_of_pods_and_every_template(settings: Settings, sandbox: SandboxServer) -> None:
    uses = list(reader(settings, page_size=2).list_image_uses(cluster(settings, "aks-shop")))
    login = sandbox.world.registries[REGISTRY].login_server
    by_user: dict[str, set[str]] = {}
    for use in uses:
        kind = use.user.split("/")[2]
        by_user.setdefault(kind, set()).add(use.image)
    assert f"{login}/shop/api:ci-101" in by_user["deployment"]  # replicas: 0
    assert f"{login}/shop/api:ci-105" in by_user["cronjob"]
    assert f"{login}/shop/web:ci-301" in by_user["statefulset"]
    assert f"{login}/shop/base:stable" in by_user["daemonset"]
    assert any("@sha256:" in image for image in by_user["pod"])  # status imageID
    assert f"{login}/shop/web:ci-300" in by_user["pod"]
    pages = [
        r
        for r in control(sandbox, "GET", "requests?service=kube:aks-shop")["requests"]
        if "pods" in r["path"]
    ]
    assert len(pages) > 2  # page_size=2 forced continue tokens


def test_kube_expired_continue_token_restarts_the_list(
    settings: Settings, sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube = reader(settings, page_size=1)
    original = kube._page
    calls = {"n": 0}

    def aging_page(*args: Any) -> Any:
        calls["n"] += 1
        page = original(*args)
        if calls["n"] == 1:
            monkeypatch.setattr(sandbox.world, "clock_offset", sandbox.world.clock_offset + 400)
        return page

    monkeypatch.setattr(kube, "_page", aging_page)
    uses = list(kube.list_image_uses(cluster(settings, "aks-shop")))
    statuses = [r["status"] for r in control(sandbox, "GET", "requests?service=kube:aks-shop")["requests"]]
    assert 410 in statuses
    assert any(u.user.endswith("/cronjob/report") for u in uses)


def test_kube_stopped_cluster_cannot_be_read(settings: Settings) -> None:
    with pytest.raises(TransientError):
        list(reader(settings).list_image_uses(cluster(settings, "aks-off")))


def test_queue_send_receive_delete_on_azurite(tmp_path: Path) -> None:
    with run_azurite(tmp_path) as azurite:
        queue = StorageQueue("purge-adapter-test", connection_string=azurite.connection_string)
        queue.send('{"run": "r1"}')
        queue.send('{"run": "r2"}')
        received = queue.receive(visibility_timeout=30)
        assert sorted(m.body for m in received) == ['{"run": "r1"}', '{"run": "r2"}']
        for message in received:
            queue.delete(message)
        assert queue.receive() == []


def test_development_storage_shorthand_expands_to_azurite() -> None:
    expanded = expand_connection_string("UseDevelopmentStorage=true")
    assert "AccountName=devstoreaccount1" in expanded
    assert "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1" in expanded
    proxied = expand_connection_string("UseDevelopmentStorage=true;DevelopmentStorageProxyUri=http://azurite")
    assert "QueueEndpoint=http://azurite:10001/devstoreaccount1" in proxied
    other = "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=eQ==;EndpointSuffix=core.windows.net"
    assert expand_connection_string(other) == other
