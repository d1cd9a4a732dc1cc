"""ACR's /acr/v1 metadata API on a sandbox registry, over HTTPS with raw requests.

Cases:
- the Link header is ACR's, byte for byte: ``</acr/v1/<name %2F-escaped>/_manifests?
  last=<digest %3A-escaped>&n=<n>&orderby=>; rel="next"`` (and for _tags, _catalog);
- ``n`` is capped at ACR's 1000 and defaults to 100 pages; ``n=0``, ``n=abc`` and an
  unknown ``orderby`` are 400, never an empty success;
- paging ``orderby=timeasc`` goes on correctly when the ``last`` manifest was deleted
  between two pages: every remaining manifest exactly once;
- _tags filters by ``digest`` and orders by time;
- ``listEnabled=false`` hides a manifest and a tag from the lists, not from GET;
- PATCH refuses unknown attributes, non-boolean values and unknown quarantine states;
- an attribute changed directly in the World shows on the next page (no stale cache);
- repository properties count manifests and tags; DELETE answers 202 listing what it
  removed; an unknown repository is 404 NAME_UNKNOWN.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import requests

from sandbox.server import SandboxServer
from sandbox.world import Repository
from tests.support.sandbox import minimal_estate

REGISTRY = "contosotest"

ESTATE = minimal_estate()
ESTATE["registries"][0]["generate"] = {
    "repositories": 2,
    "manifestsPerRepository": 1005,
    "repositoryPrefix": "big/app",
    "taggedFraction": 0.01,
    "layers": 1,
}


@pytest.fixture(scope="module")
def acr_estate() -> dict[str, Any]:
    return ESTATE


def repo_of(acr: SandboxServer, name: str) -> Repository:
    return acr.world.registries[REGISTRY].repositories[name]


def test_link_headers_are_acrs(acr: SandboxServer, http: requests.Session, base: str) -> None:
    manifests = http.get(f"{base}/acr/v1/big%2Fapp0000/_manifests", params={"n": 2})
    tags = http.get(f"{base}/acr/v1/payments%2Fapi/_tags", params={"n": 1, "orderby": "timedesc"})
    catalog = http.get(f"{base}/acr/v1/_catalog", params={"n": 1})

    last = manifests.json()["manifests"][-1]["digest"]
    assert manifests.headers["Link"] == (
        f'</acr/v1/big%2Fapp0000/_manifests?last={quote(last, safe="")}&n=2&orderby=>; rel="next"'
    )
    newest_tag = tags.json()["tags"][0]["name"]
    assert tags.headers["Link"] == (
        f'</acr/v1/payments%2Fapi/_tags?last={newest_tag}&n=1&orderby=timedesc>; rel="next"'
    )
    assert catalog.headers["Link"] == '</acr/v1/_catalog?last=big%2Fapp0000&n=1&orderby=>; rel="next"'
    assert manifests.headers["Content-Type"] == "application/json; charset=utf-8"
    assert manifests.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_page_size_is_capped_and_defaulted(http: requests.Session, base: str) -> None:
    capped = http.get(f"{base}/acr/v1/big%2Fapp0000/_manifests", params={"n": 5000})
    default = http.get(f"{base}/acr/v1/big%2Fapp0000/_manifests")

    assert len(capped.json()["manifests"]) == 1000 and "&n=1000&" in capped.headers["Link"]
    assert len(default.json()["manifests"]) == 100 and "&n=100&" in default.headers["Link"]
    for params in ({"n": 0}, {"n": "abc"}, {"orderby": "name"}):
        refused = http.get(f"{base}/acr/v1/big%2Fapp0000/_manifests", params=params)
        assert refused.status_code == 400, params
        assert refused.json()["errors"][0]["code"] in ("PAGINATION_NUMBER_INVALID", "UNSUPPORTED")


def test_time_ordered_paging_survives_deleting_the_last_item(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    repo = repo_of(acr, "big/app0001")
    first = http.get(f"{base}/acr/v1/big%2Fapp0001/_manifests", params={"n": 300, "orderby": "timeasc"})
    page = [m["digest"] for m in first.json()["manifests"]]
    last = page[-1]
    for digest in (last, page[-2]):
        assert http.delete(f"{base}/v2/big/app0001/manifests/{digest}").status_code == 202

    seen = list(page)
    link = first.headers["Link"]
    while link:
        response = http.get(base + link[1 : link.index(">")])
        assert response.status_code == 200, response.text
        seen += [m["digest"] for m in response.json()["manifests"]]
        link = response.headers.get("Link", "")

    assert len(seen) == len(set(seen)) == 1005
    assert set(seen) - set(repo.manifests) == {last, page[-2]}
    times = [repo.manifests[d].updated for d in seen[300:]]
    assert times == sorted(times)


def test_tags_filter_by_digest_and_order_by_time(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    repo = repo_of(acr, "payments/api")
    digest = repo.tags["latest"].digest

    filtered = http.get(f"{base}/acr/v1/payments%2Fapi/_tags", params={"digest": digest}).json()["tags"]
    newest_first = http.get(f"{base}/acr/v1/payments%2Fapi/_tags", params={"orderby": "timedesc"}).json()[
        "tags"
    ]

    assert [t["name"] for t in filtered] == ["latest", "v2"]
    assert {t["digest"] for t in filtered} == {digest}
    assert [t["name"] for t in newest_first][-1] == "v1"
    updated = [t["lastUpdateTime"] for t in newest_first]
    assert updated == sorted(updated, reverse=True)


def test_list_disabled_items_are_hidden_from_lists_only(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    repo = repo_of(acr, "payments/api")
    digest = repo.tags["v1"].digest
    patched_manifest = http.patch(
        f"{base}/acr/v1/payments%2Fapi/_manifests/{digest}", json={"listEnabled": False}
    )
    patched_tag = http.patch(f"{base}/acr/v1/payments%2Fapi/_tags/v1", json={"listEnabled": False})
    try:
        manifests = http.get(f"{base}/acr/v1/payments%2Fapi/_manifests").json()["manifests"]
        tags = http.get(f"{base}/acr/v1/payments%2Fapi/_tags").json()["tags"]
        direct = http.get(f"{base}/acr/v1/payments%2Fapi/_manifests/{digest}")
    finally:
        http.patch(f"{base}/acr/v1/payments%2Fapi/_manifests/{digest}", json={"listEnabled": True})
        http.patch(f"{base}/acr/v1/payments%2Fapi/_tags/v1", json={"listEnabled": True})

    assert patched_manifest.json()["manifest"]["changeableAttributes"]["listEnabled"] is False
    assert patched_tag.json()["tag"]["changeableAttributes"]["listEnabled"] is False
    assert digest not in [m["digest"] for m in manifests]
    assert "v1" not in [t["name"] for t in tags]
    assert direct.status_code == 200 and direct.json()["manifest"]["digest"] == digest


def test_patch_refuses_what_acr_does_not_accept(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    digest = repo_of(acr, "payments/api").tags["v1"].digest
    url = f"{base}/acr/v1/payments%2Fapi/_manifests/{digest}"

    for body in ({"teleportEnabled": True}, {"deleteEnabled": "no"}, {"quarantineState": "Clean"}):
        refused = http.patch(url, json=body)
        assert refused.status_code == 400, body
    assert (
        http.patch(f"{base}/acr/v1/payments%2Fapi/_tags/v1", json={"quarantineState": "Passed"}).status_code
        == 400
    )
    assert repo_of(acr, "payments/api").manifests[digest].attrs.delete_enabled is True


def test_direct_world_changes_show_on_the_next_page(
    acr: SandboxServer, http: requests.Session, base: str
) -> None:
    repo = repo_of(acr, "payments/api")
    digest = repo.tags["v2"].digest
    before = http.get(f"{base}/acr/v1/payments%2Fapi/_manifests").json()["manifests"]
    with acr.world.lock:
        repo.manifests[digest].attrs.write_enabled = False
    try:
        after = http.get(f"{base}/acr/v1/payments%2Fapi/_manifests").json()["manifests"]
    finally:
        with acr.world.lock:
            repo.manifests[digest].attrs.write_enabled = True

    def write_enabled(listed: list[dict]) -> bool:
        return next(m for m in listed if m["digest"] == digest)["changeableAttributes"]["writeEnabled"]

    assert write_enabled(before) is True and write_enabled(after) is False


def test_repository_properties_and_delete(acr: SandboxServer, http: requests.Session, base: str) -> None:
    props = http.get(f"{base}/acr/v1/payments%2Fapi").json()
    assert (props["imageName"], props["manifestCount"], props["tagCount"]) == ("payments/api", 2, 3)
    assert props["registry"] == acr.world.registries[REGISTRY].login_server

    deleted = http.delete(f"{base}/acr/v1/payments%2Fapi")
    again = http.delete(f"{base}/acr/v1/payments%2Fapi")

    assert deleted.status_code == 202
    assert sorted(deleted.json()["tagsDeleted"]) == ["latest", "v1", "v2"]
    assert len(deleted.json()["manifestsDeleted"]) == 2
    assert again.status_code == 404 and again.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert "payments/api" not in acr.world.registries[REGISTRY].repositories
