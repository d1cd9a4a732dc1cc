"""Generators: estates at benchmark scale, described in a few lines.

``registries[].generate`` makes N repositories x M manifests, and ``clusters[].generate``
or ``generate.clusters`` make K clusters x P pods. At 100k manifests plus 100k pods,
per-object validation would dominate load time, so generators build World dataclasses
and Kubernetes dicts directly (the inputs were validated once, as the generator
block). Everything is deterministic: the same block gives the same digests and names.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import TYPE_CHECKING

from sandbox.estate import manifests as oci
from sandbox.estate.kubeobjects import Controlled, ObjectFactory
from sandbox.estate.models import ClusterGenerator, PodGenerator, RepositoryGenerator, parse_duration
from sandbox.estate.nodes import (
    DEFAULT_NAMESPACES,
    NodePlacer,
    add_pool_nodes,
    add_workload_pods,
)
from sandbox.world import AgentPool, Attributes, Cluster, Manifest, Registry, Repository, Tag

if TYPE_CHECKING:
    from sandbox.estate.building import Builder

_LAYER_SIZES = (31_457_280, 4_194_304, 1_048_576, 524_288)
_PENDING_MESSAGE = (
    "0/{nodes} nodes are available: {nodes} Insufficient cpu. preemption: 0/{nodes} nodes are available: "
    "{nodes} No preemption victims found for incoming pod."
)


def generate_repositories(builder: Builder, registry: Registry, gen: RepositoryGenerator) -> None:
    now = builder.now
    span = parse_duration(gen.max_age)
    count = gen.manifests_per_repository
    tagged_from = count - round(count * gen.tagged_fraction)
    sizes = [_LAYER_SIZES[i % len(_LAYER_SIZES)] for i in range(gen.layers)]
    sha = oci.seeded_digest
    width = max(4, len(str(gen.repositories - 1)))
    for r in range(gen.repositories):
        name = f"{gen.repository_prefix}{r:0{width}d}"
        if name in registry.repositories:
            builder.problems.add(f"registries[{registry.name}].generate", f"repository {name} already exists")
            return
        manifests: dict[str, Manifest] = {}
        tags: dict[str, Tag] = {}
        for j in range(count):
            seed = f"{registry.name}/{name}#g{j}"
            created = now - timedelta(seconds=span * (count - j) / count)
            layers = [(sha(f"{seed}/layer{k}"), size) for k, size in enumerate(sizes)]
            config = (sha(seed + "/config"), 1_469)
            content = oci.image_manifest_bytes(media_type=oci.OCI_MANIFEST, config=config, layers=layers)
            digest = oci.digest_of(content)
            manifests[digest] = Manifest(
                digest,
                oci.OCI_MANIFEST,
                content,
                created,
                created,
                Attributes(),
                None,
                None,
                [],
                layers,
                config,
                {},
                "amd64",
                "linux",
            )
            if j >= tagged_from:
                index = j - tagged_from
                per = gen.tags_per_manifest
                extra = math.floor((index + 1) * per) - math.floor(index * per)
                for k in range(extra):
                    tag = f"1.0.{j}" if k == 0 else f"1.0.{j}-build{k}"
                    tags[tag] = Tag(tag, digest, created, created, Attributes())
        if count and count - 1 >= tagged_from:
            newest = next(reversed(manifests.values()))
            tags["latest"] = Tag("latest", newest.digest, newest.created, newest.created, Attributes())
        first = next(iter(manifests.values()))
        last = next(reversed(manifests.values()))
        registry.repositories[name] = Repository(
            name, first.created, last.updated, manifests, tags, Attributes()
        )


def image_pool(builder: Builder, registry_name: str, path: str) -> list[tuple[str, str, str]] | None:
    """(repository, tag, digest) of every tagged image of a registry, for pods to run."""
    cached = builder.cache.get(("image_pool", registry_name))
    if cached is not None:
        return cached
    registry = builder.find_registry(registry_name)
    if registry is None:
        builder.problems.add(f"{path}.images.registry", f"registry {registry_name!r} is not in the estate")
        return None
    pool = []
    for repo in registry.repositories.values():
        for tag in repo.tags.values():
            manifest = repo.manifests.get(tag.digest)
            if manifest is not None and manifest.artifact_type is None and tag.name != "latest":
                pool.append((repo.name, tag.name, tag.digest))
    if not pool:
        builder.problems.add(f"{path}.images.registry", f"registry {registry_name!r} has no tagged images")
        return None
    builder.cache[("image_pool", registry_name)] = pool
    return pool


def generate_pods(
    builder: Builder,
    cluster: Cluster,
    gen: PodGenerator,
    factory: ObjectFactory,
    placer: NodePlacer,
    path: str,
) -> None:
    kube = cluster.kube
    created = builder.now - timedelta(days=7)
    namespaces = [f"team-{i:03d}" for i in range(gen.namespaces)]
    for ns in namespaces:
        if ns not in kube.namespaces:
            kube.namespaces[ns] = factory.namespace(ns, labels={}, created=created)
    pool = None
    host = "mcr.microsoft.com"
    fraction = 0.0
    if gen.images is not None:
        pool = image_pool(builder, gen.images.registry, path)
        if pool is None:
            return
        registry = builder.find_registry(gen.images.registry)
        assert registry is not None
        host = f"{registry.name}.azurecr.io"
        fraction = gen.images.by_digest_fraction
    per = gen.replicas_per_deployment
    deployments = math.ceil(gen.pods / per)
    pending_total = round(gen.pods * gen.pending_fraction)
    message = _PENDING_MESSAGE.format(nodes=len(placer.all_nodes))
    made = 0
    for d in range(deployments):
        replicas = min(per, gen.pods - made)
        namespace = namespaces[d % len(namespaces)]
        name = f"app-{d:05d}"
        if pool is not None:
            repo, tag, digest = pool[d % len(pool)]
            pinned = (d * 7919 % 1000) < fraction * 1000
            base = f"{host}/{repo}"
            image = f"{base}@{digest}" if pinned else f"{base}:{tag}"
            image_id = f"{base}@{digest}"
            container_name = repo.rsplit("/", 1)[-1]
        else:
            image = f"{host}/azuredocs/aks-helloworld:v1"
            image_id = f"{host}/azuredocs/aks-helloworld@{oci.seeded_digest(image)}"
            container_name = "app"
        containers = [(container_name, image, image_id)]
        pending = min(replicas, max(0, pending_total - (deployments - d - 1) * per)) if pending_total else 0
        running = add_workload_pods(
            factory,
            placer,
            kind="Deployment",
            name=name,
            namespace=namespace,
            replicas=replicas,
            containers=containers,
            labels={},
            created=created,
            pending=pending,
            pending_message=message,
        )
        spec = Controlled(
            namespace=namespace,
            containers=[(container_name, image)],
            labels={},
            created=created,
            replicas=replicas,
            ready=running,
        )
        kube.deployments[(namespace, name)] = factory.workload(
            "Deployment", name, spec, nodes=len(placer.all_nodes)
        )
        (current,) = factory.deployment_replica_sets(name, spec)
        kube.replicasets[(namespace, current["metadata"]["name"])] = current
        made += replicas


def generate_clusters(builder: Builder, gen: ClusterGenerator, path: str) -> None:
    width = max(3, len(str(gen.count - 1)))
    for k in range(gen.count):
        cluster = builder.new_cluster(
            name=f"{gen.name_prefix}{k:0{width}d}",
            subscription=gen.subscription,
            resource_group=gen.resource_group,
            location=gen.location,
            path=path,
            tags=gen.tags,
        )
        if cluster is None:
            return
        version = cluster.kubernetes_version
        user_nodes = max(1, math.ceil(gen.pods / 100))
        cluster.agent_pools["system"] = AgentPool(
            name="system", mode="System", count=3, orchestrator_version=version
        )
        cluster.agent_pools["user"] = AgentPool(
            name="user",
            mode="User",
            count=user_nodes,
            enable_auto_scaling=True,
            min_count=1,
            max_count=max(user_nodes, 2 * user_nodes),
            orchestrator_version=version,
        )
        factory = ObjectFactory(cluster)
        created = builder.now - timedelta(days=90)
        add_pool_nodes(factory, cluster, created)
        for ns in DEFAULT_NAMESPACES:
            cluster.kube.namespaces[ns] = factory.namespace(ns, labels={}, created=created)
        cluster.kube.services[("default", "kubernetes")] = factory.default_service(created=created)
        generate_pods(builder, cluster, gen, factory, NodePlacer(cluster), path)
        builder.world.clusters[cluster.name] = cluster
