"""Pushing into a sandbox registry (in-process and over HTTPS), the events a push raises, referrers.

Cases:
- push_image stores a real image (config, layers, OCI manifest whose digest is the
  sha256 of its bytes), readable over /v2, and records one ImagePushed event;
- push_over_https (challenge, token exchange, uploads, manifest PUT) lands the same
  digest as the in-process push of the same content, and records ImagePushed with the
  caller's user agent and identity;
- the ImagePushed event has the documented Event Grid shape (id, topic = registry id,
  subject repo:tag, eventType, eventTime, dataVersion, metadataVersion; data.id,
  timestamp, action push, location, target.{mediaType,size,digest,length,repository,
  tag}, request.{id,addr,host,method,useragent}, actor.name, source.{addr,instanceID})
  and deserializes with azure-eventgrid's EventGridEvent; a push by digest has the
  repository as subject and no tag;
- referrers: a signature and an SBOM pushed with a subject are listed by
  GET /v2/<name>/referrers/<digest> as an OCI index; ``artifactType`` filters, with
  OCI-Filters-Applied; a digest without referrers answers an empty index; an
  invalid digest is 400;
- deleting the subject deletes its referrers (ACR deletes the graph), raising one
  ImageDeleted per manifest, with the repository as subject.
"""

from __future__ import annotations

import requests
from azure.eventgrid import EventGridEvent
from azure.identity import ManagedIdentityCredential

from sandbox.acr.events import IMAGE_DELETED, IMAGE_PUSHED
from sandbox.acr.media import OCI_INDEX, OCI_MANIFEST, compute_digest
from sandbox.acr.pushing import push_image, push_over_https
from sandbox.server import SandboxServer

REGISTRY = "contosotest"
ACR_SCOPE = "https://containerregistry.azure.net/.default"
SIGNATURE = "application/vnd.cncf.notary.signature"
SBOM = "application/spdx+json"


def events_for(acr: SandboxServer, event_type: str, digest: str) -> list[dict]:
    return [
        e
        for e in acr.world.events
        if e["eventType"] == event_type and e["data"]["target"]["digest"] == digest
    ]


def test_push_image_stores_a_pullable_image_and_records_the_push(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    digest = push_image(acr.world, REGISTRY, "push/inproc", "1.0", layers=3, architecture="arm64")

    pulled = http.get(f"{base}/v2/push/inproc/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    manifest = acr.world.registries[REGISTRY].repositories["push/inproc"].manifests[digest]
    layers = [http.get(f"{base}/v2/push/inproc/blobs/{layer}") for layer, _ in manifest.layers]

    assert pulled.status_code == 200 and compute_digest(pulled.content) == digest
    assert pulled.headers["Docker-Content-Digest"] == digest
    assert len(layers) == 3 and all(r.status_code == 200 for r in layers)
    assert (manifest.architecture, manifest.os) == ("arm64", "linux")
    assert len(events_for(acr, IMAGE_PUSHED, digest)) == 1


def test_push_over_https_matches_the_in_process_push(acr: SandboxServer, base: str) -> None:
    credential = ManagedIdentityCredential()

    over_https = push_over_https(
        base,
        "push/https",
        "2.0",
        aad_token=credential.get_token(ACR_SCOPE).token,
        layers=[b"layer one", b"layer two"],
        verify=str(acr.tls.ca_cert),
    )
    in_process = push_image(acr.world, REGISTRY, "push/https", "2.0", layers=[b"layer one", b"layer two"])

    assert over_https == in_process
    [first, second] = events_for(acr, IMAGE_PUSHED, over_https)
    assert first["data"]["request"]["useragent"].startswith("python-requests/")
    assert first["data"]["actor"] == {"name": acr.world.identity.principal_id}
    assert second["data"]["request"]["useragent"] == "acr-aks-ops-sandbox"


def test_image_pushed_event_has_the_documented_shape(acr: SandboxServer) -> None:
    registry = acr.world.registries[REGISTRY]
    digest = push_image(acr.world, REGISTRY, "push/shape", "v7")
    [event] = events_for(acr, IMAGE_PUSHED, digest)
    content = registry.repositories["push/shape"].manifests[digest].content

    assert set(event) == {
        "id",
        "topic",
        "subject",
        "eventType",
        "eventTime",
        "data",
        "dataVersion",
        "metadataVersion",
    }
    assert event["topic"] == registry.id
    assert event["subject"] == "push/shape:v7"
    assert event["eventType"] == "Microsoft.ContainerRegistry.ImagePushed"
    assert (event["dataVersion"], event["metadataVersion"]) == ("2.0", "1")
    data = event["data"]
    assert set(data) == {"id", "timestamp", "action", "location", "target", "request", "actor", "source"}
    assert (data["action"], data["location"]) == ("push", registry.location)
    assert data["target"] == {
        "mediaType": OCI_MANIFEST,
        "size": len(content),
        "digest": digest,
        "length": len(content),
        "repository": "push/shape",
        "tag": "v7",
    }
    assert set(data["request"]) == {"id", "addr", "host", "method", "useragent"}
    assert (data["request"]["host"], data["request"]["method"]) == (registry.login_server, "PUT")
    assert set(data["source"]) == {"addr", "instanceID"}
    parsed = EventGridEvent.from_dict(event)
    assert parsed.event_type == IMAGE_PUSHED and parsed.subject == "push/shape:v7"
    assert parsed.data["target"]["digest"] == digest

    by_digest = push_image(acr.world, REGISTRY, "push/shape", None, layers=[b"untagged"])
    [untagged] = events_for(acr, IMAGE_PUSHED, by_digest)
    assert untagged["subject"] == "push/shape" and "tag" not in untagged["data"]["target"]


def test_referrers_list_and_filter(acr: SandboxServer, http: requests.Session, base: str) -> None:
    image = push_image(acr.world, REGISTRY, "push/signed", "1.0")
    signature = push_image(acr.world, REGISTRY, "push/signed", None, subject="1.0", artifact_type=SIGNATURE)
    sbom = push_image(
        acr.world,
        REGISTRY,
        "push/signed",
        None,
        subject=image,
        artifact_type=SBOM,
        annotations={"org.opencontainers.image.created": "2024-05-01T00:00:00Z"},
    )

    listed = http.get(f"{base}/v2/push/signed/referrers/{image}")
    filtered = http.get(f"{base}/v2/push/signed/referrers/{image}", params={"artifactType": SBOM})
    none = http.get(f"{base}/v2/push/signed/referrers/{signature}")
    invalid = http.get(f"{base}/v2/push/signed/referrers/sha256:nothex")

    assert listed.status_code == 200 and listed.headers["Content-Type"] == OCI_INDEX
    index = listed.json()
    assert (index["schemaVersion"], index["mediaType"]) == (2, OCI_INDEX)
    assert {(d["digest"], d["artifactType"]) for d in index["manifests"]} == {
        (signature, SIGNATURE),
        (sbom, SBOM),
    }
    assert all(d["mediaType"] == OCI_MANIFEST and d["size"] > 0 for d in index["manifests"])
    assert "OCI-Filters-Applied" not in listed.headers
    assert [d["digest"] for d in filtered.json()["manifests"]] == [sbom]
    assert filtered.json()["manifests"][0]["annotations"] == {
        "org.opencontainers.image.created": "2024-05-01T00:00:00Z"
    }
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert none.status_code == 200 and none.json()["manifests"] == []
    assert invalid.status_code == 400


def test_deleting_the_subject_deletes_its_referrers(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    image = push_image(acr.world, REGISTRY, "push/graph", "1.0")
    signature = push_image(acr.world, REGISTRY, "push/graph", None, subject=image, artifact_type=SIGNATURE)
    sbom = push_image(acr.world, REGISTRY, "push/graph", None, subject=image, artifact_type=SBOM)
    sbom_signature = push_image(
        acr.world, REGISTRY, "push/graph", None, subject=sbom, artifact_type=SIGNATURE
    )
    unrelated = push_image(acr.world, REGISTRY, "push/graph", "2.0", layers=[b"other"])

    deleted = http.delete(f"{base}/v2/push/graph/manifests/{image}")

    repo = acr.world.registries[REGISTRY].repositories["push/graph"]
    assert deleted.status_code == 202
    assert set(repo.manifests) == {unrelated} and set(repo.tags) == {"2.0"}
    for digest in (image, signature, sbom, sbom_signature):
        [event] = events_for(acr, IMAGE_DELETED, digest)
        assert event["subject"] == "push/graph" and event["data"]["action"] == "delete"
        assert event["data"]["request"]["method"] == "DELETE"
