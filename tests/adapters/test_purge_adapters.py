"""Purge's adapters against the sandbox (ARM, ACR, Kubernetes) and Azurite (queues), through
the real SDKs.

Cases:
- ARM: registries with login server and SKU, clusters with power state, the user
  kubeconfig;
- ACR: a repository read whole (media types, index children, a referrer's subject read
  from its content, manifest, tag and repository locks, tag times); lists page at 1,000
  and follow ``Link``; one token exchange covers many repositories, so no request meets
  a 401; blobs of a manifest; delete (a missing manifest is done), unlock of a manifest
  and a tag; a manifest's and a tag's lock flags read back (NotFound once gone, which is
  how a crashed delete is verified); a throttled delete is a TransientError with Retry-After (the executor
  retries writes, not the SDK); a missing or unparseable createdTime/lastUpdateTime is
  unknown (None), never 1970; purge and the gate read a manifest's subject, children and
  artifact type with one parser, so they agree (an image's config is no artifact type);
- Kubernetes: images of pods (spec and status imageID), of a deployment scaled to zero,
  its earlier revisions' ReplicaSets (rollback targets), a standalone ReplicaSet, a
  statefulset, a daemonset, a replication controller, a cronjob and standalone Jobs
  (suspended too); paging with ``limit``/``continue``; an expired continue token (410)
  restarts the list; a stopped cluster cannot be read; a token endpoint that times out is
  a TransientError, retried (the list then succeeds), and a refused token is Forbidden;
- queues: send, receive and delete on Azurite; ``UseDevelopmentStorage=true`` is the
  SDK's to read: the queue client built from it addresses Azurite's well-known account.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.adapters.arm import ArmDirectory
from ops.adapters.kube import KubeReader
from ops.adapters.queues import StorageQueue
from ops.adapters.registry import (
    _manifest_from,
    _Shared,
    _tag_from,
    complete_manifest,
    manifest_facts,
    parse_manifest,
    registry_client,
)
from ops.config import Settings, load_settings
from ops.errors import Forbidden, NotFound, TransientError
from ops.purge.inventory import INDEX_MEDIA_TYPES, ClusterRef, Manifest, RegistryRef
from sandbox.server import SandboxServer
from tests.support.azurite import run_azurite
from tests.support.purge import ESTATE, REGISTRY, SIGNATURE
from tests.support.queues import delete_message, receive_messages
from tests.support.sandbox import connect_app, control, running_sandbox

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
    # The running api deployment was rolled out over ci-102 and ci-080: both are rollback targets.
    data["clusters"][0]["deployments"][0]["history"] = [
        {"containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-102"]},
        {"containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-gone"]},  # purged already
    ]
    data["clusters"][0]["replicasets"] = [
        {
            "name": "canary",
            "namespace": "shop",
            "replicas": 0,
            "containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-103"],
        }
    ]
    data["clusters"][0]["replicationcontrollers"] = [
        {
            "name": "old",
            "namespace": "shop",
            "replicas": 0,
            "containers": [f"{REGISTRY}.azurecr.io/shop/web:ci-300"],
        }
    ]
    data["clusters"][0]["jobs"] = [
        {
            "name": "migrate",
            "namespace": "shop",
            "suspend": True,
            "containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-104"],
        },
        {"name": "seed", "namespace": "shop", "containers": [f"{REGISTRY}.azurecr.io/shop/base:ci-200"]},
    ]
    data["clusters"].append({"name": "aks-off", "resourceGroup": "rg-aks", "powerState": "Stopped"})
    return data


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(estate(), tmp_path_factory.mktemp("sandbox")) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    connect_app(sandbox, monkeypatch)
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
    assert client.read_manifest_flags("shop/web", doomed.digest) == (True, True)
    client.delete_manifest("shop/web", doomed.digest)
    client.delete_manifest("shop/web", doomed.digest)  # already gone: done, not an error
    assert doomed.digest not in sandbox.world.registries[REGISTRY].repositories["shop/web"].manifests
    with pytest.raises(NotFound):  # how a crashed delete is verified: gone means done
        client.read_manifest_flags("shop/web", doomed.digest)
    api = client.read_repository("shop/api")
    locked = next(m for m in api.manifests if "ci-103" in m.tags)
    assert client.read_manifest_flags("shop/api", locked.digest) == (False, True)
    client.unlock_manifest("shop/api", locked.digest)
    client.unlock_tag("shop/api", "ci-103")
    world_manifest = sandbox.world.registries[REGISTRY].repositories["shop/api"].manifests[locked.digest]
    assert world_manifest.attrs.delete_enabled and world_manifest.attrs.write_enabled
    assert client.read_manifest_flags("shop/api", locked.digest) == (True, True)
    assert client.read_tag_flags("shop/api", "ci-103") == (True, True)
    with pytest.raises(NotFound):
        client.read_tag_flags("shop/api", "no-such-tag")


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
    # Rollback targets: the api deployment's earlier revisions, and a ReplicaSet of its own.
    assert {f"{login}/shop/api:ci-102", f"{login}/shop/api:ci-gone", f"{login}/shop/api:ci-103"} <= by_user[
        "replicaset"
    ]
    assert f"{login}/shop/api:ci-090" in by_user["replicaset"]  # the current one too
    assert by_user["replicationcontroller"] == {f"{login}/shop/web:ci-300"}
    assert by_user["job"] == {f"{login}/shop/api:ci-104", f"{login}/shop/base:ci-200"}  # suspended or done
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


class FlakyCredential:
    """The real credential, after ``failures`` errors raised in its place."""

    def __init__(self, real: Any, failures: list[Exception]) -> None:
        self.real = real
        self.failures = failures
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.real.get_token(*scopes, **kwargs)


def test_kube_token_timeout_is_transient_and_retried(settings: Settings) -> None:
    from azure.core.exceptions import ServiceRequestError

    from ops.adapters.identity import build_credential

    credential = FlakyCredential(
        build_credential(settings), [ServiceRequestError("token endpoint timed out")]
    )
    kube = KubeReader(ArmDirectory(settings), credential, sleep=lambda _: None)
    uses = list(kube.list_image_uses(cluster(settings, "aks-shop")))
    assert uses and credential.calls == 2

    always = FlakyCredential(build_credential(settings), [ServiceRequestError("timed out")] * 10)
    with pytest.raises(TransientError, match="timed out"):
        list(
            KubeReader(ArmDirectory(settings), always, sleep=lambda _: None).list_image_uses(
                cluster(settings, "aks-shop")
            )
        )


def test_kube_refused_token_is_forbidden(settings: Settings) -> None:
    from azure.core.exceptions import ClientAuthenticationError

    from ops.adapters.identity import build_credential

    credential = FlakyCredential(
        build_credential(settings), [ClientAuthenticationError("AADSTS700016: no such app")]
    )
    with pytest.raises(Forbidden, match="AADSTS700016"):
        list(
            KubeReader(ArmDirectory(settings), credential, sleep=lambda _: None).list_image_uses(
                cluster(settings, "aks-shop")
            )
        )
    assert credential.calls == 1  # a refusal is not retried


def test_queue_send_receive_delete_on_azurite(tmp_path: Path) -> None:
    with run_azurite(tmp_path) as azurite:
        queue = StorageQueue("purge-adapter-test", connection_string=azurite.connection_string)
        queue.send('{"run": "r1"}')
        queue.send('{"run": "r2"}')
        received = receive_messages(queue, visibility_timeout=30)
        assert sorted(m.body for m in received) == ['{"run": "r1"}', '{"run": "r2"}']
        for message in received:
            delete_message(queue, message)
        assert receive_messages(queue) == []


def test_development_storage_shorthand_is_read_by_the_sdk() -> None:
    queue = StorageQueue("purge-work", connection_string="UseDevelopmentStorage=true")
    assert queue.client.url == "http://127.0.0.1:10001/devstoreaccount1/purge-work"
    assert queue.client.account_name == "devstoreaccount1"
    assert queue.client.credential.account_name == "devstoreaccount1"  # signed with the well-known key


def test_acr_missing_or_unparseable_times_are_unknown() -> None:
    shared = _Shared()
    listed = {"digest": "sha256:" + "a" * 64, "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    manifest = _manifest_from({**listed, "createdTime": "not a time"}, shared)
    assert manifest.created is None and manifest.updated is None
    dated = _manifest_from({**listed, "lastUpdateTime": "2026-11-01T10:00:00.1234567Z"}, shared)
    assert dated.updated is not None and dated.updated.year == 2026 and dated.created is None
    tag = _tag_from({"name": "v1", "digest": listed["digest"], "lastUpdateTime": ""}, shared)
    assert tag.updated is None


DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


@pytest.mark.parametrize(
    ("content", "artifact_type"),
    [
        ({"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
          "config": {"mediaType": DOCKER_CONFIG, "digest": "sha256:c", "size": 7},
          "layers": [{"digest": "sha256:l", "size": 9}]}, None),
        ({"mediaType": "application/vnd.oci.image.manifest.v1+json", "artifactType": SIGNATURE,
          "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:e", "size": 2},
          "subject": {"digest": "sha256:s"}}, SIGNATURE),
        ({"mediaType": "application/vnd.oci.image.manifest.v1+json",
          "config": {"mediaType": "application/spdx+json", "digest": "sha256:b", "size": 3},
          "subject": {"digest": "sha256:s"}}, "application/spdx+json"),
    ],
    ids=["image", "signature", "sbom-by-config"],
)  # fmt: skip
def test_purge_and_the_gate_read_manifest_content_alike(
    content: dict[str, Any], artifact_type: str | None
) -> None:
    raw = json.dumps(content).encode()
    listed = Manifest(digest="sha256:x", media_type=content["mediaType"], created=None, updated=None)
    purge_view = complete_manifest(listed, parse_manifest(raw))
    gate_view = manifest_facts(raw, content["mediaType"], {})
    assert purge_view.artifact_type == gate_view.artifact_type == artifact_type
    assert purge_view.subject == gate_view.subject
    assert purge_view.children == gate_view.children
