"""Building clusters from an estate: agent pools, nodes, namespaces, workloads, pods.

Container images are resolved against the estate's registries: a tag must exist
for anything that runs (or be given its running ``imageID``), ``byDigest`` pins a
pod spec to the tag's current digest, and images of other registries pass through.

Every deployment gets its current ReplicaSet (the owner of its pods) and one scaled-to-
zero ReplicaSet per ``history`` entry: what a real cluster keeps for rollbacks. The
sandbox has no controllers, so later writes to a deployment change neither its pods nor
its ReplicaSets.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sandbox.estate import manifests as oci
from sandbox.estate.images import parse_image_ref
from sandbox.estate.kubeobjects import Controlled, ObjectFactory
from sandbox.estate.models import (
    ClusterModel,
    ContainerModel,
    CronJobModel,
    DeploymentModel,
    JobModel,
    WorkloadModel,
)
from sandbox.estate.nodes import (
    DEFAULT_NAMESPACES,
    NodePlacer,
    add_pool_nodes,
    add_workload_pods,
    agent_pool_of,
    snat_problem,
)
from sandbox.kube.autoscaler import refresh_autoscaler_status
from sandbox.world import (
    Cluster,
    NetworkProfile,
    World,
)


class ClusterBuilding:
    """The cluster half of :class:`~sandbox.estate.building.Builder`."""

    world: World
    now: datetime
    problems: Any

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
            network_plugin_mode=net.network_plugin_mode,
            nat_gateway_ip_count=net.nat_gateway_profile.managed_outbound_ip_profile.count,
        )
        cluster.snat_ports_wanted_per_node = model.snat_ports_wanted_per_node
        cluster.pods_per_new_node = model.pods_per_new_node
        if not any(pool.mode == "System" for pool in model.agent_pools):
            self.problems.add(f"{path}.agentPools", "a cluster needs at least one System pool")
        for p_index, pool in enumerate(model.agent_pools):
            if pool.name in cluster.agent_pools:
                self.problems.add(f"{path}.agentPools[{p_index}].name", f"duplicate agent pool {pool.name}")
            cluster.agent_pools[pool.name] = agent_pool_of(pool, model.kubernetes_version, model.power_state)
        self.check_snat(cluster, path)
        self.resolve_subnets(cluster, path)
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
        for group in (
            model.deployments,
            model.statefulsets,
            model.daemonsets,
            model.replicasets,
            model.replicationcontrollers,
            model.cronjobs,
            model.jobs,
            model.pods,
        ):
            for item in group:
                wanted_namespaces.setdefault(item.namespace, {})
        for ns_name, labels in wanted_namespaces.items():
            kube.namespaces[ns_name] = factory.namespace(ns_name, labels=labels, created=created)
        kube.services[("default", "kubernetes")] = factory.default_service(created=created)
        placer = NodePlacer(cluster)
        workloads: tuple[tuple[str, str, list[Any]], ...] = (
            ("Deployment", "deployments", list(model.deployments)),
            ("StatefulSet", "statefulsets", model.statefulsets),
            ("DaemonSet", "daemonsets", model.daemonsets),
            # After the deployments: a name their ReplicaSets took is a duplicate.
            ("ReplicaSet", "replicasets", model.replicasets),
            ("ReplicationController", "replicationcontrollers", model.replicationcontrollers),
        )
        for kind, group_name, items in workloads:
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
                spec = self.controlled(workload, containers)
                if workload.pods:
                    ready = add_workload_pods(
                        factory,
                        placer,
                        kind=kind,
                        name=workload.name,
                        namespace=workload.namespace,
                        replicas=workload.replicas,
                        containers=containers,
                        labels=workload.labels,
                        created=spec.created,
                    )
                    spec = replace(spec, ready=ready)
                store[key] = self.controller_object(factory, kind, workload, spec, placer)
                if isinstance(workload, DeploymentModel):
                    self.add_replica_sets(factory, workload, spec, w_path)
        for j_index, standalone in enumerate(model.jobs):
            j_path = f"{path}.jobs[{j_index}]"
            if (standalone.namespace, standalone.name) in kube.jobs:
                self.problems.add(f"{j_path}.name", f"duplicate Job {standalone.namespace}/{standalone.name}")
                continue
            containers = self.containers_of(standalone.containers, f"{j_path}.containers", running=False)
            kube.jobs[(standalone.namespace, standalone.name)] = factory.job(
                standalone.name, self.controlled(standalone, containers), suspend=standalone.suspend
            )
        for c_index, job in enumerate(model.cronjobs):
            containers = self.containers_of(
                job.containers, f"{path}.cronjobs[{c_index}].containers", running=False
            )
            kube.cronjobs[(job.namespace, job.name)] = factory.cronjob(
                job.name, self.controlled(job, containers), schedule=job.schedule, suspend=job.suspend
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
        refresh_autoscaler_status(cluster, self.now)
        self.world.clusters[cluster.name] = cluster

    def controlled(
        self,
        model: WorkloadModel | JobModel | CronJobModel,
        containers: list[tuple[str, str, str | None]],
    ) -> Controlled:
        """What a controller object is built from, as the estate gives it (no pods ready yet)."""
        return Controlled(
            namespace=model.namespace,
            containers=[(c[0], c[1]) for c in containers],
            labels=model.labels,
            created=self.created_of(model),
            replicas=model.replicas if isinstance(model, WorkloadModel) else 0,
        )

    def controller_object(
        self,
        factory: ObjectFactory,
        kind: str,
        workload: WorkloadModel,
        spec: Controlled,
        placer: NodePlacer,
    ) -> dict[str, Any]:
        """The object of a workload the estate lists by kind (its pods are made apart)."""
        if kind == "ReplicaSet":
            return factory.replica_set(workload.name, spec)
        if kind == "ReplicationController":
            return factory.replication_controller(workload.name, spec)
        revision = len(workload.history) + 1 if isinstance(workload, DeploymentModel) else 1
        return factory.workload(kind, workload.name, spec, nodes=len(placer.all_nodes), revision=revision)

    def add_replica_sets(
        self, factory: ObjectFactory, deployment: DeploymentModel, spec: Controlled, path: str
    ) -> None:
        """The deployment's current ReplicaSet and one per earlier revision (``history``)."""
        history = []
        for r_index, revision in enumerate(deployment.history):
            # Templates nothing runs now: an old revision's tag may be gone, as after a purge.
            old = self.containers_of(
                revision.containers, f"{path}.history[{r_index}].containers", running=False
            )
            history.append(([(c[0], c[1]) for c in old], self.created_of(revision, spec.created)))
        store = factory.cluster.kube.replicasets
        for obj in factory.deployment_replica_sets(deployment.name, spec, history=history):
            store[(deployment.namespace, obj["metadata"]["name"])] = obj

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
