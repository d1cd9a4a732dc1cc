"""Reading a cluster's objects: GET one, and chunked, filtered lists.

The World's dicts are the only source: nothing is precomputed per request except the
cached key order (:class:`sandbox.kube.paging.KeyIndex`). Objects loaded from an estate
may lack server-set metadata; it is filled in on first read (uid, resourceVersion,
creationTimestamp) so that clients see what an apiserver always sets.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.kube.kinds import KubeKind
from sandbox.kube.paging import ContinueToken, KeyIndex, decode_continue, encode_continue, key_range
from sandbox.kube.selectors import compile_filter, parse_field_selector, parse_label_selector
from sandbox.kube.status import KubeStatusError, bad_request, not_found
from sandbox.world import Cluster, KubeObjects, World


@dataclass(slots=True)
class ClusterView:
    """What every handler of one cluster's API server shares."""

    world: World
    cluster_name: str
    index: KeyIndex = field(default_factory=KeyIndex)

    def cluster(self) -> Cluster:
        cluster = self.world.clusters.get(self.cluster_name)
        if cluster is None:
            raise KubeStatusError(503, "ServiceUnavailable", f"cluster {self.cluster_name} no longer exists")
        return cluster


def fill_server_metadata(
    obj: dict[str, Any], *, kube: KubeObjects, kind: KubeKind, key: Any, cluster: str, now: str
) -> dict[str, Any]:
    """Set the metadata an apiserver always sets, where an estate left it out."""
    meta = obj.setdefault("metadata", {})
    if "resourceVersion" in meta and "uid" in meta:
        return meta
    if isinstance(key, tuple):
        meta.setdefault("namespace", key[0])
        meta.setdefault("name", key[1])
    else:
        meta.setdefault("name", key)
    seed = f"{cluster}/{kind.qualified}/{meta.get('namespace', '')}/{meta['name']}"
    meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, seed)))
    meta.setdefault("resourceVersion", str(kube.resource_version))
    meta.setdefault("creationTimestamp", now)
    return meta


def store_key(kind: KubeKind, namespace: str | None, name: str) -> Any:
    return (namespace, name) if kind.namespaced else name


def read_object(view: ClusterView, kind: KubeKind, namespace: str | None, name: str) -> dict[str, Any]:
    """The stored object itself (not a copy). Call with the world lock held."""
    cluster = view.cluster()
    key = store_key(kind, namespace, name)
    obj = kind.objects(cluster.kube).get(key)
    if obj is None:
        raise not_found(kind.qualified, name, group=kind.group, plural=kind.plural)
    fill_server_metadata(
        obj, kube=cluster.kube, kind=kind, key=key, cluster=cluster.name, now=timestamp(view.world)
    )
    return obj


def with_type(kind: KubeKind, obj: Mapping[str, Any]) -> dict[str, Any]:
    """A single object as the apiserver returns it: apiVersion and kind first."""
    out: dict[str, Any] = {"apiVersion": kind.api_version, "kind": kind.kind}
    out.update((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind"))
    return out


def timestamp(world: World) -> str:
    return world.now().strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return 0
    try:
        limit = int(text)
    except ValueError as exc:
        raise bad_request(f'strconv.ParseInt: parsing "{text}": invalid syntax') from exc
    return max(limit, 0)


def list_objects(
    view: ClusterView, kind: KubeKind, namespace: str | None, params: Mapping[str, str]
) -> dict[str, Any]:
    """One page of a list, as ``<Kind>List`` with resourceVersion and continue."""
    limit = _parse_limit(params.get("limit"))
    label_text = params.get("labelSelector")
    labels = parse_label_selector(label_text)
    resource = f"{kind.api_version if kind.group else '/' + kind.version}, Resource={kind.plural}"
    fields = parse_field_selector(
        params.get("fieldSelector"), allowed=kind.field_labels, resource=resource, label_selector=label_text
    )
    predicate = compile_filter(labels, fields)
    token = decode_continue(params["continue"], world=view.world) if params.get("continue") else None
    world = view.world
    with world.lock:
        cluster = view.cluster()
        kube = cluster.kube
        strings, keys = view.index.sorted_keys(kube, kind.store)
        lo, hi = key_range(strings, namespace, token.start if token else None)
        store = kind.objects(kube)
        now = timestamp(world)
        items: list[dict[str, Any]] = []
        pos = lo
        while pos < hi and (limit == 0 or len(items) < limit):
            key = keys[pos]
            pos += 1
            obj = store.get(key)
            if obj is None or (predicate is not None and not predicate(obj)):
                continue
            fill_server_metadata(obj, kube=kube, kind=kind, key=key, cluster=cluster.name, now=now)
            # List items carry no apiVersion/kind, as in the apiserver's answer.
            items.append({k: v for k, v in obj.items() if k not in ("apiVersion", "kind")})
        version = token.resource_version if token and token.resource_version > 0 else kube.resource_version
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if limit and pos < hi:
            issued = token.issued if token else world.monotonic()
            metadata["continue"] = encode_continue(ContinueToken(version, strings[pos], issued))
            if predicate is None:
                metadata["remainingItemCount"] = hi - pos
    return {"kind": f"{kind.kind}List", "apiVersion": kind.api_version, "metadata": metadata, "items": items}
