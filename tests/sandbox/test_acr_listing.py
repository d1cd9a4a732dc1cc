"""The registry's paging and manifest parsing as pure functions (no server).

Cases:
- paging any repository with any page size, in each of ACR's orders, yields every
  manifest exactly once, in that order, with "more" true exactly until the end
  (property-based);
- the same holds while the ``last`` item of each page is deleted before the next
  page is asked for (deleted items leave their sort key behind);
- tag pages: lexical, by time, and filtered by digest;
- ``n`` defaults to 100 and is capped at 1000; ``n`` < 1 or not a number, an unknown
  ``orderby`` and an unknown ``last`` in a time order are 400s;
- parse_manifest accepts OCI/Docker manifests, indexes and artifacts (artifactType,
  or a non-image config type; subject) and refuses bad JSON, a Content-Type that
  contradicts the body, schemaVersion 1, bad descriptors, an image without config.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.acr import listing, media
from sandbox.acr.errors import RegistryError
from sandbox.world import Manifest, Repository, Tag

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def make_repo(ages: list[int]) -> Repository:
    """A repository with one manifest per age (minutes after T0; ties allowed), each tagged."""
    repo = Repository("team/app", T0, T0)
    for i, minutes in enumerate(ages):
        digest = "sha256:" + f"{i:064x}"
        moment = T0 + timedelta(minutes=minutes)
        repo.manifests[digest] = Manifest(digest, media.OCI_MANIFEST, b"{}", moment, moment)
        repo.tags[f"t{i:03d}"] = Tag(f"t{i:03d}", digest, moment, moment)
    return repo


def expected_order(repo: Repository, orderby: str) -> list[str]:
    if orderby == "none":
        return sorted(repo.manifests)
    keyed = sorted((m.updated, m.digest) for m in repo.manifests.values())
    digests = [d for _, d in keyed]
    return digests[::-1] if orderby == "timedesc" else digests


def page_all(repo: Repository, n: int, orderby: str, *, delete_last: bool = False) -> list[str]:
    seen: list[str] = []
    last = None
    while True:
        page, more = listing.page_manifests(repo, n=n, last=last, orderby=orderby)
        assert len(page) <= n
        seen += page
        if not more:
            return seen
        assert page, "a page that promises more cannot be empty"
        last = page[-1]
        if delete_last:
            listing.remember_deleted(repo, manifest=repo.manifests.pop(last))


# Both paging properties run over the same examples: the manifests' ages in days, a page
# size and an order.
paging_examples = given(
    ages=st.lists(st.integers(min_value=0, max_value=20), max_size=40),
    n=st.integers(min_value=1, max_value=12),
    orderby=st.sampled_from(listing.ORDERS),
)


@settings(max_examples=60, deadline=None)
@paging_examples
def test_paging_lists_every_manifest_once_in_order(ages: list[int], n: int, orderby: str) -> None:
    repo = make_repo(ages)

    assert page_all(repo, n, orderby) == expected_order(repo, orderby)


@settings(max_examples=60, deadline=None)
@paging_examples
def test_paging_survives_deleting_each_pages_last_item(ages: list[int], n: int, orderby: str) -> None:
    repo = make_repo(ages)
    everything = expected_order(repo, orderby)

    assert page_all(repo, n, orderby, delete_last=True) == everything


def test_tag_pages() -> None:
    repo = make_repo([5, 1, 3, 3])
    digest = repo.tags["t002"].digest
    repo.tags["extra"] = Tag("extra", digest, T0, T0 + timedelta(minutes=9))

    assert listing.page_tags(repo, n=2, last=None, orderby="none", digest=None) == (["extra", "t000"], True)
    assert listing.page_tags(repo, n=2, last="t000", orderby="none", digest=None) == (["t001", "t002"], True)
    assert listing.page_tags(repo, n=10, last=None, orderby="timedesc", digest=None)[0] == [
        "extra",
        "t000",
        "t003",
        "t002",
        "t001",
    ]
    assert listing.page_tags(repo, n=10, last=None, orderby="timeasc", digest=digest) == (
        ["t002", "extra"],
        False,
    )
    assert listing.page_tags(repo, n=1, last=None, orderby="none", digest=digest) == (["extra"], True)


def test_page_size_and_order_arguments() -> None:
    assert listing.parse_n(None) == listing.parse_n("") == 100
    assert listing.parse_n("7") == 7 and listing.parse_n("100000") == 1000
    assert listing.parse_orderby("") == "none" and listing.parse_orderby("TimeDesc") == "timedesc"
    for bad in ("0", "-3", "ten"):
        with pytest.raises(RegistryError) as refused:
            listing.parse_n(bad)
        assert refused.value.status == 400
    with pytest.raises(RegistryError):
        listing.parse_orderby("name")
    with pytest.raises(RegistryError) as unknown_last:
        listing.page_manifests(make_repo([1, 2]), n=1, last="sha256:" + "f" * 64, orderby="timeasc")
    assert unknown_last.value.status == 400


def manifest_bytes(**fields: object) -> bytes:
    return json.dumps(fields).encode()


DESCRIPTOR = {
    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
    "digest": "sha256:" + "a" * 64,
    "size": 3,
}
CONFIG = {"mediaType": media.OCI_CONFIG, "digest": "sha256:" + "b" * 64, "size": 2}


def test_parse_manifest_reads_what_listings_and_referrers_need() -> None:
    image = manifest_bytes(schemaVersion=2, mediaType=media.OCI_MANIFEST, config=CONFIG, layers=[DESCRIPTOR])
    artifact = manifest_bytes(
        schemaVersion=2,
        mediaType=media.OCI_MANIFEST,
        config={**CONFIG, "mediaType": "application/vnd.example.sbom.v1+json"},
        layers=[DESCRIPTOR],
        subject={"mediaType": media.OCI_MANIFEST, "digest": "sha256:" + "c" * 64, "size": 10},
    )
    index = manifest_bytes(schemaVersion=2, mediaType=media.OCI_INDEX, manifests=[{**DESCRIPTOR, "size": 9}])

    parsed_image = media.parse_manifest(image, media.OCI_MANIFEST)
    parsed_artifact = media.parse_manifest(artifact, None)
    parsed_index = media.parse_manifest(index, media.OCI_INDEX)

    assert parsed_image.digest == media.compute_digest(image)
    assert parsed_image.layers == [(DESCRIPTOR["digest"], 3)] and parsed_image.artifact_type is None
    assert parsed_artifact.artifact_type == "application/vnd.example.sbom.v1+json"
    assert parsed_artifact.subject == "sha256:" + "c" * 64
    assert parsed_index.children == [DESCRIPTOR["digest"]] and parsed_index.config is None


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"{not json", media.OCI_MANIFEST, "MANIFEST_INVALID"),
        (manifest_bytes(schemaVersion=2, mediaType=media.OCI_INDEX, manifests=[]), media.OCI_MANIFEST, None),
        (manifest_bytes(schemaVersion=1, config=CONFIG, layers=[]), media.OCI_MANIFEST, "MANIFEST_INVALID"),
        (manifest_bytes(schemaVersion=2, layers=[DESCRIPTOR]), media.OCI_MANIFEST, "MANIFEST_INVALID"),
        (
            manifest_bytes(schemaVersion=2, config=CONFIG, layers=[{**DESCRIPTOR, "digest": "md5:x"}]),
            media.OCI_MANIFEST,
            "DIGEST_INVALID",
        ),
        (manifest_bytes(schemaVersion=2, config=CONFIG, layers=[]), "text/plain", "MANIFEST_INVALID"),
    ],
)
def test_parse_manifest_refuses_bad_manifests(content: bytes, content_type: str, code: str | None) -> None:
    with pytest.raises(media.ManifestInvalid) as refused:
        media.parse_manifest(content, content_type)
    assert refused.value.code == (code or "MANIFEST_INVALID")
