"""A purge estate for adapter and end-to-end tests, and helpers to read its outcome.

``ESTATE`` is one registry whose repositories hold, each by name (the ``ref``), what a
purge must delete and what it must keep, with one AKS cluster whose workloads use some
of it. ``EXPECTED_DELETED`` and ``EXPECTED_KEPT`` name them; ``POLICY`` is the policy
that produces exactly that outcome.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sandbox.world import World
from tests.support.sandbox import SUBSCRIPTION, minimal_estate

REGISTRY = "contosopurge"
SIGNATURE = "application/vnd.cncf.notary.signature"
SBOM = "application/spdx+json"


def _m(ref: str, age: str, *tags: str, **extra: Any) -> dict[str, Any]:
    return {"ref": ref, "age": age, "tags": list(tags), **extra}


# MINIMAL_ESTATE's settings and subscription, with this registry and cluster.
ESTATE: dict[str, Any] = minimal_estate(
    registries=[
        {
            "name": REGISTRY,
            "resourceGroup": "rg-acr",
            "sku": "Premium",
            "repositories": [
                {
                    "name": "shop/api",
                    "manifests": [
                        _m("running", "90d", "ci-090"),
                        _m("pinned", "80d", "ci-080"),
                        _m("old-ci", "60d", "ci-100"),
                        _m("scaled-to-zero", "45d", "ci-101"),
                        _m("young-ci", "2h", "ci-102"),
                        _m("untagged-junk", "40d"),
                        _m("locked", "60d", "ci-103", attributes={"deleteEnabled": False}),
                        _m("signed-ci", "50d", "ci-104"),
                        _m(
                            "signed-ci-sig",
                            "50d",
                            kind="artifact",
                            artifactType=SIGNATURE,
                            subject="signed-ci",
                        ),
                        _m("signed-ci-sbom", "50d", kind="artifact", artifactType=SBOM, subject="signed-ci"),
                        _m("release", "100d", "v3"),
                        _m("release-sig", "100d", kind="artifact", artifactType=SIGNATURE, subject="release"),
                        _m("cron-ci", "55d", "ci-105"),
                    ],
                },
                {
                    "name": "shop/base",
                    "manifests": [
                        _m(
                            "old-index",
                            "70d",
                            "ci-200",
                            kind="index",
                            platforms=["linux/amd64", "linux/arm64"],
                        ),
                        _m(
                            "stable-index",
                            "70d",
                            "stable",
                            kind="index",
                            platforms=["linux/amd64", "linux/arm64"],
                        ),
                    ],
                },
                {
                    "name": "shop/web",
                    "manifests": [_m("debug-pod", "90d", "ci-300"), _m("web-old", "90d", "ci-301")],
                },
            ],
        }
    ],
    clusters=[
        {
            "name": "aks-shop",
            "resourceGroup": "rg-aks",
            "agentPools": [{"name": "system", "mode": "System", "count": 1}, {"name": "user", "count": 2}],
            "deployments": [
                {
                    "name": "api",
                    "namespace": "shop",
                    "replicas": 2,
                    "containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-090"],
                },
                {
                    "name": "api-pinned",
                    "namespace": "shop",
                    "containers": [{"image": f"{REGISTRY}.azurecr.io/shop/api:ci-080", "byDigest": True}],
                },
                {
                    "name": "idle",
                    "namespace": "shop",
                    "replicas": 0,
                    "containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-101"],
                },
            ],
            "cronjobs": [
                {
                    "name": "report",
                    "namespace": "shop",
                    "schedule": "0 2 * * *",
                    "containers": [f"{REGISTRY}.azurecr.io/shop/api:ci-105"],
                }
            ],
            "pods": [
                {
                    "name": "web-debug",
                    "namespace": "shop",
                    "containers": [f"{REGISTRY}.azurecr.io/shop/web:ci-300"],
                }
            ],
        }
    ],
)

POLICY = """
purge:
  minAge: 1d
  rules:
    - name: ci
      registry: contosopurge
      repository: 'shop/.*'
      tags: 'ci-.*'
      olderThan: 30d
      untagged: true
      allowSuspicious: true
"""

#: By repository: the refs a correct purge deletes ("+children" stands for an index's platforms).
EXPECTED_DELETED = {
    "shop/api": {"old-ci", "untagged-junk", "signed-ci", "signed-ci-sig", "signed-ci-sbom"},
    "shop/base": {"old-index", "old-index+children"},
    "shop/web": {"web-old"},
}
#: Refs that must survive, with the protection that keeps them.
EXPECTED_KEPT = {
    "running": "in-use",
    "pinned": "in-use",
    "scaled-to-zero": "in-use",
    "locked": "lock",
    "release-sig": "referrer",
    "cron-ci": "in-use",
    "debug-pod": "in-use",
    "stable-index+children": "multi-arch",
}


def refs_of(world: World, registry: str = REGISTRY) -> dict[str, set[str]]:
    """Refs present now, by repository: manifests found by the tags and subjects the estate gave."""
    out: dict[str, set[str]] = {}
    found = world.registries[registry]
    for repo_model in ESTATE["registries"][0]["repositories"]:
        repo = found.repositories.get(repo_model["name"])
        present = set(repo.manifests) if repo else set()
        refs = set()
        for digest, label in digests_by_ref(world, repo_model["name"], registry).items():
            if digest in present:
                refs.add(label)
        out[repo_model["name"]] = refs
    return out


_DIGESTS: dict[tuple[int, str, str], dict[str, str]] = {}


def digests_by_ref(world: World, repository: str, registry: str = REGISTRY) -> dict[str, str]:
    """digest → ref for the estate's manifests, computed once from the freshly loaded world.

    Call it before anything is deleted (``remember_refs``); afterwards it answers from memory.
    """
    key = (id(world), registry, repository)
    if key not in _DIGESTS:
        raise AssertionError("call remember_refs(world) before the purge runs")
    return _DIGESTS[key]


def remember_refs(world: World, registries: Sequence[str] = (REGISTRY,)) -> None:
    """Label every manifest of the estate by its ref, while the world is as loaded."""
    for registry in registries:
        for repo_model in ESTATE["registries"][0]["repositories"]:
            repo = world.registries[registry].repositories[repo_model["name"]]
            _DIGESTS[(id(world), registry, repo_model["name"])] = _label(repo, repo_model)


def _label(repo: Any, repo_model: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    by_tag = {tag.name: tag.digest for tag in repo.tags.values()}
    for model in repo_model["manifests"]:
        if model["tags"]:
            digest = by_tag[model["tags"][0]]
            labels[digest] = model["ref"]
            for child in repo.manifests[digest].children:
                labels[child] = f"{model['ref']}+children"
    for manifest in repo.manifests.values():
        if manifest.subject and manifest.digest not in labels:
            subject = labels[manifest.subject]
            kind = "sig" if manifest.artifact_type == SIGNATURE else "sbom"
            labels[manifest.digest] = f"{subject}-{kind}"
    for manifest in repo.manifests.values():
        labels.setdefault(manifest.digest, "untagged-junk")
    return labels


def expected_remaining(world: World, registry: str = REGISTRY) -> dict[str, set[str]]:
    """The refs that must remain, by repository, given the estate's refs."""
    out = {}
    for repo_model in ESTATE["registries"][0]["repositories"]:
        name = repo_model["name"]
        every = set(digests_by_ref(world, name, registry).values())
        out[name] = every - EXPECTED_DELETED[name]
    return out


def estate_of_copies(names: Sequence[str]) -> dict[str, Any]:
    """ESTATE with its registry copied under each of ``names``, and its cluster's workloads
    running the same images from every copy, so that each copy purges the same way."""
    estate = copy.deepcopy(ESTATE)
    model = estate["registries"][0]
    estate["registries"] = [{**copy.deepcopy(model), "name": name} for name in names]
    for cluster in estate["clusters"]:
        for kind in ("deployments", "cronjobs", "pods"):
            for workload in cluster.get(kind, []):
                workload["containers"] = [
                    _from_registry(container, name) for container in workload["containers"] for name in names
                ]
    return estate


def _from_registry(container: Any, name: str) -> Any:
    if isinstance(container, str):
        return container.replace(f"{REGISTRY}.azurecr.io", f"{name}.azurecr.io")
    return {**container, "image": container["image"].replace(f"{REGISTRY}.azurecr.io", f"{name}.azurecr.io")}


__all__ = [
    "ESTATE",
    "EXPECTED_DELETED",
    "EXPECTED_KEPT",
    "POLICY",
    "REGISTRY",
    "SUBSCRIPTION",
    "estate_of_copies",
    "expected_remaining",
    "refs_of",
    "remember_refs",
]
