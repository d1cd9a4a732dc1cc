"""Kubernetes JSON objects for the in-cluster state an estate describes in a few fields.

The sandbox's Kubernetes API serves ``KubeObjects`` dicts as they are, so they must
look like what a real AKS API server returns: metadata with uid, resourceVersion and
owner references, pod status with phase, conditions and containerStatuses
(``imageID`` is the digest that actually runs, which is what an in-use check must
compare), Azure node labels and providerIDs, and a FailedScheduling event for each
pod that is Pending as Unschedulable. Both the estate loader and the generators call
these builders; uids are derived from names, so loading the same estate twice gives
the same objects.

A deployment owns ReplicaSets, as the deployment controller leaves them: the current
one (named ``<deployment>-<pod-template-hash>``, the owner of the deployment's pods)
and, scaled to zero, one per earlier revision, whose template is what ``kubectl rollout
undo`` restores. Revisions are numbered in ``deployment.kubernetes.io/revision``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sandbox.world import AgentPool, Cluster

_KIND_API = {
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "DaemonSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "CronJob": "batch/v1",
    "Job": "batch/v1",
    "ReplicationController": "v1",
}
REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True, slots=True)
class Controlled:
    """What every controller object (workload, ReplicaSet, Job, ...) is built from."""

    namespace: str
    containers: list[tuple[str, str]]  # (name, image) of the pod template
    labels: dict[str, str]
    created: datetime
    replicas: int = 0  # Jobs and CronJobs leave replicas and ready out
    ready: int = 0  # pods ready now


@lru_cache(maxsize=4096)
def kube_time(moment: datetime) -> str:
    """Kubernetes timestamps: RFC 3339, UTC, whole seconds (cached: generated objects share times)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_uid(cluster: str, kind: str, namespace: str, name: str) -> str:
    """A UUID-shaped uid derived from the object's identity (stable across loads)."""
    h = hashlib.md5(f"{cluster}/{kind}/{namespace}/{name}".encode(), usedforsecurity=False).hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def template_hash(namespace: str, deployment: str, revision: int | None = None) -> str:
    """The ``pod-template-hash`` of a deployment's current ReplicaSet (``revision`` None) or of
    an earlier revision's; stable per input, as the controller's hash of the template is."""
    suffix = "" if revision is None else f"/{revision}"
    return short_hash(f"{namespace}/{deployment}/template{suffix}", 10)


def short_hash(text: str, length: int) -> str:
    """Kubernetes-style name suffixes (bcdfghjklmnpqrstvwxz2456789), stable per input."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    raw = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
    out = []
    for _ in range(length):
        raw, rest = divmod(raw, len(alphabet))
        out.append(alphabet[rest])
    return "".join(out)


class ObjectFactory:
    """Builds the objects of one cluster, numbering resourceVersions as it goes."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._version = cluster.kube.resource_version
        self._owner_uids: dict[tuple[str, str, str], str] = {}

    def next_version(self) -> str:
        self._version += 1
        self.cluster.kube.resource_version = self._version
        return str(self._version)

    def _metadata(
        self,
        kind: str,
        namespace: str | None,
        name: str,
        created: datetime,
        labels: dict[str, str],
        *,
        generation: int | None = None,
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "name": name,
            "uid": make_uid(self.cluster.name, kind, namespace or "", name),
            "resourceVersion": self.next_version(),
            "creationTimestamp": kube_time(created),
        }
        if namespace is not None:
            meta["namespace"] = namespace
        if labels:
            meta["labels"] = dict(labels)
        if generation is not None:
            meta["generation"] = generation
        return meta

    def namespace(self, name: str, *, labels: dict[str, str], created: datetime) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": self._metadata(
                "Namespace", None, name, created, {"kubernetes.io/metadata.name": name, **labels}
            ),
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def default_service(self, *, created: datetime) -> dict[str, Any]:
        """``default/kubernetes``: the apiserver's own Service, present in every cluster
        (AKS's default service CIDR is 10.0.0.0/16, so its ClusterIP is 10.0.0.1)."""
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": self._metadata(
                "Service",
                "default",
                "kubernetes",
                created,
                {"component": "apiserver", "provider": "kubernetes"},
            ),
            "spec": {
                "clusterIP": "10.0.0.1",
                "clusterIPs": ["10.0.0.1"],
                "internalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}],
                "sessionAffinity": "None",
                "type": "ClusterIP",
            },
            "status": {"loadBalancer": {}},
        }

    def node(
        self,
        name: str,
        *,
        pool: AgentPool,
        index: int,
        ready: bool,
        unschedulable: bool,
        labels: dict[str, str],
        created: datetime,
    ) -> dict[str, Any]:
        cluster = self.cluster
        node_rg = f"MC_{cluster.resource_group}_{cluster.name}_{cluster.location}"
        vmss = name.rsplit("-vmss", 1)[0] + "-vmss" if "-vmss" in name else f"aks-{pool.name}-vmss"
        all_labels = {
            "agentpool": pool.name,
            "kubernetes.azure.com/agentpool": pool.name,
            "kubernetes.azure.com/mode": pool.mode.lower(),
            "kubernetes.azure.com/cluster": node_rg,
            "kubernetes.io/os": pool.os_type.lower(),
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": name,
            "node.kubernetes.io/instance-type": pool.vm_size,
            "topology.kubernetes.io/region": cluster.location,
            "topology.kubernetes.io/zone": "0",
            **labels,
        }
        spec: dict[str, Any] = {
            "providerID": f"azure:///subscriptions/{cluster.subscription}/resourceGroups/{node_rg.lower()}"
            f"/providers/Microsoft.Compute/virtualMachineScaleSets/{vmss}/virtualMachines/{index}",
            "podCIDR": f"10.244.{index % 256}.0/24",
        }
        if unschedulable:
            spec["unschedulable"] = True
            spec["taints"] = [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
        stamp = kube_time(created)
        machine_id = make_uid(cluster.name, "machine", "", name).replace("-", "")
        resources = {
            "cpu": "3860m",
            "memory": "12880644Ki",
            "pods": str(pool.max_pods),
            "ephemeral-storage": "119703055367",
        }
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": self._metadata("Node", None, name, created, all_labels),
            "spec": spec,
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "reason": "KubeletReady" if ready else "KubeletNotReady",
                        "message": "kubelet is posting ready status"
                        if ready
                        else "container runtime is down",
                        "lastHeartbeatTime": stamp,
                        "lastTransitionTime": stamp,
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": f"10.224.{index // 256}.{index % 256 + 4}"},
                    {"type": "Hostname", "address": name},
                ],
                "allocatable": dict(resources),
                "capacity": dict(resources),
                "nodeInfo": {
                    "machineID": machine_id,
                    "systemUUID": make_uid(cluster.name, "system", "", name),
                    "bootID": make_uid(cluster.name, "boot", "", name),
                    "kubeletVersion": f"v{pool.orchestrator_version}",
                    "kubeProxyVersion": f"v{pool.orchestrator_version}",
                    "osImage": "Ubuntu 22.04.5 LTS",
                    "operatingSystem": pool.os_type.lower(),
                    "architecture": "amd64",
                    "containerRuntimeVersion": "containerd://1.7.25-1",
                    "kernelVersion": "5.15.0-1079-azure",
                },
            },
        }

    def pod(
        self,
        name: str,
        *,
        namespace: str,
        containers: list[tuple[str, str, str | None]],  # (name, image, imageID)
        phase: str,
        reason: str | None,
        message: str | None,
        node: str | None,
        node_ip: str | None,
        labels: dict[str, str],
        owner: tuple[str, str] | None,
        created: datetime,
        index: int,
    ) -> dict[str, Any]:
        metadata = self._metadata("Pod", namespace, name, created, labels)
        if owner is not None:
            metadata["ownerReferences"] = [self.owner_reference(owner[0], namespace, owner[1])]
        stamp = kube_time(created)
        spec = pod_spec([(c_name, image) for c_name, image, _ in containers])
        spec["serviceAccountName"] = "default"
        status: dict[str, Any] = {"phase": phase, "qosClass": "BestEffort"}
        scheduled = node is not None
        if scheduled:
            spec["nodeName"] = node
            status["hostIP"] = node_ip
            status["podIP"] = f"10.244.{(index // 250) % 256}.{index % 250 + 2}"
            status["startTime"] = stamp
        running = phase == "Running"
        conditions = [
            {
                "type": "PodScheduled",
                "status": "True" if scheduled else "False",
                "lastTransitionTime": stamp,
            }
        ]
        if not scheduled:
            conditions[0]["reason"] = reason or "Unschedulable"
            conditions[0]["message"] = message or "0/3 nodes are available: 3 Insufficient cpu."
        else:
            for kind in ("Initialized", "Ready", "ContainersReady"):
                conditions.append(
                    {
                        "type": kind,
                        "status": "True" if running or kind == "Initialized" else "False",
                        "lastTransitionTime": stamp,
                    }
                )
        if reason and scheduled:
            status["reason"] = reason
        if message and scheduled:
            status["message"] = message
        status["conditions"] = conditions
        if scheduled:
            statuses = []
            for c_name, image, image_id in containers:
                entry: dict[str, Any] = {
                    "name": c_name,
                    "image": image,
                    "imageID": image_id or "",
                    "ready": running,
                    "started": running,
                    "restartCount": 0,
                }
                if running:
                    entry["containerID"] = (
                        f"containerd://{metadata['uid'].replace('-', '')}{len(statuses):032x}"
                    )
                    entry["state"] = {"running": {"startedAt": stamp}}
                elif phase in ("Succeeded", "Failed"):
                    entry["state"] = {
                        "terminated": {
                            "exitCode": 0 if phase == "Succeeded" else 1,
                            "reason": "Completed" if phase == "Succeeded" else "Error",
                            "startedAt": stamp,
                            "finishedAt": stamp,
                        }
                    }
                else:
                    entry["state"] = {"waiting": {"reason": reason or "ContainerCreating"}}
                statuses.append(entry)
            status["containerStatuses"] = statuses
        return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec, "status": status}

    def owner_reference(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        """The controller reference an owned object carries (the owner's uid, made once)."""
        owner_key = (kind, namespace, name)
        owner_uid = self._owner_uids.get(owner_key)
        if owner_uid is None:
            owner_uid = self._owner_uids[owner_key] = make_uid(self.cluster.name, kind, namespace, name)
        return {
            "apiVersion": _KIND_API.get(kind, "v1"),
            "kind": kind,
            "name": name,
            "uid": owner_uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }

    def workload(
        self, kind: str, name: str, spec: Controlled, *, nodes: int, revision: int = 1
    ) -> dict[str, Any]:
        """A Deployment, StatefulSet or DaemonSet with its pod template and status."""
        selector = {"app": name}
        all_labels = {**selector, **spec.labels}
        body: dict[str, Any] = {
            "selector": {"matchLabels": selector},
            "template": pod_template(spec.containers, all_labels),
        }
        replicas, ready = spec.replicas, spec.ready
        if kind == "DaemonSet":
            status: dict[str, Any] = {
                "currentNumberScheduled": nodes,
                "desiredNumberScheduled": nodes,
                "numberReady": ready,
                "numberAvailable": ready,
                "updatedNumberScheduled": nodes,
                "numberMisscheduled": 0,
                "observedGeneration": 1,
            }
            body["updateStrategy"] = {"type": "RollingUpdate"}
        else:
            body["replicas"] = replicas
            status = {"observedGeneration": 1, "replicas": replicas}
            if ready:
                status.update(readyReplicas=ready, availableReplicas=ready, updatedReplicas=replicas)
            if kind == "StatefulSet":
                body["serviceName"] = name
                body["podManagementPolicy"] = "OrderedReady"
                status.update(currentReplicas=replicas, updatedReplicas=replicas)
            else:
                body["strategy"] = {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
                }
                body["revisionHistoryLimit"] = 10
        metadata = self._metadata(kind, spec.namespace, name, spec.created, all_labels, generation=1)
        if kind == "Deployment":
            metadata["annotations"] = {REVISION: str(revision)}
        return _object(kind, metadata, body, status)

    def replica_set(
        self, name: str, spec: Controlled, *, deployment: tuple[str, int, int] | None = None
    ) -> dict[str, Any]:
        """A ReplicaSet. ``deployment`` is (owner name, revision, the owner's replicas) for a
        deployment's ReplicaSet, whose name ends in its pod-template-hash; None for one of
        its own."""
        if deployment is None:
            return self._replicated("ReplicaSet", name, spec)
        owner, revision, wanted = deployment
        pod_hash = name.rsplit("-", 1)[-1]
        obj = self._replicated(
            "ReplicaSet",
            name,
            replace(spec, labels={**spec.labels, "pod-template-hash": pod_hash}),
            selector={"app": owner, "pod-template-hash": pod_hash},
        )
        obj["metadata"]["annotations"] = {
            REVISION: str(revision),
            "deployment.kubernetes.io/desired-replicas": str(wanted),
            "deployment.kubernetes.io/max-replicas": str(wanted + max(1, -(-wanted // 4))),
        }
        obj["metadata"]["ownerReferences"] = [self.owner_reference("Deployment", spec.namespace, owner)]
        return obj

    def replication_controller(self, name: str, spec: Controlled) -> dict[str, Any]:
        """A v1 ReplicationController: like a ReplicaSet, with a plain-map selector."""
        return self._replicated("ReplicationController", name, spec)

    def _replicated(
        self, kind: str, name: str, spec: Controlled, selector: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A ReplicaSet or ReplicationController: ``replicas`` pods of one template, labelled
        by ``selector`` (default ``app: <name>``), ``ready`` of them ready."""
        selector = selector or {"app": name}
        all_labels = {**selector, **spec.labels}
        metadata = self._metadata(kind, spec.namespace, name, spec.created, all_labels, generation=1)
        status: dict[str, Any] = {"replicas": spec.replicas, "observedGeneration": 1}
        if spec.replicas:
            status["fullyLabeledReplicas"] = spec.replicas
        if spec.ready:
            status.update(readyReplicas=spec.ready, availableReplicas=spec.ready)
        body = {
            "replicas": spec.replicas,
            # A ReplicationController's selector is a plain map; a ReplicaSet's a LabelSelector.
            "selector": selector if kind == "ReplicationController" else {"matchLabels": selector},
            "template": pod_template(spec.containers, all_labels),
        }
        return _object(kind, metadata, body, status)

    def job(self, name: str, spec: Controlled, *, suspend: bool) -> dict[str, Any]:
        """A standalone batch/v1 Job: complete, or suspended (created, not yet run)."""
        metadata = self._metadata("Job", spec.namespace, name, spec.created, spec.labels, generation=1)
        uid = metadata["uid"]
        pod_labels = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
            **spec.labels,
        }
        stamp = kube_time(spec.created)
        if suspend:
            status: dict[str, Any] = {}
            condition = {
                "type": "Suspended",
                "status": "True",
                "reason": "JobSuspended",
                "message": "Job suspended",
            }
        else:
            status = {"startTime": stamp, "completionTime": stamp, "succeeded": 1, "ready": 0}
            condition = {"type": "Complete", "status": "True"}
        status["conditions"] = [{**condition, "lastProbeTime": stamp, "lastTransitionTime": stamp}]
        body = {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "suspend": suspend,
            "completionMode": "NonIndexed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}},
            "template": pod_template(spec.containers, pod_labels, restart_policy="Never"),
        }
        return _object("Job", metadata, body, status)

    def cronjob(self, name: str, spec: Controlled, *, schedule: str, suspend: bool) -> dict[str, Any]:
        metadata = self._metadata("CronJob", spec.namespace, name, spec.created, spec.labels, generation=1)
        body = {
            "schedule": schedule,
            "suspend": suspend,
            "concurrencyPolicy": "Allow",
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {
                "spec": {"template": pod_template(spec.containers, spec.labels, restart_policy="OnFailure")}
            },
        }
        return _object("CronJob", metadata, body, {})

    def deployment_replica_sets(
        self,
        name: str,
        spec: Controlled,
        *,
        history: Sequence[tuple[list[tuple[str, str]], datetime]] = (),
    ) -> list[dict[str, Any]]:
        """A deployment's ReplicaSets: one per earlier revision in ``history`` (oldest first,
        scaled to zero), then the current one, which owns the deployment's pods."""
        revisions = [
            (
                template_hash(spec.namespace, name, revision),
                replace(spec, containers=old, created=at, replicas=0, ready=0),
            )
            for revision, (old, at) in enumerate(history, start=1)
        ]
        revisions.append((template_hash(spec.namespace, name), spec))
        return [
            self.replica_set(f"{name}-{pod_hash}", each, deployment=(name, revision, spec.replicas))
            for revision, (pod_hash, each) in enumerate(revisions, start=1)
        ]

    def scheduling_event(self, pod: dict[str, Any], *, created: datetime) -> dict[str, Any]:
        """The FailedScheduling warning the scheduler records for an Unschedulable pod."""
        return self.pod_event(
            pod,
            reason="FailedScheduling",
            message=pod["status"]["conditions"][0].get("message", ""),
            component="default-scheduler",
            created=created,
            warning=True,
        )

    def config_map(
        self, namespace: str, name: str, data: dict[str, str], *, created: datetime
    ) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self._metadata("ConfigMap", namespace, name, created, {}),
            "data": dict(data),
        }

    def pod_event(
        self,
        pod: dict[str, Any],
        *,
        reason: str,
        message: str,
        component: str,
        created: datetime,
        warning: bool = False,
    ) -> dict[str, Any]:
        """An event about a pod from ``component``: Normal, such as the autoscaler's
        NotTriggerScaleUp, or a Warning, such as the scheduler's FailedScheduling."""
        meta = pod["metadata"]
        name = f"{meta['name']}.{short_hash(meta['uid'] + reason, 16)}"
        stamp = kube_time(created)
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": self._metadata("Event", meta["namespace"], name, created, {}),
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning" if warning else "Normal",
            "count": 1,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "source": {"component": component},
            "reportingComponent": component,
        }


def _object(
    kind: str, metadata: dict[str, Any], spec: dict[str, Any], status: dict[str, Any]
) -> dict[str, Any]:
    """A controller object as the API server returns it."""
    return {"apiVersion": _KIND_API[kind], "kind": kind, "metadata": metadata, "spec": spec, "status": status}


def pod_template(
    containers: list[tuple[str, str]], labels: dict[str, str], *, restart_policy: str = "Always"
) -> dict[str, Any]:
    """A ``spec.template``: what every workload kind runs its pods from."""
    return {"metadata": {"labels": dict(labels)}, "spec": pod_spec(containers, restart_policy=restart_policy)}


def pod_spec(containers: list[tuple[str, str]], *, restart_policy: str = "Always") -> dict[str, Any]:
    """A pod's ``spec`` as the API server defaults it; ``containers`` are (name, image)."""
    return {
        "containers": [
            {"name": c_name, "image": image, "imagePullPolicy": "IfNotPresent", "resources": {}}
            for c_name, image in containers
        ],
        "restartPolicy": restart_policy,
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    }
