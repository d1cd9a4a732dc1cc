"""Sorted, paged listings of a registry's repositories, manifests and tags, and their JSON.

ACR pages every list with ``n`` and ``last`` and a ``Link: <...>; rel="next"`` header,
and the product and its benchmarks page through repositories of thousands of
manifests, so a page must cost little: each repository keeps (in
``Repository.listing``) its manifests and tags already sorted in every order ACR
offers, plus each manifest's and tag's JSON as bytes. A page is then a bisect, a
slice and a join. The cache is rebuilt lazily after any change made through
``sandbox.acr.artifacts`` (which calls :func:`invalidate`); each cached JSON fragment
also carries a cheap signature of what it shows, so an attribute changed directly
on a :class:`sandbox.world.Manifest` never serves stale JSON.

Ordering (``orderby``), as ACR documents it in the data-plane REST spec: ``none`` (or
empty) is lexical by digest or tag name; ``timedesc``/``timeasc`` order by
``lastUpdateTime``. ``last`` continues after that item in the chosen order, even when
that item has been deleted meanwhile (deleted items leave a tombstone with their
sort key), because a purge deletes while it pages.
"""

from __future__ import annotations

import json
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sandbox.acr import media
from sandbox.acr.errors import bad_request
from sandbox.world import Manifest, Registry, Repository, Tag

#: ACR caps ``n`` at 1000 and pages by 100 when ``n`` is absent: Azure/acr#749 ("the
#: parameter is ignored and always 1000 items are returned" for n=10000) and
#: Azure/azure-powershell#16032 (a tag list without ``n`` stops at 100).
MAX_PAGE = 1000
DEFAULT_PAGE = 100

ORDERS = ("none", "timedesc", "timeasc")
_TOMBSTONES = 100_000
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def parse_n(raw: str | None) -> int:
    """The page size a request asked for, capped as ACR caps it; 400 when not a positive integer."""
    if raw is None or raw == "":
        return DEFAULT_PAGE
    try:
        n = int(raw)
    except ValueError:
        raise bad_request(
            f"n must be a positive integer, got {raw!r}", code="PAGINATION_NUMBER_INVALID"
        ) from None
    if n < 1:
        raise bad_request(f"n must be a positive integer, got {raw!r}", code="PAGINATION_NUMBER_INVALID")
    return min(n, MAX_PAGE)


def parse_orderby(raw: str | None) -> str:
    order = (raw or "none").lower()
    if order not in ORDERS:
        raise bad_request(f"orderby must be one of none, timedesc, timeasc; got {raw!r}", code="UNSUPPORTED")
    return order


def next_link(path: str, *, last: str, n: int, orderby: str = "", digest: str | None = None) -> str:
    """ACR's Link header: ``</acr/v1/repo%2Fname/_manifests?last=x&n=y&orderby=>; rel="next"``."""
    tail = f"&digest={quote(digest, safe='')}" if digest else ""
    return f'<{path}?last={quote(last, safe="")}&n={n}&orderby={orderby}{tail}>; rel="next"'


def quote_name(name: str) -> str:
    """A repository name inside a Link path, slashes escaped as ACR escapes them."""
    return quote(name, safe="")


class RepositoryListing:
    """One repository's sorted orders and JSON fragments (lives in ``Repository.listing``)."""

    __slots__ = (
        "by_digest",
        "fragments",
        "manifests_ref",
        "n_manifests",
        "n_tags",
        "stale",
        "tag_fragments",
        "tag_names",
        "tag_time",
        "tag_tombstones",
        "tags_of",
        "tags_ref",
        "time",
        "tombstones",
    )

    def __init__(self) -> None:
        self.stale = True
        self.manifests_ref: Any = None
        self.tags_ref: Any = None
        self.n_manifests = -1
        self.n_tags = -1
        self.by_digest: list[str] = []
        self.time: list[tuple[datetime, str]] = []
        self.tag_names: list[str] = []
        self.tag_time: list[tuple[datetime, str]] = []
        self.tags_of: dict[str, list[str]] = {}
        self.fragments: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        self.tag_fragments: dict[str, tuple[tuple[Any, ...], bytes]] = {}
        self.tombstones: OrderedDict[str, tuple[datetime, str]] = OrderedDict()
        self.tag_tombstones: OrderedDict[str, tuple[datetime, str]] = OrderedDict()

    def rebuild(self, repo: Repository) -> None:
        listed = [m for m in repo.manifests.values() if m.attrs.list_enabled]
        self.by_digest = sorted(m.digest for m in listed)
        self.time = sorted((m.updated, m.digest) for m in listed)
        tags = [t for t in repo.tags.values() if t.attrs.list_enabled]
        self.tag_names = sorted(t.name for t in tags)
        self.tag_time = sorted((t.updated, t.name) for t in tags)
        tags_of: dict[str, list[str]] = {}
        for name in sorted(repo.tags):
            tags_of.setdefault(repo.tags[name].digest, []).append(name)
        self.tags_of = tags_of
        # Fragments of deleted manifests and tags would otherwise live as long as the repository.
        self.fragments = {d: f for d, f in self.fragments.items() if d in repo.manifests}
        self.tag_fragments = {t: f for t, f in self.tag_fragments.items() if t in repo.tags}
        self.manifests_ref, self.tags_ref = repo.manifests, repo.tags
        self.n_manifests, self.n_tags = len(repo.manifests), len(repo.tags)
        self.stale = False


def listing_of(repo: Repository) -> RepositoryListing:
    """The repository's listing, rebuilt if anything changed since it was built."""
    listing = repo.listing
    if listing is None:
        listing = repo.listing = RepositoryListing()
    if (
        listing.stale
        or listing.manifests_ref is not repo.manifests
        or listing.tags_ref is not repo.tags
        or listing.n_manifests != len(repo.manifests)
        or listing.n_tags != len(repo.tags)
    ):
        listing.rebuild(repo)
    return listing


def invalidate(repo: Repository) -> None:
    """Mark a repository's listing stale (call after any change to its manifests or tags)."""
    if repo.listing is not None:
        repo.listing.stale = True


def remember_deleted(repo: Repository, manifest: Manifest | None = None, tag: Tag | None = None) -> None:
    """Keep a deleted item's sort key so that ``last=<it>`` still continues correctly."""
    listing = repo.listing
    if listing is None:
        listing = repo.listing = RepositoryListing()
    if manifest is not None:
        _remember(listing.tombstones, manifest.digest, (manifest.updated, manifest.digest))
    if tag is not None:
        _remember(listing.tag_tombstones, tag.name, (tag.updated, tag.name))
    listing.stale = True


def _remember(store: OrderedDict[str, tuple[datetime, str]], key: str, value: tuple[datetime, str]) -> None:
    store[key] = value
    if len(store) > _TOMBSTONES:
        store.popitem(last=False)


def page_manifests(repo: Repository, *, n: int, last: str | None, orderby: str) -> tuple[list[str], bool]:
    """Digests of one page, and whether more follow."""
    listing = listing_of(repo)
    if orderby == "none":
        return _page_sorted(listing.by_digest, n, last)
    manifest = repo.manifests.get(last) if last else None
    key = (
        (manifest.updated, manifest.digest)
        if manifest
        else _tombstone(listing.tombstones, last, repo, "manifest")
    )
    return _page_timed(listing.time, n, key, descending=orderby == "timedesc")


def page_tags(
    repo: Repository, *, n: int, last: str | None, orderby: str, digest: str | None
) -> tuple[list[str], bool]:
    """Tag names of one page (optionally only the tags of ``digest``), and whether more follow."""
    listing = listing_of(repo)
    tags = repo.tags
    if digest is None:
        names, keys = listing.tag_names, listing.tag_time
    else:
        names = [t for t in listing.tags_of.get(digest, []) if tags[t].attrs.list_enabled]
        keys = sorted((tags[t].updated, t) for t in names)
    if orderby == "none":
        return _page_sorted(names, n, last)
    tag = tags.get(last) if last else None
    key = (tag.updated, tag.name) if tag else _tombstone(listing.tag_tombstones, last, repo, "tag")
    return _page_timed(keys, n, key, descending=orderby == "timedesc")


def _tombstone(
    store: OrderedDict[str, tuple[datetime, str]], last: str | None, repo: Repository, kind: str
) -> tuple[datetime, str] | None:
    """The sort key of a ``last`` that is gone; 400 when it never existed (or is long gone)."""
    if not last:
        return None
    key = store.get(last)
    if key is None:
        raise bad_request(f"last {last!r} is not a {kind} of {repo.name}", code="UNSUPPORTED")
    return key


def page_names(names: list[str], *, n: int, last: str | None) -> tuple[list[str], bool]:
    """A page of an already sorted list of names (the catalog, /v2 tags)."""
    return _page_sorted(names, n, last)


def _page_sorted(names: list[str], n: int, last: str | None) -> tuple[list[str], bool]:
    start = bisect_right(names, last) if last else 0
    return names[start : start + n], start + n < len(names)


def _page_timed(
    keys: list[tuple[datetime, str]], n: int, after: tuple[datetime, str] | None, *, descending: bool
) -> tuple[list[str], bool]:
    if descending:
        end = bisect_left(keys, after) if after else len(keys)
        start = max(0, end - n)
        return [name for _, name in reversed(keys[start:end])], start > 0
    start = bisect_right(keys, after) if after else 0
    return [name for _, name in keys[start : start + n]], start + n < len(keys)


def catalog(registry: Registry) -> list[str]:
    """Repository names in lexical order (cached in ``Registry.listing``)."""
    cached = registry.listing
    repos = registry.repositories
    if cached is not None and cached[0] is repos and cached[1] == len(repos):
        return cached[2]
    names = sorted(name for name, repo in repos.items() if repo.attrs.list_enabled)
    registry.listing = (repos, len(repos), names)
    return names


def invalidate_catalog(registry: Registry) -> None:
    registry.listing = None


def listed_tag_names(repo: Repository) -> list[str]:
    return listing_of(repo).tag_names


def tags_of(repo: Repository, digest: str) -> list[str]:
    return listing_of(repo).tags_of.get(digest, [])


def format_time(moment: datetime) -> str:
    """ACR's timestamps: UTC, fractional seconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def manifests_json(repo: Repository, digests: list[str]) -> list[bytes]:
    """Each manifest's ``ManifestAttributesBase`` JSON, from cache when nothing it shows changed.

    This is the hot loop of a manifest-list page: the signature is what the JSON shows,
    so a cached fragment is reused only while it is still true.
    """
    listing = listing_of(repo)
    manifests, fragments, tags_of = repo.manifests, listing.fragments, listing.tags_of
    out = []
    for digest in digests:
        manifest = manifests[digest]
        attrs = manifest.attrs
        tags = tags_of.get(digest, ())
        signature = (
            manifest,
            manifest.updated,
            attrs.delete_enabled,
            attrs.write_enabled,
            attrs.read_enabled,
            attrs.list_enabled,
            manifest.quarantine_state,
            manifest.quarantine_details,
            manifest.architecture,
            manifest.os,
            tags,
        )
        cached = fragments.get(digest)
        if cached is None or cached[0] != signature:
            cached = fragments[digest] = (
                signature,
                _dumps(manifest_attributes(manifest, list(tags))).encode(),
            )
        out.append(cached[1])
    return out


def manifest_json(repo: Repository, manifest: Manifest) -> bytes:
    """One manifest's JSON (see :func:`manifests_json`)."""
    return manifests_json(repo, [manifest.digest])[0]


def manifest_attributes(manifest: Manifest, tags: list[str]) -> dict[str, Any]:
    """The ``ManifestAttributesBase`` object of the data-plane spec (2021-07-01)."""
    out: dict[str, Any] = {
        "digest": manifest.digest,
        "imageSize": manifest.size,
        "createdTime": format_time(manifest.created),
        "lastUpdateTime": format_time(manifest.updated),
    }
    if manifest.architecture:
        out["architecture"] = manifest.architecture
    if manifest.os:
        out["os"] = manifest.os
    if manifest.media_type in media.INDEX_TYPES:
        out["references"] = _references(manifest)
    out["mediaType"] = manifest.media_type
    if manifest.config_media_type:
        out["configMediaType"] = manifest.config_media_type
    if tags:
        out["tags"] = tags
    changeable: dict[str, Any] = manifest.attrs.to_dict()
    if manifest.quarantine_state:
        changeable["quarantineState"] = manifest.quarantine_state
    if manifest.quarantine_details:
        changeable["quarantineDetails"] = manifest.quarantine_details
    out["changeableAttributes"] = changeable
    return out


def _references(manifest: Manifest) -> list[dict[str, str]]:
    platforms = media.index_platforms(manifest.content)
    if platforms:
        return platforms
    return [{"digest": child} for child in manifest.children]


def tag_json(repo: Repository, tag: Tag) -> bytes:
    """One tag's ``TagAttributesBase`` JSON, cached like :func:`manifest_json`."""
    listing = listing_of(repo)
    attrs = tag.attrs
    signature = (
        id(tag),
        tag.digest,
        tag.updated,
        attrs.delete_enabled,
        attrs.write_enabled,
        attrs.read_enabled,
        attrs.list_enabled,
    )
    cached = listing.tag_fragments.get(tag.name)
    if cached is not None and cached[0] == signature:
        return cached[1]
    body = _dumps(tag_attributes(tag)).encode()
    listing.tag_fragments[tag.name] = (signature, body)
    return body


def tag_attributes(tag: Tag) -> dict[str, Any]:
    """The ``TagAttributesBase`` object of the data-plane spec."""
    return {
        "name": tag.name,
        "digest": tag.digest,
        "createdTime": format_time(tag.created),
        "lastUpdateTime": format_time(tag.updated),
        "signed": False,
        "changeableAttributes": tag.attrs.to_dict(),
    }


def dump(value: Any) -> bytes:
    """Compact JSON bytes (what every registry response body uses)."""
    return _dumps(value).encode()
