"""The same /v2 cases against the sandbox registry and the real docker-registry (distribution 2.8).

Each case runs twice, parametrized by target: the sandbox over HTTPS (authenticating
with ACR's challenge and token exchange, as an OCI client does) and Debian's
docker-registry over HTTP without auth. Where distribution 2.8 lacks a feature the
sandbox must have, the case says so and asserts docker-registry's actual answer.

Cases:
- push: blobs uploaded monolithically (POST + PUT ?digest=) and in chunks (POST,
  PATCH, PATCH, PUT ?digest=); HEAD/GET of a blob answer its length, digest and bytes;
  a wrong digest is refused with 400 DIGEST_INVALID; a manifest naming a blob the
  registry lacks is refused with 400 MANIFEST_BLOB_UNKNOWN;
- tags: tags/list lists every pushed tag; an unknown repository is 404 NAME_UNKNOWN;
- manifest digests and content types: an OCI manifest, a Docker v2 manifest, an OCI
  index and a Docker manifest list come back by tag and by digest with their own
  Content-Type and Docker-Content-Digest (sha256 of the exact bytes); HEAD answers
  the same headers without a body; an unknown tag is 404 MANIFEST_UNKNOWN; an OCI
  manifest asked for with an Accept header without its type is 404 MANIFEST_UNKNOWN
  ("OCI manifest found, but accept header does not support OCI manifests");
- delete by digest answers 202 and removes the manifest and every tag on it;
- delete by tag is refused (400 or 405, with an errors body) and leaves the manifest;
- pagination: _catalog with n and last pages through every repository exactly once
  following the Link header; tags/list pages with n/last/Link on the sandbox, while
  docker-registry 2.8 ignores n and returns every tag without a Link (stated);
- referrers: the sandbox serves GET /v2/<name>/referrers/<digest>; docker-registry 2.8
  has no referrers API and answers 404 (stated);
- a referrer whose subject the registry does not hold is accepted by both (201): "A registry
  MUST initially accept an otherwise valid manifest with a subject field that references a
  manifest that does not exist" (distribution spec 1.1, Push), so a push never reads its
  subject, and a lock on the subject cannot refuse it (ACR's side: test_acr_blocked_images);
- a guard: the docker-registry target is the reference binary over plain HTTP, the
  sandbox target is HTTPS.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sandbox.estate.manifests import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    index_bytes,
)
from tests.support.docker_registry import run_docker_registry
from tests.support.sandbox import acr_session, minimal_estate, serve_sandbox

ALL_MANIFESTS = ", ".join([OCI_MANIFEST, DOCKER_MANIFEST, OCI_INDEX, DOCKER_LIST])
_LINK = re.compile(r"<([^>]+)>;\s*rel=\"next\"")


@dataclass
class Target:
    name: str
    base: str
    session: requests.Session

    @property
    def is_sandbox(self) -> bool:
        return self.name == "sandbox"

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture(scope="module", params=["sandbox", "docker-registry"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if request.param == "docker-registry":
        with run_docker_registry(tmp_path_factory.mktemp("docker-registry")) as registry:
            yield Target("docker-registry", registry.url, requests.Session())
        return
    with serve_sandbox(minimal_estate(), tmp_path_factory.mktemp("sandbox")) as server:
        login_server = server.world.registries["contosotest"].login_server
        yield Target("sandbox", f"https://{login_server}", acr_session(server))


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def location_of(target: Target, response: requests.Response) -> str:
    location = response.headers["Location"]
    return location if location.startswith("http") else target.base + location


def with_digest(url: str, digest: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}digest={digest}"


def push_blob(target: Target, repo: str, data: bytes) -> str:
    """Monolithic upload: POST, then one PUT with the bytes and ?digest=."""
    digest = digest_of(data)
    started = target.session.post(target.url(f"/v2/{repo}/blobs/uploads/"))
    assert started.status_code == 202, started.text
    finished = target.session.put(
        with_digest(location_of(target, started), digest),
        data=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert finished.status_code == 201, finished.text
    assert finished.headers["Docker-Content-Digest"] == digest
    return digest


def push_manifest(
    target: Target, repo: str, reference: str, content: bytes, media_type: str
) -> requests.Response:
    return target.session.put(
        target.url(f"/v2/{repo}/manifests/{reference}"), data=content, headers={"Content-Type": media_type}
    )


def push_image(target: Target, repo: str, tag: str, *, seed: str, docker: bool = False) -> tuple[str, bytes]:
    """Config + one layer + manifest (OCI, or Docker v2 schema 2); (digest, manifest bytes)."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "seed": seed}).encode()
    layer = f"layer of {seed}".encode() * 50
    config_digest = push_blob(target, repo, config)
    layer_digest = push_blob(target, repo, layer)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if docker else OCI_CONFIG,
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [
            {"mediaType": DOCKER_LAYER if docker else OCI_LAYER, "digest": layer_digest, "size": len(layer)}
        ],
    }
    content = json.dumps(manifest, separators=(",", ":")).encode()
    response = push_manifest(target, repo, tag, content, manifest["mediaType"])  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    assert response.headers["Docker-Content-Digest"] == digest_of(content)
    return digest_of(content), content


def error_code(response: requests.Response) -> str:
    return str(response.json()["errors"][0]["code"])


def tags_of(target: Target, repo: str) -> list[str]:
    response = target.session.get(target.url(f"/v2/{repo}/tags/list"), params={"n": 1000})
    assert response.status_code == 200, response.text
    return sorted(response.json()["tags"] or [])


# -- push -----------------------------------------------------------------------------


def test_blob_uploads_monolithic_and_chunked(target: Target) -> None:
    repo = "conf/blobs"
    whole = b"monolithic blob " * 100
    chunks = [b"first chunk " * 30, b"second chunk " * 40]
    chunked = b"".join(chunks)

    monolithic_digest = push_blob(target, repo, whole)
    started = target.session.post(target.url(f"/v2/{repo}/blobs/uploads/"))
    assert started.status_code == 202 and started.headers["Docker-Upload-UUID"]
    location, offset = location_of(target, started), 0
    for chunk in chunks:
        patched = target.session.patch(
            location,
            data=chunk,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
            },
        )
        assert patched.status_code == 202, patched.text
        offset += len(chunk)
        assert patched.headers["Range"] == f"0-{offset - 1}"
        location = location_of(target, patched)
    finished = target.session.put(with_digest(location, digest_of(chunked)))
    assert finished.status_code == 201, finished.text

    for data, digest in ((whole, monolithic_digest), (chunked, digest_of(chunked))):
        head = target.session.head(target.url(f"/v2/{repo}/blobs/{digest}"))
        got = target.session.get(target.url(f"/v2/{repo}/blobs/{digest}"))
        assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
        assert head.headers["Docker-Content-Digest"] == digest
        assert got.status_code == 200 and got.content == data


def test_upload_with_a_wrong_digest_is_refused(target: Target) -> None:
    repo = "conf/baddigest"
    started = target.session.post(target.url(f"/v2/{repo}/blobs/uploads/"))
    wrong = digest_of(b"something else")

    finished = target.session.put(with_digest(location_of(target, started), wrong), data=b"these bytes")

    assert finished.status_code == 400
    assert error_code(finished) == "DIGEST_INVALID"
    assert target.session.head(target.url(f"/v2/{repo}/blobs/{wrong}")).status_code == 404


def test_manifest_naming_a_missing_blob_is_refused(target: Target) -> None:
    repo = "conf/missing"
    config_digest = push_blob(target, repo, b'{"architecture":"amd64","os":"linux"}')
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": 37},
        "layers": [{"mediaType": OCI_LAYER, "digest": digest_of(b"never uploaded"), "size": 14}],
    }

    response = push_manifest(target, repo, "v1", json.dumps(manifest).encode(), OCI_MANIFEST)

    assert response.status_code == 400
    assert error_code(response) == "MANIFEST_BLOB_UNKNOWN"


# -- tags -----------------------------------------------------------------------------


def test_tags_list_lists_every_pushed_tag(target: Target) -> None:
    repo = "conf/tags"
    digest, _ = push_image(target, repo, "1.0", seed="tags")
    for tag in ("1.1", "latest"):
        content = target.session.get(
            target.url(f"/v2/{repo}/manifests/{digest}"), headers={"Accept": OCI_MANIFEST}
        )
        assert push_manifest(target, repo, tag, content.content, OCI_MANIFEST).status_code == 201

    assert tags_of(target, repo) == ["1.0", "1.1", "latest"]
    unknown = target.session.get(target.url("/v2/conf/no-such-repo/tags/list"))
    assert unknown.status_code == 404 and error_code(unknown) == "NAME_UNKNOWN"


# -- manifest digests and content types -------------------------------------------------


def test_manifest_digests_and_content_types(target: Target) -> None:
    repo = "conf/types"
    oci_digest, oci_bytes = push_image(target, repo, "oci", seed="oci")
    docker_digest, docker_bytes = push_image(target, repo, "docker", seed="docker", docker=True)
    index = index_bytes(
        media_type=OCI_INDEX, children=[(OCI_MANIFEST, oci_digest, len(oci_bytes), "linux", "amd64")]
    )
    manifest_list = index_bytes(
        media_type=DOCKER_LIST,
        children=[(DOCKER_MANIFEST, docker_digest, len(docker_bytes), "linux", "amd64")],
    )
    assert push_manifest(target, repo, "index", index, OCI_INDEX).status_code == 201
    assert push_manifest(target, repo, "list", manifest_list, DOCKER_LIST).status_code == 201
    expected = {
        "oci": (oci_bytes, OCI_MANIFEST),
        "docker": (docker_bytes, DOCKER_MANIFEST),
        "index": (index, OCI_INDEX),
        "list": (manifest_list, DOCKER_LIST),
    }

    for tag, (content, media_type) in expected.items():
        for reference in (tag, digest_of(content)):
            url = target.url(f"/v2/{repo}/manifests/{reference}")
            got = target.session.get(url, headers={"Accept": ALL_MANIFESTS})
            head = target.session.head(url, headers={"Accept": ALL_MANIFESTS})
            assert got.status_code == 200, (tag, got.text)
            assert got.content == content
            assert got.headers["Content-Type"] == media_type
            assert got.headers["Docker-Content-Digest"] == digest_of(content)
            assert head.status_code == 200 and head.content == b""
            assert head.headers["Content-Type"] == media_type
            assert head.headers["Docker-Content-Digest"] == digest_of(content)
            assert int(head.headers["Content-Length"]) == len(content)
    unknown = target.session.get(target.url(f"/v2/{repo}/manifests/nope"), headers={"Accept": ALL_MANIFESTS})
    assert unknown.status_code == 404 and error_code(unknown) == "MANIFEST_UNKNOWN"


def test_accept_header_that_excludes_the_stored_type(target: Target) -> None:
    repo = "conf/accept"
    push_image(target, repo, "oci", seed="accept")

    refused = target.session.get(target.url(f"/v2/{repo}/manifests/oci"), headers={"Accept": DOCKER_MANIFEST})

    assert refused.status_code == 404 and error_code(refused) == "MANIFEST_UNKNOWN"
    assert (
        refused.json()["errors"][0]["message"]
        == "OCI manifest found, but accept header does not support OCI manifests"
    )


# -- deletes --------------------------------------------------------------------------


def test_delete_by_digest_removes_the_manifest_and_its_tags(target: Target) -> None:
    repo = "conf/delete"
    digest, content = push_image(target, repo, "doomed", seed="delete")
    assert push_manifest(target, repo, "also-doomed", content, OCI_MANIFEST).status_code == 201
    push_image(target, repo, "survivor", seed="survivor")

    deleted = target.session.delete(target.url(f"/v2/{repo}/manifests/{digest}"))

    assert deleted.status_code == 202
    for reference in ("doomed", "also-doomed", digest):
        gone = target.session.get(
            target.url(f"/v2/{repo}/manifests/{reference}"), headers={"Accept": OCI_MANIFEST}
        )
        assert gone.status_code == 404 and error_code(gone) == "MANIFEST_UNKNOWN"
    assert tags_of(target, repo) == ["survivor"]


def test_delete_by_tag_is_refused(target: Target) -> None:
    repo = "conf/untag"
    digest, _ = push_image(target, repo, "keep", seed="untag")

    refused = target.session.delete(target.url(f"/v2/{repo}/manifests/keep"))

    assert refused.status_code in (400, 405), refused.text  # the OCI spec allows either
    assert refused.json()["errors"][0]["code"]
    still = target.session.get(target.url(f"/v2/{repo}/manifests/keep"), headers={"Accept": OCI_MANIFEST})
    assert still.status_code == 200 and still.headers["Docker-Content-Digest"] == digest


# -- pagination -----------------------------------------------------------------------


def follow(target: Target, path: str, key: str, n: int) -> tuple[list[list[str]], list[str]]:
    """Every page of a list from its first URL, following Link; (pages, links)."""
    pages, links = [], []
    url = target.url(f"{path}?n={n}")
    while url:
        response = target.session.get(url)
        assert response.status_code == 200, response.text
        pages.append(response.json()[key] or [])
        link = response.headers.get("Link")
        links.append(link or "")
        match = _LINK.search(link or "")
        url = target.url(match.group(1)) if match else ""
    return pages, links


def test_catalog_pages_with_n_last_and_link(target: Target) -> None:
    for i in range(5):
        push_image(target, f"conf/page{i}", "v1", seed=f"page{i}")

    pages, links = follow(target, "/v2/_catalog", "repositories", 2)

    names = [name for page in pages for name in page]
    assert len(names) == len(set(names))
    assert {f"conf/page{i}" for i in range(5)} <= set(names)
    assert all(len(page) <= 2 for page in pages) and len(pages) >= 3
    assert all(link for link in links[:-1]) and not links[-1]
    explicit = target.session.get(target.url("/v2/_catalog"), params={"n": 2, "last": "conf/page1"})
    assert explicit.json()["repositories"] == ["conf/page2", "conf/page3"]


def test_tags_list_pagination(target: Target) -> None:
    repo = "conf/manytags"
    _, content = push_image(target, repo, "t00", seed="manytags")
    for i in range(1, 7):
        assert push_manifest(target, repo, f"t{i:02d}", content, OCI_MANIFEST).status_code == 201

    pages, links = follow(target, f"/v2/{repo}/tags/list", "tags", 3)

    if target.is_sandbox:
        assert pages == [["t00", "t01", "t02"], ["t03", "t04", "t05"], ["t06"]]
        assert links[0].startswith(f"</v2/{repo}/tags/list?last=t02&n=3")
        explicit = target.session.get(target.url(f"/v2/{repo}/tags/list"), params={"n": 2, "last": "t04"})
        assert explicit.json()["tags"] == ["t05", "t06"]
    else:
        # distribution 2.8 does not paginate tags/list: n is ignored, every tag in one page, no Link.
        assert len(pages) == 1 and sorted(pages[0]) == [f"t{i:02d}" for i in range(7)]
        assert links == [""]


# -- referrers -----------------------------------------------------------------------


def test_referrers_api(target: Target) -> None:
    repo = "conf/referrers"
    digest, content = push_image(target, repo, "v1", seed="referrers")
    empty = push_blob(target, repo, b"{}")
    signature = push_blob(target, repo, b"signature envelope")
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.cncf.notary.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/jose+json", "digest": signature, "size": 18}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(content)},
    }
    artifact_bytes = json.dumps(artifact).encode()
    pushed = push_manifest(target, repo, digest_of(artifact_bytes), artifact_bytes, OCI_MANIFEST)
    assert pushed.status_code == 201, pushed.text

    response = target.session.get(target.url(f"/v2/{repo}/referrers/{digest}"))

    if target.is_sandbox:
        assert response.status_code == 200
        assert response.headers["Content-Type"] == OCI_INDEX
        assert pushed.headers["OCI-Subject"] == digest
        [descriptor] = response.json()["manifests"]
        assert descriptor["digest"] == digest_of(artifact_bytes)
        assert descriptor["artifactType"] == "application/vnd.cncf.notary.signature"
    else:
        # distribution 2.8 predates the OCI 1.1 referrers API: the route does not exist.
        assert response.status_code == 404
        assert "OCI-Subject" not in pushed.headers


def test_a_referrer_of_an_absent_subject_is_accepted(target: Target) -> None:
    repo = "conf/dangling"
    empty = push_blob(target, repo, b"{}")
    signature = push_blob(target, repo, b"signature of nothing yet")
    absent = digest_of(b"an image pushed after its signature")
    artifact = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.cncf.notary.signature",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2},
        "layers": [{"mediaType": "application/jose+json", "digest": signature, "size": 24}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": absent, "size": 35},
    }
    content = json.dumps(artifact).encode()

    pushed = push_manifest(target, repo, digest_of(content), content, OCI_MANIFEST)

    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Docker-Content-Digest"] == digest_of(content)
    if target.is_sandbox:
        listed = target.session.get(target.url(f"/v2/{repo}/referrers/{absent}")).json()["manifests"]
        assert [d["digest"] for d in listed] == [digest_of(content)]


def test_conformance_runs_against_the_intended_peers(target: Target) -> None:
    """Guard: the docker-registry target really is the reference binary, not the sandbox."""
    version = target.session.get(target.url("/v2/"))
    assert version.status_code == 200
    assert version.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
    assert target.base.startswith("https://" if target.is_sandbox else "http://")
    assert Path("/usr/bin/docker-registry").exists()
