"""From a validated estate file to a live :class:`~sandbox.world.World`.

Schema errors are pydantic's; everything that needs the whole estate (a resource
group that must exist, a subject or child that must name a manifest, an image whose
tag must exist, a node a pod sits on) is checked here, and every problem is collected
with its field path before loading fails, so one run shows them all.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sandbox.authz import BUILTIN_ROLES
from sandbox.estate import manifests as oci
from sandbox.estate.images import ImageRef, parse_image_ref
from sandbox.estate.kubeobjects import ObjectFactory, short_hash
from sandbox.estate.models import (
    AgentPoolModel,
    AttributesModel,
    ClusterModel,
    ContainerModel,
    EstateModel,
    ManifestModel,
    RegistryModel,
    RepositoryModel,
    TagModel,
    Timed,
    parse_duration,
)
from sandbox.world import (
    AgentPool,
    Attributes,
    Cluster,
    Finding,
    Identity,
    Manifest,
    NetworkProfile,
    Registry,
    Replication,
    Repository,
    RoleAssignment,
    Subscription,
    Tag,
    World,
)

DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
_IMAGE_LAYERS = (31_457_280, 4_194_304)
_CONFIG_SIZE = 1_469
_SIGNATURE_SIZE = 2_048


class Problems:
    """Collected validation problems, each ``path: message``."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def attributes_of(model: AttributesModel | None) -> Attributes:
    if model is None:
        return Attributes()
    return Attributes(model.delete_enabled, model.write_enabled, model.read_enabled, model.list_enabled)


class Builder:
    """One load: the world being built, the reference time and the problems found."""

    def __init__(self, estate: EstateModel, now: datetime) -> None:
        self.estate = estate
        self.now = now
        self.problems = Problems()
        self.world = World()
        self.cache: dict[tuple[str, str], Any] = {}  # derived data generators reuse across clusters

    # -- times ----------------------------------------------------------------------------

    def created_of(self, item: Timed | Any, default: datetime | None = None) -> datetime:
        created = getattr(item, "created", None)
        if created is not None:
            return created
        age = getattr(item, "age", None)
        if age is not None:
            return self.now - timedelta(seconds=parse_duration(age))
        return default if default is not None else self.now

    def updated_of(self, item: Timed, created: datetime) -> datetime:
        if item.updated is not None:
            return item.updated
        if item.updated_age is not None:
            return self.now - timedelta(seconds=parse_duration(item.updated_age))
        return created

    # -- top level -----------------------------------------------------------------------

    def build(self) -> World:
        estate = self.estate
        world = self.world
        world.settings.update(settings_to_world(estate.settings.model_dump()))
        for index, sub in enumerate(estate.subscriptions):
            key = sub.id.lower()
            if key in world.subscriptions:
                self.problems.add(f"subscriptions[{index}].id", f"duplicate subscription {sub.id}")
                continue
            groups: dict[str, str] = {}
            for g_index, group in enumerate(sub.resource_groups):
                if group.name.lower() in (name.lower() for name in groups):
                    self.problems.add(
                        f"subscriptions[{index}].resourceGroups[{g_index}].name",
                        f"duplicate resource group {group.name}",
                    )
                groups[group.name] = group.location
            world.subscriptions[key] = Subscription(key, sub.name or key, groups)
        self.build_identity()
        for index, registry in enumerate(estate.registries):
            self.build_registry(registry, f"registries[{index}]")
        for index, finding in enumerate(estate.findings):
            self.build_finding(finding, f"findings[{index}]")
        for index, cluster in enumerate(estate.clusters):
            self.build_cluster(cluster, f"clusters[{index}]")
        if estate.generate.clusters is not None:
            from sandbox.estate.generating import generate_clusters

            generate_clusters(self, estate.generate.clusters, "generate.clusters")
        self.build_faults()
        return world

    def build_identity(self) -> None:
        model = self.estate.identity
        identity = Identity()
        if model.client_id:
            identity.client_id = model.client_id
        if model.principal_id:
            identity.principal_id = model.principal_id
        if model.tenant_id:
            identity.tenant_id = model.tenant_id
        for index, custom in enumerate(model.custom_roles):
            if custom.name in BUILTIN_ROLES:
                self.problems.add(
                    f"identity.customRoles[{index}].name", f"{custom.name!r} is a built-in role name"
                )
            identity.custom_roles[custom.name] = [*custom.actions, *custom.data_actions]
        for index, role in enumerate(model.roles):
            if role.role not in BUILTIN_ROLES and role.role not in identity.custom_roles:
                self.problems.add(
                    f"identity.roles[{index}].role",
                    f"unknown role {role.role!r}; expected a built-in role "
                    f"({', '.join(sorted(BUILTIN_ROLES))}) or one of identity.customRoles",
                )
            sub_id = role.scope.split("/")[2].lower()
            if sub_id not in self.world.subscriptions:
                self.problems.add(
                    f"identity.roles[{index}].scope", f"subscription {sub_id} is not in the estate"
                )
            identity.roles.append(RoleAssignment(scope=role.scope, role=role.role))
        self.world.identity = identity

    def place(
        self, subscription: str | None, resource_group: str, location: str | None, path: str
    ) -> tuple[str, str, str]:
        """(subscription id, resource group, location) of a resource, checked against the estate."""
        subs = self.world.subscriptions
        if subscription is None:
            sub = next(iter(subs.values()), None)
        else:
            sub = subs.get(subscription.lower()) or next(
                (s for s in subs.values() if s.name == subscription), None
            )
        if sub is None:
            self.problems.add(
                f"{path}.subscription", f"{subscription!r} is not a subscription id or name of the estate"
            )
            return (subscription or "", resource_group, location or "eastus")
        group = next((g for g in sub.resource_groups if g.lower() == resource_group.lower()), None)
        if group is None:
            self.problems.add(
                f"{path}.resourceGroup",
                f"{resource_group!r} is not a resource group of subscription {sub.id} "
                f"(it has: {', '.join(sub.resource_groups) or 'none'})",
            )
            return (sub.id, resource_group, location or "eastus")
        return (sub.id, group, location or sub.resource_groups[group])

    # -- registries -----------------------------------------------------------------------

    def build_registry(self, model: RegistryModel, path: str) -> None:
        world = self.world
        if model.name.lower() in (name.lower() for name in world.registries):
            self.problems.add(f"{path}.name", f"duplicate registry {model.name}")
            return
        sub, group, location = self.place(model.subscription, model.resource_group, model.location, path)
        registry = Registry(
            name=model.name,
            subscription=sub,
            resource_group=group,
            location=location,
            sku=model.sku,
            quarantine_enabled=model.quarantine_enabled,
            admin_user_enabled=model.admin_user_enabled,
            tags=dict(model.tags),
            created=self.created_of(model),
        )
        if model.replications and model.sku != "Premium":
            self.problems.add(
                f"{path}.replications", f"geo-replication needs the Premium SKU, not {model.sku}"
            )
        for index, rep in enumerate(model.replications):
            name = rep.name or rep.location
            if name in registry.replications:
                self.problems.add(f"{path}.replications[{index}].name", f"duplicate replication {name}")
            registry.replications[name] = Replication(
                name=name,
                location=rep.location,
                region_endpoint_enabled=rep.region_endpoint_enabled,
                status=rep.status,
                zone_redundancy=rep.zone_redundancy,
            )
        if location not in (r.location for r in registry.replications.values()) and registry.replications:
            # ACR always lists the home region as a replication of a geo-replicated registry.
            registry.replications = {
                location: Replication(name=location, location=location),
                **registry.replications,
            }
        for index, repo in enumerate(model.repositories):
            self.build_repository(registry, repo, f"{path}.repositories[{index}]")
        if model.generate is not None:
            from sandbox.estate.generating import generate_repositories

            generate_repositories(self, registry, model.generate)
        world.registries[registry.name] = registry

    def build_repository(self, registry: Registry, model: RepositoryModel, path: str) -> None:
        if model.name in registry.repositories:
            self.problems.add(f"{path}.name", f"duplicate repository {model.name}")
            return
        repo = Repository(
            name=model.name, created=self.now, updated=self.now, attrs=attributes_of(model.attributes)
        )
        declared: set[str] = set()
        for m_index, manifest in enumerate(model.manifests):
            if manifest.ref:
                declared.add(manifest.ref)
            if manifest.digest:
                declared.add(manifest.digest)
            for tag in manifest.tags:
                name = tag if isinstance(tag, str) else tag.name
                if name in declared and name != manifest.ref:
                    self.problems.add(f"{path}.manifests[{m_index}].tags", f"tag {name!r} is used twice")
                declared.add(name)
        names: dict[str, str] = {}  # ref or tag → digest, for built manifests
        pending = list(enumerate(model.manifests))
        while pending:
            progressed = False
            for entry in list(pending):
                m_index, manifest = entry
                m_path = f"{path}.manifests[{m_index}]"
                outcome = self.build_manifest(registry, repo, manifest, m_index, m_path, names, declared)
                if outcome != "wait":
                    pending.remove(entry)
                    progressed = True
            if not progressed:
                for m_index, manifest in pending:
                    field = "subject" if manifest.kind == "artifact" else "children"
                    self.problems.add(
                        f"{path}.manifests[{m_index}].{field}",
                        "references form a cycle, or name a manifest that cannot be built",
                    )
                break
        if repo.manifests:
            created = [m.created for m in repo.manifests.values()]
            updated = [m.updated for m in repo.manifests.values()] + [t.updated for t in repo.tags.values()]
            repo.created = min(created)
            repo.updated = max(updated)
        if model.created is not None or model.age is not None:
            repo.created = self.created_of(model)
        if model.updated is not None or model.updated_age is not None:
            repo.updated = self.updated_of(model, repo.created)
        registry.repositories[repo.name] = repo

    def resolve_local(
        self, name: str, names: dict[str, str], declared: set[str], repo: Repository
    ) -> str | bool | None:
        """The digest ``name`` refers to in this repository; None = not yet built; False = unknown."""
        if name in names:
            return names[name]
        if name.startswith("sha256:") and name in repo.manifests:
            return name
        if name in declared:
            return None
        return False

    def build_manifest(
        self,
        registry: Registry,
        repo: Repository,
        model: ManifestModel,
        index: int,
        path: str,
        names: dict[str, str],
        declared: set[str],
    ) -> str:
        """Build one manifest model; returns "done", "error" or "wait" (a reference is not built yet)."""
        created = self.created_of(model)
        updated = self.updated_of(model, created)
        seed = f"{registry.name}/{repo.name}#{index}"
        extra: list[Manifest] = []
        os_name, arch = _platform(model.platform) if model.platform else ("linux", "amd64")
        if model.content is not None:
            content = model.content.encode()
            try:
                fields = oci.parse_manifest(content)
            except ValueError as exc:
                self.problems.add(f"{path}.content", f"is not a manifest ({exc})")
                return "error"
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=fields["media_type"],
                content=content,
                created=created,
                updated=updated,
                artifact_type=fields["artifact_type"],
                subject=fields["subject"],
                children=[d for d in fields["children"] if d],
                layers=fields["layers"],
                config=fields["config"],
                annotations=fields["annotations"],
                # given bytes say nothing of the platform: only an explicit one is recorded
                architecture=arch if model.platform else None,
                os=os_name if model.platform else None,
            )
        elif model.kind == "image":
            media_type = model.media_type or oci.OCI_MANIFEST
            if media_type not in oci.IMAGE_TYPES:
                self.problems.add(
                    f"{path}.mediaType", f"an image is one of {', '.join(sorted(oci.IMAGE_TYPES))}"
                )
                return "error"
            layers = self.layers_of(model, seed, _IMAGE_LAYERS)
            config = (
                (model.config.digest or oci.seeded_digest(seed + "/config"), model.config.size)
                if model.config
                else (oci.seeded_digest(seed + "/config"), _CONFIG_SIZE)
            )
            content = oci.image_manifest_bytes(
                media_type=media_type, config=config, layers=layers, annotations=model.annotations
            )
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=media_type,
                content=content,
                created=created,
                updated=updated,
                layers=layers,
                config=config,
                annotations=dict(model.annotations),
                architecture=arch,
                os=os_name,
            )
        elif model.kind == "index":
            media_type = model.media_type or oci.OCI_INDEX
            if media_type not in oci.INDEX_TYPES:
                self.problems.add(
                    f"{path}.mediaType", f"an index is one of {', '.join(sorted(oci.INDEX_TYPES))}"
                )
                return "error"
            child_type = oci.DOCKER_MANIFEST if media_type == oci.DOCKER_LIST else oci.OCI_MANIFEST
            entries: list[tuple[str, str, int, str | None, str | None]] = []
            for p_index, platform in enumerate(model.platforms):
                try:
                    c_os, c_arch = _platform(platform)
                except ValueError as exc:
                    self.problems.add(f"{path}.platforms[{p_index}]", str(exc))
                    return "error"
                c_seed = f"{seed}/{platform}"
                c_layers = [
                    (oci.seeded_digest(f"{c_seed}/layer{i}"), size) for i, size in enumerate(_IMAGE_LAYERS)
                ]
                c_config = (oci.seeded_digest(c_seed + "/config"), _CONFIG_SIZE)
                c_content = oci.image_manifest_bytes(media_type=child_type, config=c_config, layers=c_layers)
                child = Manifest(
                    digest=oci.digest_of(c_content),
                    media_type=child_type,
                    content=c_content,
                    created=created,
                    updated=updated,
                    layers=c_layers,
                    config=c_config,
                    architecture=c_arch,
                    os=c_os,
                )
                extra.append(child)
                entries.append((child_type, child.digest, len(c_content), c_os, c_arch))
            for c_index, name in enumerate(model.children):
                digest = self.resolve_local(name, names, declared, repo)
                if digest is None:
                    return "wait"
                if digest is False:
                    self.problems.add(
                        f"{path}.children[{c_index}]", f"{name!r} is not a ref, tag or digest in {repo.name}"
                    )
                    return "error"
                child = repo.manifests[str(digest)]
                entries.append(
                    (child.media_type, child.digest, len(child.content), child.os, child.architecture)
                )
            content = oci.index_bytes(media_type=media_type, children=entries, annotations=model.annotations)
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=media_type,
                content=content,
                created=created,
                updated=updated,
                children=[entry[1] for entry in entries],
                annotations=dict(model.annotations),
            )
        else:  # artifact
            assert model.artifact_type is not None
            subject_tuple = None
            subject_digest = None
            if model.subject:
                digest = self.resolve_local(model.subject, names, declared, repo)
                if digest is None:
                    return "wait"
                if digest is False:
                    self.problems.add(
                        f"{path}.subject", f"{model.subject!r} is not a ref, tag or digest in {repo.name}"
                    )
                    return "error"
                subject = repo.manifests[str(digest)]
                subject_digest = subject.digest
                subject_tuple = (subject.media_type, subject.digest, len(subject.content))
            layers = self.layers_of(model, seed, (_SIGNATURE_SIZE,))
            content = oci.artifact_manifest_bytes(
                artifact_type=model.artifact_type,
                layers=layers,
                subject=subject_tuple,
                annotations=model.annotations,
            )
            manifest = Manifest(
                digest=oci.digest_of(content),
                media_type=oci.OCI_MANIFEST,
                content=content,
                created=created,
                updated=updated,
                artifact_type=model.artifact_type,
                subject=subject_digest,
                layers=layers,
                config=(oci.EMPTY_DIGEST, 2),
                annotations=dict(model.annotations),
            )
        if model.digest is not None and model.digest != manifest.digest:
            self.problems.add(
                f"{path}.digest",
                f"{model.digest} is not the digest of this manifest's content ({manifest.digest}); "
                "leave digest out, or give the exact content",
            )
            return "error"
        if manifest.digest in repo.manifests:
            self.problems.add(path, f"describes the same content as another manifest ({manifest.digest})")
            return "error"
        manifest.attrs = attributes_of(model.attributes)
        manifest.quarantine_state = model.quarantine_state
        manifest.quarantine_details = model.quarantine_details
        for child in extra:
            repo.manifests.setdefault(child.digest, child)
        repo.manifests[manifest.digest] = manifest
        if model.ref:
            names[model.ref] = manifest.digest
        names[manifest.digest] = manifest.digest
        for t_index, tag in enumerate(model.tags):
            tag_model = TagModel(name=tag) if isinstance(tag, str) else tag
            if tag_model.name in repo.tags:
                self.problems.add(f"{path}.tags[{t_index}]", f"tag {tag_model.name!r} is used twice")
                continue
            t_created = self.created_of(tag_model, created)
            repo.tags[tag_model.name] = Tag(
                name=tag_model.name,
                digest=manifest.digest,
                created=t_created,
                updated=self.updated_of(
                    tag_model, updated if tag_model.age is None and tag_model.created is None else t_created
                ),
                attrs=attributes_of(tag_model.attributes),
            )
            names[tag_model.name] = manifest.digest
        return "done"

    def layers_of(self, model: ManifestModel, seed: str, default: tuple[int, ...]) -> list[tuple[str, int]]:
        if not model.layers:
            return [(oci.seeded_digest(f"{seed}/layer{i}"), size) for i, size in enumerate(default)]
        out = []
        for i, layer in enumerate(model.layers):
            if isinstance(layer, int):
                out.append((oci.seeded_digest(f"{seed}/layer{i}"), layer))
            else:
                out.append((layer.digest or oci.seeded_digest(f"{seed}/layer{i}"), layer.size))
        return out

    # -- findings -------------------------------------------------------------------------

    def build_finding(self, model: Any, path: str) -> None:
        ref = parse_image_ref(model.image, short_registry=True)
        if ref is None:
            self.problems.add(
                f"{path}.image", f"{model.image!r} is not <registry>/<repository>:<tag> or @<digest>"
            )
            return
        registry = self.find_registry(ref.registry_name)
        if registry is None:
            self.problems.add(f"{path}.image", f"registry {ref.registry_name!r} is not in the estate")
            return
        digest = self.resolve_ref(registry, ref)
        if digest is None:
            self.problems.add(f"{path}.image", f"{model.image!r} does not name a manifest of {registry.name}")
            return
        self.world.findings.append(
            Finding(
                registry=registry.name,
                repository=ref.repository,
                digest=digest,
                cve=model.cve,
                severity=model.severity,
                fix_status=model.fix_status,
                fixed_version=model.fixed_version,
                status=model.status,
                cause=model.cause,
                time_generated=model.time_generated or self.created_of(model),
                package=model.package,
                version=model.version,
            )
        )

    def find_registry(self, name: str | None) -> Registry | None:
        if name is None:
            return None
        return self.world.registries.get(name) or next(
            (r for r in self.world.registries.values() if r.name.lower() == name.lower()), None
        )

    def resolve_ref(self, registry: Registry, ref: ImageRef) -> str | None:
        repo = registry.repositories.get(ref.repository)
        if repo is None:
            return None
        if ref.digest:
            return ref.digest if ref.digest in repo.manifests else None
        tag = repo.tags.get(ref.tag or "latest")
        return tag.digest if tag else None

    # -- clusters -------------------------------------------------------------------------

    def new_cluster(
        self,
        *,
        name: str,
        subscription: str | None,
        resource_group: str,
        location: str | None,
        path: str,
        kubernetes_version: str = "1.30.5",
        tags: dict[str, str] | None = None,
    ) -> Cluster | None:
        if name.lower() in (c.lower() for c in self.world.clusters):
            self.problems.add(f"{path}.name", f"duplicate cluster {name}")
            return None
        sub, group, loc = self.place(subscription, resource_group, location, path)
        return Cluster(
            name=name,
            subscription=sub,
            resource_group=group,
            location=loc,
            kubernetes_version=kubernetes_version,
            tags=dict(tags or {}),
            dns_prefix=f"{name}-dns",
        )

    def build_cluster(self, model: ClusterModel, path: str) -> None:
        cluster = self.new_cluster(
            name=model.name,
            subscription=model.subscription,
            resource_group=model.resource_group,
            location=model.location,
            path=path,
            kubernetes_version=model.kubernetes_version,
            tags=model.tags,
        )
        if cluster is None:
            return
        cluster.power_state = model.power_state
        cluster.provisioning_state = model.provisioning_state
        cluster.dns_prefix = model.dns_prefix or cluster.dns_prefix
        cluster.aad_managed = model.aad_managed
        cluster.azure_rbac = model.azure_rbac
        net = model.network_profile
        lb = net.load_balancer_profile
        cluster.network = NetworkProfile(
            outbound_type=net.outbound_type,
            network_plugin=net.network_plugin,
            load_balancer_sku=net.load_balancer_sku,
            managed_outbound_ip_count=lb.managed_outbound_ips["count"],
            allocated_outbound_ports=lb.allocated_outbound_ports,
            idle_timeout_minutes=lb.idle_timeout_in_minutes,
        )
        if not any(pool.mode == "System" for pool in model.agent_pools):
            self.problems.add(f"{path}.agentPools", "a cluster needs at least one System pool")
        for p_index, pool in enumerate(model.agent_pools):
            if pool.name in cluster.agent_pools:
                self.problems.add(f"{path}.agentPools[{p_index}].name", f"duplicate agent pool {pool.name}")
            cluster.agent_pools[pool.name] = agent_pool_of(pool, model.kubernetes_version, model.power_state)
        self.check_snat(cluster, path)
        factory = ObjectFactory(cluster)
        created = self.now - timedelta(days=90)
        kube = cluster.kube
        if model.nodes is None:
            add_pool_nodes(factory, cluster, created)
        else:
            for n_index, node in enumerate(model.nodes):
                pool = cluster.agent_pools.get(node.pool)
                if pool is None:
                    self.problems.add(f"{path}.nodes[{n_index}].pool", f"no agent pool {node.pool!r}")
                    continue
                kube.nodes[node.name] = factory.node(
                    node.name,
                    pool=pool,
                    index=n_index,
                    ready=node.ready,
                    unschedulable=node.unschedulable,
                    labels=node.labels,
                    created=created,
                )
        wanted_namespaces: dict[str, dict[str, str]] = {name: {} for name in DEFAULT_NAMESPACES}
        for ns in model.namespaces:
            if isinstance(ns, str):
                wanted_namespaces.setdefault(ns, {})
            else:
                wanted_namespaces[ns.name] = dict(ns.labels)
        for group in (model.deployments, model.statefulsets, model.daemonsets, model.cronjobs, model.pods):
            for item in group:
                wanted_namespaces.setdefault(item.namespace, {})
        for ns_name, labels in wanted_namespaces.items():
            kube.namespaces[ns_name] = factory.namespace(ns_name, labels=labels, created=created)
        placer = NodePlacer(cluster)
        for kind, group_name, items in (
            ("Deployment", "deployments", model.deployments),
            ("StatefulSet", "statefulsets", model.statefulsets),
            ("DaemonSet", "daemonsets", model.daemonsets),
        ):
            store = getattr(kube, group_name)
            for w_index, workload in enumerate(items):
                w_path = f"{path}.{group_name}[{w_index}]"
                key = (workload.namespace, workload.name)
                if key in store:
                    self.problems.add(
                        f"{w_path}.name", f"duplicate {kind} {workload.namespace}/{workload.name}"
                    )
                    continue
                containers = self.containers_of(
                    workload.containers, f"{w_path}.containers", running=workload.pods
                )
                w_created = self.created_of(workload)
                pods = 0
                if workload.pods:
                    pods = add_workload_pods(
                        factory,
                        placer,
                        kind=kind,
                        name=workload.name,
                        namespace=workload.namespace,
                        replicas=workload.replicas,
                        containers=containers,
                        labels=workload.labels,
                        created=w_created,
                    )
                store[key] = factory.workload(
                    kind,
                    workload.name,
                    namespace=workload.namespace,
                    replicas=workload.replicas,
                    containers=[(c[0], c[1]) for c in containers],
                    labels=workload.labels,
                    created=w_created,
                    ready=pods,
                    nodes=len(placer.all_nodes),
                )
        for c_index, job in enumerate(model.cronjobs):
            containers = self.containers_of(
                job.containers, f"{path}.cronjobs[{c_index}].containers", running=False
            )
            kube.cronjobs[(job.namespace, job.name)] = factory.cronjob(
                job.name,
                namespace=job.namespace,
                schedule=job.schedule,
                suspend=job.suspend,
                containers=[(c[0], c[1]) for c in containers],
                labels=job.labels,
                created=self.created_of(job),
            )
        for pod_index, pod in enumerate(model.pods):
            p_path = f"{path}.pods[{pod_index}]"
            if (pod.namespace, pod.name) in kube.pods:
                self.problems.add(f"{p_path}.name", f"duplicate pod {pod.namespace}/{pod.name}")
                continue
            containers = self.containers_of(pod.containers, f"{p_path}.containers")
            unschedulable = pod.reason == "Unschedulable"
            node = pod.node
            if unschedulable and node:
                self.problems.add(f"{p_path}.node", "an Unschedulable pod has no node")
            if node is not None and node not in kube.nodes:
                self.problems.add(f"{p_path}.node", f"no node {node!r} in {cluster.name}")
            if node is None and not unschedulable and pod.phase != "Pending":
                node = placer.next()
            owner = (pod.owner.kind, pod.owner.name) if pod.owner else None
            obj = factory.pod(
                pod.name,
                namespace=pod.namespace,
                containers=containers,
                phase=pod.phase,
                reason=pod.reason,
                message=pod.message,
                node=node,
                node_ip=placer.ip_of(node),
                labels=pod.labels,
                owner=owner,
                created=self.created_of(pod),
                index=len(kube.pods),
            )
            kube.pods[(pod.namespace, pod.name)] = obj
            if node is None:
                event = factory.scheduling_event(obj, created=self.created_of(pod))
                kube.events[(pod.namespace, event["metadata"]["name"])] = event
        if model.generate is not None:
            from sandbox.estate.generating import generate_pods

            generate_pods(self, cluster, model.generate, factory, placer, f"{path}.generate")
        self.world.clusters[cluster.name] = cluster

    def check_snat(self, cluster: Cluster, path: str) -> None:
        problem = snat_problem(cluster.network, list(cluster.agent_pools.values()))
        if problem is not None:
            self.problems.add(f"{path}.networkProfile.loadBalancerProfile.allocatedOutboundPorts", problem)

    def containers_of(
        self, items: list[ContainerModel | str], path: str, *, running: bool = True
    ) -> list[tuple[str, str, str | None]]:
        """(name, image as the pod spec says it, imageID that runs) per container.

        ``running=False`` is for templates nothing runs from (a cronjob, a workload
        without pods): their tag may be gone from the registry, as after a purge.
        """
        out: list[tuple[str, str, str | None]] = []
        used: set[str] = set()
        for index, item in enumerate(items):
            model = ContainerModel(image=item) if isinstance(item, str) else item
            resolved = self.resolve_image(
                model.image,
                by_digest=model.by_digest,
                image_id=model.image_id,
                path=f"{path}[{index}]",
                running=running,
            )
            if resolved is None:
                continue
            image, image_id, repository = resolved
            name = model.name or repository.rsplit("/", 1)[-1].replace(".", "-").replace("_", "-")
            base, n = name, 2
            while name in used:
                name, n = f"{base}-{n}", n + 1
            used.add(name)
            out.append((name, image, image_id))
        return out

    def resolve_image(
        self, image: str, *, by_digest: bool, image_id: str | None, path: str, running: bool = True
    ) -> tuple[str, str, str] | None:
        """(spec image, imageID, repository) of a container image, or None after a problem."""
        ref = parse_image_ref(image)
        if ref is None:
            self.problems.add(f"{path}.image", f"{image!r} is not an image reference")
            return None
        if image_id is not None and "@sha256:" not in image_id:
            self.problems.add(f"{path}.imageID", f"{image_id!r} is not <repository>@sha256:<digest>")
            return None
        if ref.registry_name is None:  # not one of the estate's registries (mcr.microsoft.com, ...)
            if by_digest and not ref.digest:
                self.problems.add(f"{path}.byDigest", "only images of the estate's registries can be pinned")
                return None
            running = image_id or f"{ref.host}/{ref.repository}@{ref.digest or oci.seeded_digest(image)}"
            return image, running, ref.repository
        registry = self.find_registry(ref.registry_name)
        if registry is None:
            self.problems.add(f"{path}.image", f"registry {ref.registry_name!r} is not in the estate")
            return None
        base = f"{ref.host}/{ref.repository}"
        if ref.digest:
            return image, image_id or f"{base}@{ref.digest}", ref.repository
        digest = self.resolve_ref(registry, ref)
        if digest is None:
            if (image_id is not None or not running) and not by_digest:
                return image, image_id or "", ref.repository
            self.problems.add(
                f"{path}.image", f"tag {ref.tag!r} of {registry.name}/{ref.repository} is not in the estate"
            )
            return None
        if by_digest:
            return f"{base}@{digest}", image_id or f"{base}@{digest}", ref.repository
        return image, image_id or f"{base}@{digest}", ref.repository

    # -- faults ---------------------------------------------------------------------------

    def build_faults(self) -> None:
        from sandbox.faults import parse_fault

        for index, data in enumerate(self.estate.faults):
            try:
                self.world.faults.append(parse_fault(data, path=f"faults[{index}]"))
            except ValueError as exc:
                self.problems.items.append(str(exc))


def agent_pool_of(model: AgentPoolModel, version: str, cluster_power: str) -> AgentPool:
    return AgentPool(
        name=model.name,
        mode=model.mode,
        count=model.count,
        vm_size=model.vm_size,
        enable_auto_scaling=model.enable_auto_scaling,
        min_count=model.min_count,
        max_count=model.max_count,
        max_surge=model.max_surge,
        power_state="Stopped" if cluster_power == "Stopped" else model.power_state,
        os_type=model.os_type,
        max_pods=model.max_pods,
        orchestrator_version=model.orchestrator_version or version,
    )


def snat_problem(net: NetworkProfile, pools: list[AgentPool]) -> str | None:
    """AKS's SNAT validation: ports x (maxCount + maxSurge) over all pools <= 64,000 x IPs."""
    if net.outbound_type != "loadBalancer" or not net.allocated_outbound_ports:
        return None
    nodes = sum(max_nodes(pool) for pool in pools)
    if net.allocated_outbound_ports * nodes > 64_000 * net.managed_outbound_ip_count:
        return (
            f"{net.allocated_outbound_ports} allocated outbound ports x {nodes} nodes (max count + max surge "
            f"of every pool) exceeds 64000 ports x {net.managed_outbound_ip_count} outbound IPs"
        )
    return None


def sync_pool_nodes(cluster: Cluster, pool: AgentPool, now: datetime) -> None:
    """Make the cluster's Node objects match a pool's count after a scale."""
    wanted = node_names(cluster, pool) if pool.power_state == "Running" else []
    nodes = cluster.kube.nodes
    current = [
        name for name, node in nodes.items() if node["metadata"]["labels"].get("agentpool") == pool.name
    ]
    for name in current:
        if name not in wanted:
            del nodes[name]
    factory = ObjectFactory(cluster)
    for index, name in enumerate(wanted):
        if name not in nodes:
            nodes[name] = factory.node(
                name,
                pool=pool,
                index=len(nodes) + index,
                ready=True,
                unschedulable=False,
                labels={},
                created=now,
            )


def max_nodes(pool: AgentPool) -> int:
    """Nodes a pool can reach during an upgrade: (maxCount or count) + surge."""
    top = pool.max_count if pool.enable_auto_scaling and pool.max_count else pool.count
    surge = pool.max_surge or "1"
    extra = math.ceil(top * float(surge[:-1]) / 100) if surge.endswith("%") else int(surge)
    return top + extra


def node_names(cluster: Cluster, pool: AgentPool) -> list[str]:
    """AKS node names: aks-<pool>-<8 digits>-vmss<6 base-36 digits>."""
    digits = str(int(short_hash(cluster.name + pool.name, 8).encode().hex(), 16))[:8].rjust(8, "1")
    return [f"aks-{pool.name}-{digits}-vmss{_base36(i).rjust(6, '0')}" for i in range(pool.count)]


def _base36(value: int) -> str:
    chars = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        value, rest = divmod(value, 36)
        out = chars[rest] + out
        if not value:
            return out


def add_pool_nodes(factory: ObjectFactory, cluster: Cluster, created: datetime) -> None:
    index = 0
    for pool in cluster.agent_pools.values():
        for name in node_names(cluster, pool):
            cluster.kube.nodes[name] = factory.node(
                name, pool=pool, index=index, ready=True, unschedulable=False, labels={}, created=created
            )
            index += 1


class NodePlacer:
    """Round-robin placement of pods on schedulable nodes (user pools first, as taints would)."""

    def __init__(self, cluster: Cluster) -> None:
        nodes = cluster.kube.nodes
        self.all_nodes = list(nodes)
        user = [
            name
            for name, node in nodes.items()
            if node["metadata"]["labels"].get("kubernetes.azure.com/mode") == "user"
            and not node["spec"].get("unschedulable")
        ]
        schedulable = [name for name, node in nodes.items() if not node["spec"].get("unschedulable")]
        self.targets = user or schedulable or self.all_nodes
        self._ips = {name: node["status"]["addresses"][0]["address"] for name, node in nodes.items()}
        self._next = 0

    def next(self) -> str | None:
        if not self.targets:
            return None
        name = self.targets[self._next % len(self.targets)]
        self._next += 1
        return name

    def ip_of(self, node: str | None) -> str | None:
        return self._ips.get(node) if node else None


def add_workload_pods(
    factory: ObjectFactory,
    placer: NodePlacer,
    *,
    kind: str,
    name: str,
    namespace: str,
    replicas: int,
    containers: list[tuple[str, str, str | None]],
    labels: dict[str, str],
    created: datetime,
    pending: int = 0,
    pending_message: str | None = None,
) -> int:
    """Create the pods a controller runs; returns how many are Running (ready)."""
    kube = factory.cluster.kube
    pod_labels = {"app": name, **labels}
    if kind == "DaemonSet":
        targets: list[str | None] = list(placer.all_nodes)
        owner = ("DaemonSet", name)
        names = [f"{name}-{short_hash(f'{namespace}/{name}/{node}', 5)}" for node in targets]
    elif kind == "StatefulSet":
        targets = [placer.next() for _ in range(replicas)]
        owner = ("StatefulSet", name)
        names = [f"{name}-{i}" for i in range(replicas)]
    else:
        template = short_hash(f"{namespace}/{name}/template", 10)
        replica_set = f"{name}-{template}"
        owner = ("ReplicaSet", replica_set)
        pod_labels["pod-template-hash"] = template
        targets = [placer.next() for _ in range(replicas)]
        names = [f"{replica_set}-{short_hash(f'{namespace}/{name}/{i}', 5)}" for i in range(replicas)]
    running = 0
    for i, (pod_name, node) in enumerate(zip(names, targets, strict=True)):
        is_pending = i >= len(names) - pending
        obj = factory.pod(
            pod_name,
            namespace=namespace,
            containers=containers,
            phase="Pending" if is_pending else "Running",
            reason="Unschedulable" if is_pending else None,
            message=pending_message if is_pending else None,
            node=None if is_pending else node,
            node_ip=None if is_pending else placer.ip_of(node),
            labels=pod_labels,
            owner=owner,
            created=created,
            index=len(kube.pods),
        )
        kube.pods[(namespace, pod_name)] = obj
        if is_pending:
            event = factory.scheduling_event(obj, created=created)
            kube.events[(namespace, event["metadata"]["name"])] = event
        else:
            running += 1
    return running


def _platform(text: str) -> tuple[str, str]:
    parts = text.split("/")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"{text!r} is not a platform like linux/amd64")
    return parts[0], parts[1]


def settings_to_world(settings: dict[str, Any]) -> dict[str, Any]:
    """Estate settings (validated, snake_case fields) → world.settings; limits keys to snake_case."""
    out = dict(settings)
    out["limits"] = _snake_keys(settings.get("limits") or {})
    return out


def _snake_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_to_snake(k) if k[:1].islower() else k: _snake_keys(v) for k, v in value.items()}
    return value


def _to_snake(name: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in name)
