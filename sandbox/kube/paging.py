"""Chunked lists: the sorted key index, and continue tokens that expire.

kube-apiserver's continue token is base64 JSON ``{"v", "rv", "start"}``: the list's
resourceVersion and the key to resume from. Its validity ends when etcd compacts that
revision (every 5 minutes on AKS), which the client sees as ``410 Gone`` with reason
``Expired``. The sandbox carries the time the *first* page was issued in the token and
expires it after ``world.settings["kube_continue_ttl_seconds"]`` (default 300) of
``world.monotonic()``, so that tests can age a token by moving ``world.clock_offset``.

Objects are listed in key order (``namespace/name``), as etcd returns them. The sorted
key list is cached per store and rebuilt only when the store changes size or the
cluster's resourceVersion moves, so that paging through 5,000 pods does not sort 5,000
keys per page.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from dataclasses import dataclass
from typing import Any

from sandbox.kube.status import KubeStatusError, bad_request
from sandbox.world import KubeObjects, World

DEFAULT_CONTINUE_TTL = 300.0

EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a "
    "new list without the continue parameter, or use the continue token in this response to retrieve "
    "the remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)


@dataclass(frozen=True, slots=True)
class ContinueToken:
    resource_version: int
    start: str  # the first key to return
    issued: float  # world.monotonic() when the list's first page was served


def encode_continue(token: ContinueToken) -> str:
    body = {"v": "meta.k8s.io/v1", "rv": token.resource_version, "start": token.start, "t": token.issued}
    return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def decode_continue(text: str, *, world: World) -> ContinueToken:
    """The token's position, or 400 for garbage and 410 Expired once it is too old."""
    try:
        body = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        token = ContinueToken(int(body["rv"]), str(body["start"]), float(body["t"]))
        if body.get("v") != "meta.k8s.io/v1":
            raise ValueError("unknown version")
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc
    ttl = float(world.settings.get("kube_continue_ttl_seconds", DEFAULT_CONTINUE_TTL))
    now = world.monotonic()
    if now - token.issued > ttl:
        # Like the apiserver, offer a token for the (inconsistent) remainder.
        fresh = ContinueToken(-1, token.start, now)
        raise KubeStatusError(410, "Expired", EXPIRED_MESSAGE, continue_token=encode_continue(fresh))
    return token


def object_key(key: Any) -> str:
    """The etcd-style key of a store entry: ``ns/name`` or, cluster-scoped, ``name``."""
    return f"{key[0]}/{key[1]}" if isinstance(key, tuple) else str(key)


class KeyIndex:
    """Sorted keys of every store of one cluster, rebuilt only when a store changes."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, int, int], list[str], list[Any]]] = {}

    def sorted_keys(self, kube: KubeObjects, store_name: str) -> tuple[list[str], list[Any]]:
        """(string keys, store keys), both in key order. Call with the world lock held."""
        store: dict[Any, Any] = getattr(kube, store_name)
        signature = (id(store), len(store), kube.resource_version)
        cached = self._cache.get(store_name)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        pairs = sorted((object_key(k), k) for k in store)
        strings = [p[0] for p in pairs]
        keys = [p[1] for p in pairs]
        self._cache[store_name] = (signature, strings, keys)
        return strings, keys


def key_range(strings: list[str], namespace: str | None, start: str | None) -> tuple[int, int]:
    """The slice of ``strings`` one list covers: a namespace's run, from ``start`` on."""
    lo, hi = 0, len(strings)
    if namespace is not None:
        prefix = namespace + "/"
        lo = bisect.bisect_left(strings, prefix)
        # "/" + 1 is "0": every key of the namespace sorts before prefix[:-1] + "0".
        hi = bisect.bisect_left(strings, namespace + "0", lo)
    if start is not None:
        lo = max(lo, bisect.bisect_left(strings, start, lo, hi))
    return lo, hi
