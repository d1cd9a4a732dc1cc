"""``/version`` and the discovery documents (``/api``, ``/apis``, resource lists).

The Python client needs none of them to call an API, but ``kubectl``, ``kubernetes.
dynamic`` and health probes do, and a product that checks the server version before
acting reads ``/version``. All are derived from the kind table and the cluster's
Kubernetes version, so they never disagree with what is served.

Two formats are served, as by an apiserver since 1.30:

- the legacy documents: ``APIVersions`` at ``/api``, ``APIGroupList`` at ``/apis`` and
  one ``APIResourceList`` per group version;
- aggregated discovery (``apidiscovery.k8s.io/v2``, KEP-3352): one
  ``APIGroupDiscoveryList`` at ``/api`` and at ``/apis`` when the client's ``Accept``
  asks for it first, as current kubectl does. The content type of the answer names the
  format, so a client that gets the legacy document knows to fall back.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.kinds import ALL_KINDS, KubeKind, kinds_in
from sandbox.world import Cluster

AUTHORIZATION_GROUP = "authorization.k8s.io"
AGGREGATED_MEDIA_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

# The group order an apiserver lists (apps, batch, autoscaling before authorization).
_GROUPS: tuple[str, ...] = (*dict.fromkeys(k.group for k in ALL_KINDS if k.group), AUTHORIZATION_GROUP)
_SSAR = {
    "name": "selfsubjectaccessreviews",
    "singularName": "selfsubjectaccessreview",
    "namespaced": False,
    "kind": "SelfSubjectAccessReview",
    "verbs": ["create"],
}
_SCALE_VERBS = ["get", "patch", "update"]


def version_info(cluster: Cluster) -> dict[str, Any]:
    parts = cluster.kubernetes_version.split(".")
    major, minor = [*parts, "0", "0"][:2]
    return {
        "major": major,
        "minor": minor,
        "gitVersion": f"v{cluster.kubernetes_version}",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2024-09-01T00:00:00Z",
        "goVersion": "go1.22.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def wants_aggregated(accept: str) -> bool:
    """True when the first media type the client accepts is aggregated discovery v2."""
    first = accept.split(",")[0].lower().replace(" ", "")
    params = set(first.split(";"))
    return {"g=apidiscovery.k8s.io", "v=v2", "as=apigroupdiscoverylist"} <= params


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str) -> dict[str, Any]:
    version = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"name": name, "versions": [version], "preferredVersion": version}


def group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in _GROUPS]}


def group(name: str) -> dict[str, Any] | None:
    if name not in _GROUPS:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _resource(kind: KubeKind) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": kind.plural,
        "singularName": kind.kind.lower(),
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(kind.verbs),
    }
    if kind.short_names:
        body["shortNames"] = list(kind.short_names)
    if kind.categories:
        body["categories"] = list(kind.categories)
    return body


def _subresources(kind: KubeKind) -> list[dict[str, Any]]:
    """The subresources the sandbox serves: ``/scale`` of scalable kinds, ``pods/log``."""
    subs = []
    if kind.scalable:
        subs.append(
            {
                "name": f"{kind.plural}/scale",
                "singularName": "",
                "namespaced": True,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": _SCALE_VERBS,
            }
        )
    if kind.plural == "pods":
        subs.append(
            {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]}
        )
    return subs


def resource_list(api_version: str) -> dict[str, Any] | None:
    if api_version == f"{AUTHORIZATION_GROUP}/v1":
        resources = [dict(_SSAR)]
    else:
        kinds = kinds_in(api_version)
        if not kinds:
            return None
        resources = [_resource(k) for k in kinds]
        for kind in kinds:
            resources += _subresources(kind)
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": resources,
    }


def _discovered(kind: KubeKind) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resource": kind.plural,
        "responseKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
        "scope": "Namespaced" if kind.namespaced else "Cluster",
        "singularResource": kind.kind.lower(),
        "verbs": list(kind.verbs),
    }
    if kind.short_names:
        body["shortNames"] = list(kind.short_names)
    if kind.categories:
        body["categories"] = list(kind.categories)
    subresources = []
    if kind.scalable:
        subresources.append(
            {
                "subresource": "scale",
                "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
                "verbs": _SCALE_VERBS,
            }
        )
    if kind.plural == "pods":
        subresources.append(
            {
                "subresource": "log",
                "responseKind": {"group": "", "version": "v1", "kind": "Pod"},
                "verbs": ["get"],
            }
        )
    if subresources:
        body["subresources"] = subresources
    return body


def _discovered_group(name: str) -> dict[str, Any]:
    if name == AUTHORIZATION_GROUP:
        resources = [
            {
                "resource": _SSAR["name"],
                "responseKind": {"group": name, "version": "v1", "kind": _SSAR["kind"]},
                "scope": "Cluster",
                "singularResource": _SSAR["singularName"],
                "verbs": ["create"],
            }
        ]
    else:
        resources = [_discovered(k) for k in ALL_KINDS if k.group == name]
    return {
        "metadata": {"name": name, "creationTimestamp": None},
        "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}],
    }


def aggregated(*, core: bool) -> dict[str, Any]:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core``) or of ``/apis``."""
    items = [_discovered_group("")] if core else [_discovered_group(g) for g in _GROUPS]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }
