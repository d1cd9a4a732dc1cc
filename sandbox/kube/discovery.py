"""``/version`` and the discovery documents (``/api``, ``/apis``, resource lists).

The Python client needs none of them to call an API, but ``kubectl``, ``kubernetes.
dynamic`` and health probes do, and a product that checks the server version before
acting reads ``/version``. All are derived from the kind table and the cluster's
Kubernetes version, so they never disagree with what is served.
"""

from __future__ import annotations

from typing import Any

from sandbox.kube.kinds import KubeKind, kinds_in
from sandbox.world import Cluster

_GROUPS = ("apps", "batch", "autoscaling")


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
    return {
        "name": kind.plural,
        "singularName": kind.kind.lower(),
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(kind.verbs),
        "shortNames": list(kind.short_names),
    }


def resource_list(api_version: str) -> dict[str, Any] | None:
    kinds = kinds_in(api_version)
    resources = [_resource(k) for k in kinds]
    for kind in kinds:
        if kind.scalable:
            resources.append(
                {
                    "name": f"{kind.plural}/scale",
                    "singularName": "",
                    "namespaced": True,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch", "update"],
                }
            )
    if not resources and api_version != "autoscaling/v1":
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": api_version,
        "resources": resources,
    }
