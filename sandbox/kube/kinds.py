"""The object kinds the sandbox API server knows, and where each lives in the World.

One table drives routing, discovery documents, list ``kind`` names and the field
selectors each kind accepts, so that adding a kind is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.world import KubeObjects

# Field labels every kind accepts (the apiserver's DefaultMetaV1FieldSelectorConversion).
_META_FIELDS = frozenset({"metadata.name", "metadata.namespace"})


@dataclass(frozen=True, slots=True)
class KubeKind:
    plural: str  # URL segment, e.g. "deployments"
    kind: str  # e.g. "Deployment"
    group: str  # "" for the core group
    version: str
    namespaced: bool
    store: str  # attribute of KubeObjects holding the objects
    field_labels: frozenset[str]
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    scalable: bool = False  # has a /scale subresource
    categories: tuple[str, ...] = ()  # "all" for what ``kubectl get all`` lists

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """The resource name the apiserver puts in messages: ``deployments.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def objects(self, kube: KubeObjects) -> dict[Any, dict[str, Any]]:
        store: dict[Any, dict[str, Any]] = getattr(kube, self.store)
        return store


_READ = ("get", "list", "watch")
_ALL = ("all",)
_WRITE = ("get", "list", "patch", "update", "watch")

NAMESPACES = KubeKind(
    "namespaces",
    "Namespace",
    "",
    "v1",
    False,
    "namespaces",
    frozenset({"metadata.name", "status.phase"}),
    _READ,
    ("ns",),
)
NODES = KubeKind(
    "nodes",
    "Node",
    "",
    "v1",
    False,
    "nodes",
    frozenset({"metadata.name", "spec.unschedulable"}),
    _READ,
    ("no",),
)
PODS = KubeKind(
    "pods",
    "Pod",
    "",
    "v1",
    True,
    "pods",
    _META_FIELDS
    | {
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    },
    _READ,
    ("po",),
    categories=_ALL,
)
EVENTS = KubeKind(
    "events",
    "Event",
    "",
    "v1",
    True,
    "events",
    _META_FIELDS
    | {
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    },
    _READ,
    ("ev",),
)
CONFIGMAPS = KubeKind("configmaps", "ConfigMap", "", "v1", True, "configmaps", _META_FIELDS, _READ, ("cm",))
DEPLOYMENTS = KubeKind(
    "deployments",
    "Deployment",
    "apps",
    "v1",
    True,
    "deployments",
    _META_FIELDS,
    _WRITE,
    ("deploy",),
    True,
    _ALL,
)
STATEFULSETS = KubeKind(
    "statefulsets",
    "StatefulSet",
    "apps",
    "v1",
    True,
    "statefulsets",
    _META_FIELDS,
    _WRITE,
    ("sts",),
    True,
    _ALL,
)
DAEMONSETS = KubeKind(
    "daemonsets",
    "DaemonSet",
    "apps",
    "v1",
    True,
    "daemonsets",
    _META_FIELDS,
    _WRITE,
    ("ds",),
    categories=_ALL,
)
CRONJOBS = KubeKind(
    "cronjobs", "CronJob", "batch", "v1", True, "cronjobs", _META_FIELDS, _WRITE, ("cj",), categories=_ALL
)
# Read-only here: the sandbox has no controllers to act on a write to them. A field
# selector the apiserver also supports on them (status.successful, status.replicas) is
# refused with its 400, never ignored.
REPLICASETS = KubeKind(
    "replicasets",
    "ReplicaSet",
    "apps",
    "v1",
    True,
    "replicasets",
    _META_FIELDS,
    _READ,
    ("rs",),
    categories=_ALL,
)
JOBS = KubeKind("jobs", "Job", "batch", "v1", True, "jobs", _META_FIELDS, _READ, categories=_ALL)
REPLICATIONCONTROLLERS = KubeKind(
    "replicationcontrollers",
    "ReplicationController",
    "",
    "v1",
    True,
    "replicationcontrollers",
    _META_FIELDS,
    _READ,
    ("rc",),
    categories=_ALL,
)
SERVICES = KubeKind(
    "services",
    "Service",
    "",
    "v1",
    True,
    "services",
    _META_FIELDS | {"spec.clusterIP", "spec.type"},
    _READ,
    ("svc",),
    categories=_ALL,
)
# Served so that discovery of the autoscaling group is complete (``kubectl api-resources``
# fails on a group version that lists nothing); the sandbox holds no autoscalers unless an
# estate declares them.
HORIZONTALPODAUTOSCALERS = KubeKind(
    "horizontalpodautoscalers",
    "HorizontalPodAutoscaler",
    "autoscaling",
    "v1",
    True,
    "horizontalpodautoscalers",
    _META_FIELDS,
    _READ,
    ("hpa",),
    categories=_ALL,
)

ALL_KINDS: tuple[KubeKind, ...] = (
    NAMESPACES,
    NODES,
    PODS,
    EVENTS,
    CONFIGMAPS,
    REPLICATIONCONTROLLERS,
    SERVICES,
    DEPLOYMENTS,
    STATEFULSETS,
    DAEMONSETS,
    REPLICASETS,
    CRONJOBS,
    JOBS,
    HORIZONTALPODAUTOSCALERS,
)
WORKLOADS: tuple[KubeKind, ...] = (DEPLOYMENTS, STATEFULSETS, DAEMONSETS, CRONJOBS)


def kinds_in(api_version: str) -> list[KubeKind]:
    """Kinds served under one group version, e.g. ``apps/v1``."""
    return [k for k in ALL_KINDS if k.api_version == api_version]
