"""The real azure-containerregistry ContainerRegistryClient against a sandbox registry, over HTTPS.

The client authenticates with ManagedIdentityCredential (audience
https://containerregistry.azure.net) through the sandbox identity endpoint and ACR's
challenge + token exchange, exactly as in Azure.

Cases:
- list_repository_names pages with Link headers and lists every repository once, sorted;
- list_manifest_properties pages (results_per_page) through a 45-manifest repository:
  every digest exactly once, no page larger than asked; timedesc/timeasc order by
  lastUpdateTime; the fields deserialize (size, architecture, os, tags, times);
- get_manifest_properties by tag and by digest, get_tag_properties;
- list_tag_properties pages one tag at a time, newest first;
- upload_blob + set_manifest + get_manifest + download_blob round-trip, and the push
  is recorded as an ImagePushed event;
- a manifest locked with update_manifest_properties(can_delete=False) refuses
  delete_manifest with ACR's 405 REGISTRY_DISALLOWED_OPERATION; unlocked, it deletes,
  its tags go with it, and ImageDeleted is recorded;
- a tag locked with update_tag_properties refuses delete_tag and being overwritten;
  unlocked, delete_tag removes only the tag;
- delete_repository removes the repository and reports 202; a second delete is a no-op;
- the client went through /oauth2/exchange and /oauth2/token (request log).
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.containerregistry import ArtifactManifestOrder, ArtifactTagOrder, ContainerRegistryClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import ManagedIdentityCredential

from sandbox.acr.errors import RegistryError
from sandbox.acr.events import IMAGE_DELETED, IMAGE_PUSHED
from sandbox.acr.pushing import push_image
from sandbox.server import SandboxServer
from tests.support.sandbox import minimal_estate

REGISTRY = "contosotest"
ACR_AUDIENCE = "https://containerregistry.azure.net"

ESTATE = minimal_estate()
ESTATE["registries"][0]["generate"] = {
    "repositories": 3,
    "manifestsPerRepository": 45,
    "repositoryPrefix": "gen/app",
    "taggedFraction": 0.5,
}


@pytest.fixture(scope="module")
def acr_estate() -> dict[str, Any]:
    return ESTATE


@pytest.fixture
def client(acr: SandboxServer) -> Iterator[ContainerRegistryClient]:
    endpoint = f"https://{acr.world.registries[REGISTRY].login_server}"
    with ContainerRegistryClient(
        endpoint, ManagedIdentityCredential(), audience=ACR_AUDIENCE
    ) as registry_client:
        yield registry_client


def test_list_repository_names_pages_through_every_repository_once(
    acr: SandboxServer, client: ContainerRegistryClient
) -> None:
    pages = [list(page) for page in client.list_repository_names(results_per_page=2).by_page()]

    names = [name for page in pages for name in page]
    assert names == sorted(acr.world.registries[REGISTRY].repositories)
    assert len(names) == len(set(names)) == 4
    assert [len(page) for page in pages] == [2, 2]


def test_list_manifest_properties_pages_every_manifest_exactly_once(
    acr: SandboxServer, client: ContainerRegistryClient
) -> None:
    repo = acr.world.registries[REGISTRY].repositories["gen/app0001"]

    pages = [
        list(page) for page in client.list_manifest_properties("gen/app0001", results_per_page=7).by_page()
    ]

    digests = [m.digest for page in pages for m in page]
    assert sorted(digests) == sorted(repo.manifests) and len(digests) == len(set(digests)) == 45
    assert [len(page) for page in pages] == [7] * 6 + [3]
    assert digests == sorted(digests)  # no orderby: ACR lists by digest
    first = pages[0][0]
    stored = repo.manifests[first.digest]
    assert first.size_in_bytes == stored.size
    assert (first.architecture, first.operating_system) == ("amd64", "linux")
    assert first.created_on == stored.created and first.last_updated_on == stored.updated
    tagged = next(m for page in pages for m in page if m.tags)
    assert tagged.tags == sorted(t for t, tag in repo.tags.items() if tag.digest == tagged.digest)
    untagged = [m for page in pages for m in page if not m.tags]
    assert len(untagged) == len(repo.manifests) - len({t.digest for t in repo.tags.values()})
    assert first.repository_name == "gen/app0001" and first.can_delete is True


@pytest.mark.parametrize(
    ("order", "descending"),
    [
        (ArtifactManifestOrder.LAST_UPDATED_ON_DESCENDING, True),
        (ArtifactManifestOrder.LAST_UPDATED_ON_ASCENDING, False),
    ],
)
def test_list_manifest_properties_orders_by_last_update(
    client: ContainerRegistryClient, order: ArtifactManifestOrder, descending: bool
) -> None:
    listed = list(client.list_manifest_properties("gen/app0002", order_by=order, results_per_page=10))

    times = [m.last_updated_on for m in listed]
    assert len(listed) == 45 and len({m.digest for m in listed}) == 45
    assert times == sorted(times, reverse=descending)


def test_get_manifest_and_tag_properties(acr: SandboxServer, client: ContainerRegistryClient) -> None:
    repo = acr.world.registries[REGISTRY].repositories["payments/api"]
    digest = repo.tags["latest"].digest

    by_tag = client.get_manifest_properties("payments/api", "latest")
    by_digest = client.get_manifest_properties("payments/api", digest)
    tag = client.get_tag_properties("payments/api", "v1")

    assert by_tag.digest == by_digest.digest == digest
    assert sorted(by_digest.tags) == ["latest", "v2"]
    assert by_digest.size_in_bytes == repo.manifests[digest].size
    assert tag.digest == repo.tags["v1"].digest and tag.name == "v1"
    assert tag.created_on == repo.tags["v1"].created
    assert (tag.can_delete, tag.can_write, tag.can_read, tag.can_list) == (True, True, True, True)
    with pytest.raises(ResourceNotFoundError):
        client.get_tag_properties("payments/api", "no-such-tag")


def test_list_tag_properties_pages_in_time_order(acr: SandboxServer, client: ContainerRegistryClient) -> None:
    repo = acr.world.registries[REGISTRY].repositories["payments/api"]

    pages = [
        [t.name for t in page]
        for page in client.list_tag_properties(
            "payments/api", order_by=ArtifactTagOrder.LAST_UPDATED_ON_DESCENDING, results_per_page=1
        ).by_page()
    ]

    expected = [t.name for t in sorted(repo.tags.values(), key=lambda t: (t.updated, t.name), reverse=True)]
    assert pages == [[name] for name in expected]


def test_upload_set_get_and_download_round_trip(acr: SandboxServer, client: ContainerRegistryClient) -> None:
    config = b'{"architecture":"arm64","os":"linux"}'
    layer = bytes(range(256)) * 40
    config_digest, config_size = client.upload_blob("sdk/roundtrip", io.BytesIO(config))
    layer_digest, layer_size = client.upload_blob("sdk/roundtrip", io.BytesIO(layer))
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config_size,
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": layer_digest,
                "size": layer_size,
            }
        ],
    }

    digest = client.set_manifest("sdk/roundtrip", manifest, tag="1.0")
    fetched = client.get_manifest("sdk/roundtrip", "1.0")
    downloaded = b"".join(client.download_blob("sdk/roundtrip", layer_digest))
    properties = client.get_manifest_properties("sdk/roundtrip", digest)

    assert fetched.digest == digest and fetched.manifest == manifest
    assert fetched.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert downloaded == layer
    assert (properties.architecture, properties.tags) == ("arm64", ["1.0"])
    pushed = [
        e for e in acr.world.events if e["eventType"] == IMAGE_PUSHED and e["subject"] == "sdk/roundtrip:1.0"
    ]
    assert len(pushed) == 1 and pushed[0]["data"]["target"]["digest"] == digest


def test_locked_manifest_refuses_delete_until_unlocked(
    acr: SandboxServer, client: ContainerRegistryClient
) -> None:
    digest = push_image(acr.world, REGISTRY, "sdk/locks", "keep")
    locked = client.update_manifest_properties("sdk/locks", digest, can_delete=False)
    assert locked.can_delete is False

    with pytest.raises(HttpResponseError) as refused:
        client.delete_manifest("sdk/locks", digest)
    assert refused.value.status_code == 405
    assert "REGISTRY_DISALLOWED_OPERATION" in str(refused.value)
    assert digest in acr.world.registries[REGISTRY].repositories["sdk/locks"].manifests

    client.update_manifest_properties("sdk/locks", digest, can_delete=True)
    client.delete_manifest("sdk/locks", digest)

    repo = acr.world.registries[REGISTRY].repositories["sdk/locks"]
    assert digest not in repo.manifests and "keep" not in repo.tags
    deleted = [
        e
        for e in acr.world.events
        if e["eventType"] == IMAGE_DELETED and e["data"]["target"]["digest"] == digest
    ]
    assert len(deleted) == 1 and deleted[0]["subject"] == "sdk/locks"


def test_locked_tag_refuses_delete_and_overwrite_until_unlocked(
    acr: SandboxServer, client: ContainerRegistryClient
) -> None:
    first = push_image(acr.world, REGISTRY, "sdk/tags", "stable", layers=[b"one"])
    other = push_image(acr.world, REGISTRY, "sdk/tags", "next", layers=[b"two"])
    client.update_tag_properties("sdk/tags", "stable", can_write=False, can_delete=False)

    with pytest.raises(HttpResponseError) as refused_delete:
        client.delete_tag("sdk/tags", "stable")
    with pytest.raises(RegistryError) as refused_overwrite:
        push_image(acr.world, REGISTRY, "sdk/tags", "stable", layers=[b"three"])

    assert refused_delete.value.status_code == 405
    assert (refused_overwrite.value.status, refused_overwrite.value.code) == (
        405,
        "REGISTRY_DISALLOWED_OPERATION",
    )
    repo = acr.world.registries[REGISTRY].repositories["sdk/tags"]
    assert repo.tags["stable"].digest == first

    client.update_tag_properties("sdk/tags", "stable", can_write=True, can_delete=True)
    client.delete_tag("sdk/tags", "stable")

    assert "stable" not in repo.tags and first in repo.manifests and repo.tags["next"].digest == other


def test_delete_repository_removes_everything(acr: SandboxServer, client: ContainerRegistryClient) -> None:
    push_image(acr.world, REGISTRY, "sdk/doomed", "a")
    push_image(acr.world, REGISTRY, "sdk/doomed", "b", layers=2)

    client.delete_repository("sdk/doomed")
    client.delete_repository("sdk/doomed")  # 404: the SDK treats it as done

    assert "sdk/doomed" not in acr.world.registries[REGISTRY].repositories
    assert "sdk/doomed" not in list(client.list_repository_names())
    with pytest.raises(ResourceNotFoundError):
        client.get_repository_properties("sdk/doomed")


def test_the_client_went_through_the_token_exchange(
    acr: SandboxServer, client: ContainerRegistryClient
) -> None:
    client.get_repository_properties("payments/api")

    expected = {
        ("POST", "/oauth2/exchange", 200),
        ("POST", "/oauth2/token", 200),
        ("GET", "/acr/v1/payments/api", 401),  # the challenge came first
        ("GET", "/acr/v1/payments/api", 200),
    }
    # The request log is written just after each response is sent: give the last one a moment.
    deadline = time.monotonic() + 5
    while True:
        logged = {(r.method, r.path, r.status) for r in acr.world.requests if r.service == f"acr:{REGISTRY}"}
        if expected <= logged or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert expected <= logged
