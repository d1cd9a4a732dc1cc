"""Minimal controllers, so that a workload's status never claims what did not happen.

A real cluster converges a Deployment through its ReplicaSets to pods, and the status
reports what the pods are. The sandbox does the same, synchronously, on every write to
a Deployment or StatefulSet and whenever nodes go away:

- **Deployment → ReplicaSet.** The ReplicaSet whose template equals the Deployment's
  is the current one (a new template gets a new ReplicaSet, named by a hash of the
  template, with the next revision); it is scaled to ``spec.replicas`` and every older
  one to zero, as the Recreate strategy ends. Rolling updates' intermediate steps are
  not emulated: the end state is reached at once.
- **ReplicaSet / StatefulSet → pods.** Missing pods are created from the template and
  placed round-robin on Ready, schedulable nodes (user pools first); with none they
  are Pending/Unschedulable with a ``FailedScheduling`` event. Extra pods are deleted
  (a StatefulSet's highest ordinals first).
- **Nodes removed** (a pool scaled or stopped through ARM): their pods are deleted and
  their owners reconciled, so they come back elsewhere or Pending.
- **Status** is computed from the pods: replicas, ready, available, updated, as the
  apiserver reports them (zero counts omitted), with ``observedGeneration``.

DaemonSets, Jobs and CronJobs are not controlled: writes to them change the spec only,
and their status is left as it was (never claimed to converge).
"""

from __future__ import annotations

import copy
import json
from datetime import datetime
from typing import Any

from sandbox.estate.kubeobjects import REVISION, ObjectFactory, kube_time, short_hash
from sandbox.estate.nodes import NodePlacer
from sandbox.world import Cluster

_HASH_LABEL = "pod-template-hash"


def _uid(obj: dict[str, Any]) -> str:
    return str(obj["metadata"].get("uid", ""))


def _owned(store: dict[Any, dict[str, Any]], owner: dict[str, Any]) -> dict[Any, dict[str, Any]]:
    uid = _uid(owner)
    return {
        key: obj
        for key, obj in store.items()
        if any(ref.get("uid") == uid for ref in obj["metadata"].get("ownerReferences", []))
    }


def _bump(cluster: Cluster, obj: dict[str, Any]) -> None:
    cluster.kube.resource_version += 1
    obj["metadata"]["resourceVersion"] = str(cluster.kube.resource_version)


def _template_without_hash(template: dict[str, Any]) -> str:
    clean = copy.deepcopy(template)
    clean.get("metadata", {}).get("labels", {}).pop(_HASH_LABEL, None)
    return json.dumps(clean, sort_keys=True)


def _set_counts(status: dict[str, Any], counts: dict[str, int]) -> None:
    for name, value in counts.items():
        if value:
            status[name] = value
        else:
            status.pop(name, None)  # the apiserver omits zero counts


def _is_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions", [])
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _containers(template: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [
        (c.get("name", "app"), c.get("image", ""), None)
        for c in template.get("spec", {}).get("containers", [])
    ]


class _PodMaker:
    """Creates pods for one reconcile, sharing one placement over the current nodes."""

    def __init__(self, cluster: Cluster, now: datetime) -> None:
        self.cluster = cluster
        self.now = now
        self.factory = ObjectFactory(cluster)
        ready_nodes = {
            name: node
            for name, node in cluster.kube.nodes.items()
            if not node["spec"].get("unschedulable")
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in node.get("status", {}).get("conditions", [])
            )
        }
        self.placer = NodePlacer(cluster)
        self.placer.targets = [t for t in self.placer.targets if t in ready_nodes]

    def make(self, owner: dict[str, Any], owner_kind: str, name: str) -> None:
        kube = self.cluster.kube
        namespace = owner["metadata"]["namespace"]
        template = owner.get("spec", {}).get("template", {})
        node = self.placer.next()
        pod = self.factory.pod(
            name,
            namespace=namespace,
            containers=_containers(template),
            phase="Running" if node else "Pending",
            reason=None if node else "Unschedulable",
            message=None if node else f"0/{len(kube.nodes)} nodes are available.",
            node=node,
            node_ip=self.placer.ip_of(node),
            labels=dict(template.get("metadata", {}).get("labels", {})),
            owner=(owner_kind, owner["metadata"]["name"]),
            created=self.now,
            index=len(kube.pods),
        )
        pod["metadata"]["ownerReferences"][0]["uid"] = _uid(owner)
        kube.pods[(namespace, name)] = pod
        if node is None:
            event = self.factory.scheduling_event(pod, created=self.now)
            kube.events[(namespace, event["metadata"]["name"])] = event


def _reconcile_replica_set(cluster: Cluster, rs: dict[str, Any], maker: _PodMaker) -> None:
    kube = cluster.kube
    name, namespace = rs["metadata"]["name"], rs["metadata"]["namespace"]
    wanted = int(rs.get("spec", {}).get("replicas", 1))
    pods = _owned(kube.pods, rs)
    keys = sorted(pods, key=lambda k: (pods[k]["metadata"].get("creationTimestamp", ""), k[1]))
    for key in reversed(keys[wanted:]):
        del kube.pods[key]
    serial = 0
    while len(_owned(kube.pods, rs)) < wanted:
        pod_name = f"{name}-{short_hash(f'{namespace}/{name}/{maker.now.isoformat()}/{serial}', 5)}"
        serial += 1
        if (namespace, pod_name) not in kube.pods:
            maker.make(rs, "ReplicaSet", pod_name)
    pods = _owned(kube.pods, rs)
    ready = sum(1 for p in pods.values() if _is_ready(p))
    status = rs.setdefault("status", {})
    status["replicas"] = len(pods)
    _set_counts(
        status, {"fullyLabeledReplicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}
    )
    status["observedGeneration"] = rs["metadata"].get("generation", 1)
    _bump(cluster, rs)


def _current_replica_set(cluster: Cluster, deployment: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The deployment's ReplicaSet for its current template, made if there is none."""
    kube = cluster.kube
    template = deployment.get("spec", {}).get("template", {})
    wanted = _template_without_hash(template)
    owned = _owned(kube.replicasets, deployment)
    for rs in owned.values():
        if _template_without_hash(rs.get("spec", {}).get("template", {})) == wanted:
            return rs
    namespace, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    pod_hash = short_hash(wanted, 10)
    revision = 1 + max(
        (int(rs["metadata"].get("annotations", {}).get(REVISION, 0)) for rs in owned.values()), default=0
    )
    new_template = copy.deepcopy(template)
    new_template.setdefault("metadata", {}).setdefault("labels", {})[_HASH_LABEL] = pod_hash
    selector = copy.deepcopy(deployment.get("spec", {}).get("selector", {"matchLabels": {"app": name}}))
    selector.setdefault("matchLabels", {})[_HASH_LABEL] = pod_hash
    factory = ObjectFactory(cluster)
    rs_name = f"{name}-{pod_hash}"
    rs = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": rs_name,
            "namespace": namespace,
            "uid": f"{_uid(deployment)[:24]}{short_hash(rs_name, 12)}",
            "resourceVersion": factory.next_version(),
            "creationTimestamp": kube_time(now),
            "generation": 1,
            "labels": dict(new_template["metadata"]["labels"]),
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [factory.owner_reference("Deployment", namespace, name)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": new_template},
        "status": {"replicas": 0},
    }
    rs["metadata"]["ownerReferences"][0]["uid"] = _uid(deployment)
    kube.replicasets[(namespace, rs_name)] = rs
    return rs


def reconcile_deployment(cluster: Cluster, deployment: dict[str, Any], now: datetime) -> None:
    """Scale the current ReplicaSet to the deployment's replicas, older ones to zero, then
    report the pods as the deployment's status."""
    maker = _PodMaker(cluster, now)
    current = _current_replica_set(cluster, deployment, now)
    wanted = int(deployment.get("spec", {}).get("replicas", 1))
    for rs in _owned(cluster.kube.replicasets, deployment).values():
        rs.setdefault("spec", {})["replicas"] = wanted if rs is current else 0
        if rs is current:
            rs["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = str(
                wanted
            )
        _reconcile_replica_set(cluster, rs, maker)
    _deployment_status(cluster, deployment, current)


def _deployment_status(cluster: Cluster, deployment: dict[str, Any], current: dict[str, Any]) -> None:
    total = ready = 0
    for rs in _owned(cluster.kube.replicasets, deployment).values():
        pods = _owned(cluster.kube.pods, rs).values()
        total += len(pods)
        ready += sum(1 for p in pods if _is_ready(p))
    updated = len(_owned(cluster.kube.pods, current))
    status = deployment.setdefault("status", {})
    _set_counts(
        status,
        {
            "replicas": total,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": total - ready,
        },
    )
    status["observedGeneration"] = deployment["metadata"].get("generation", 1)
    _bump(cluster, deployment)  # the controller's status write is a write like any other


def reconcile_stateful_set(cluster: Cluster, sts: dict[str, Any], now: datetime) -> None:
    """Pods ``<name>-0`` … ``<name>-(n-1)``: missing ones made, higher ordinals deleted."""
    kube = cluster.kube
    name, namespace = sts["metadata"]["name"], sts["metadata"]["namespace"]
    wanted = int(sts.get("spec", {}).get("replicas", 1))
    maker = _PodMaker(cluster, now)
    owned = _owned(kube.pods, sts)
    for key in owned:
        ordinal = key[1].rsplit("-", 1)[-1]
        if not ordinal.isdigit() or int(ordinal) >= wanted:
            del kube.pods[key]
    for ordinal in range(wanted):
        if (namespace, f"{name}-{ordinal}") not in kube.pods:
            maker.make(sts, "StatefulSet", f"{name}-{ordinal}")
    pods = _owned(kube.pods, sts).values()
    ready = sum(1 for p in pods if _is_ready(p))
    _set_counts(
        sts.setdefault("status", {}),
        {
            "replicas": len(pods),
            "readyReplicas": ready,
            "currentReplicas": len(pods),
            "updatedReplicas": len(pods),
            "availableReplicas": ready,
        },
    )
    sts["status"]["observedGeneration"] = sts["metadata"].get("generation", 1)
    _bump(cluster, sts)


def reconcile_workload(cluster: Cluster, plural: str, obj: dict[str, Any], now: datetime) -> None:
    """Run the controller of a written workload, if the sandbox has one for its kind."""
    if plural == "deployments":
        reconcile_deployment(cluster, obj, now)
    elif plural == "statefulsets":
        reconcile_stateful_set(cluster, obj, now)
    else:
        obj.setdefault("status", {})  # no controller: the status is left as it was


def evict_from_missing_nodes(cluster: Cluster, now: datetime) -> None:
    """Delete the pods bound to nodes that no longer exist, then reconcile their owners."""
    kube = cluster.kube
    gone = [
        key
        for key, pod in kube.pods.items()
        if pod.get("spec", {}).get("nodeName") not in (None, *kube.nodes)
    ]
    if not gone:
        return
    owners = set()
    for key in gone:
        for ref in kube.pods[key]["metadata"].get("ownerReferences", []):
            owners.add((ref.get("kind"), key[0], ref.get("name")))
        del kube.pods[key]
    kube.resource_version += 1
    for kind, namespace, name in sorted(owners):
        if kind == "ReplicaSet" and (namespace, name) in kube.replicasets:
            rs = kube.replicasets[(namespace, name)]
            parent = next(
                (
                    d
                    for d in kube.deployments.values()
                    if any(ref.get("uid") == _uid(d) for ref in rs["metadata"].get("ownerReferences", []))
                ),
                None,
            )
            if parent is not None:
                reconcile_deployment(cluster, parent, now)
            else:
                _reconcile_replica_set(cluster, rs, _PodMaker(cluster, now))
        elif kind == "StatefulSet" and (namespace, name) in kube.statefulsets:
            reconcile_stateful_set(cluster, kube.statefulsets[(namespace, name)], now)
