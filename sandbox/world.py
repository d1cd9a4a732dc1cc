"""The sandbox's live state: what every emulated endpoint reads and changes.

An estate file (``sandbox.estate``) is loaded into a :class:`World`; the ARM, ACR,
Kubernetes, Resource Graph and identity endpoints all serve views of the same
World, so that a change made through one API (say an ACR delete) is seen through
every other (a Resource Graph query, ``ops sandbox state``). Objects are plain
mutable dataclasses with slots: a generated estate holds 100k manifests and 100k
pods, so per-object overhead matters. Everything is guarded by ``World.lock``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.failover.state import FailoverState


def resource_id(subscription: str, resource_group: str, resource_type: str, name: str) -> str:
    """An ARM resource id; ``resource_type`` is ``<provider>/<type>``."""
    return f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/{resource_type}/{name}"


@dataclass(slots=True)
class Attributes:
    """ACR changeable attributes of a manifest, tag or repository."""

    delete_enabled: bool = True
    write_enabled: bool = True
    read_enabled: bool = True
    list_enabled: bool = True

    def to_dict(self) -> dict[str, bool]:
        """ACR's ``changeableAttributes`` names (the estate format uses them too)."""
        return {
            "deleteEnabled": self.delete_enabled,
            "writeEnabled": self.write_enabled,
            "readEnabled": self.read_enabled,
            "listEnabled": self.list_enabled,
        }


@dataclass(slots=True)
class Manifest:
    """One manifest in a repository. ``content`` is the exact bytes served by /v2."""

    digest: str
    media_type: str
    content: bytes
    created: datetime
    updated: datetime
    attrs: Attributes = field(default_factory=Attributes)
    artifact_type: str | None = None
    subject: str | None = None  # digest of the manifest this one refers to
    children: list[str] = field(default_factory=list)  # index → child manifest digests
    layers: list[tuple[str, int]] = field(default_factory=list)  # (digest, size)
    config: tuple[str, int] | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    architecture: str | None = None
    os: str | None = None
    quarantine_state: str | None = None  # None, "Quarantined", "Passed", "Failed"
    quarantine_details: str | None = None
    config_media_type: str | None = None  # the config descriptor's mediaType, when known

    @property
    def size(self) -> int:
        return len(self.content) + sum(s for _, s in self.layers) + (self.config[1] if self.config else 0)


@dataclass(slots=True)
class Tag:
    name: str
    digest: str
    created: datetime
    updated: datetime
    attrs: Attributes = field(default_factory=Attributes)


@dataclass(slots=True)
class Repository:
    name: str
    created: datetime
    updated: datetime
    manifests: dict[str, Manifest] = field(default_factory=dict)
    tags: dict[str, Tag] = field(default_factory=dict)
    attrs: Attributes = field(default_factory=Attributes)
    # sandbox.acr.listing's cache of sorted orders and JSON; not state (never dumped)
    listing: Any = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Replication:
    name: str
    location: str
    region_endpoint_enabled: bool = True
    status: str = "Succeeded"  # provisioningState
    zone_redundancy: str = "Disabled"
    port: int = 0  # the regional endpoint (<registry>.<region>.geo.azurecr.io) is 127.0.0.1:<port>


@dataclass(slots=True)
class Registry:
    name: str
    subscription: str
    resource_group: str
    location: str
    sku: str = "Premium"
    quarantine_enabled: bool = False
    admin_user_enabled: bool = False
    data_endpoint_enabled: bool = False  # dedicated data endpoints, one per region (Premium)
    tags: dict[str, str] = field(default_factory=dict)
    replications: dict[str, Replication] = field(default_factory=dict)
    repositories: dict[str, Repository] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)  # layer/config bytes pushed for real
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    port: int = 0  # assigned by the server; login server is 127.0.0.1:<port>
    # sandbox.acr.listing's cache of the sorted catalog; not state (never dumped)
    listing: Any = field(default=None, repr=False, compare=False)

    @property
    def login_server(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def id(self) -> str:
        return resource_id(
            self.subscription, self.resource_group, "Microsoft.ContainerRegistry/registries", self.name
        )


@dataclass(slots=True)
class Finding:
    """A Defender for Containers vulnerability finding on one image digest."""

    registry: str
    repository: str
    digest: str
    cve: str
    severity: str  # Low, Medium, High, Critical
    fix_status: str = "FixAvailable"
    fixed_version: str | None = None
    status: str = "Unhealthy"  # Unhealthy, Healthy, NotApplicable
    cause: str | None = None  # e.g. "Exempt" with NotApplicable
    time_generated: datetime = field(default_factory=lambda: datetime.now(UTC))
    package: str = "openssl"
    version: str = "1.0.0"


@dataclass(slots=True)
class AgentPool:
    name: str
    mode: str = "User"  # System or User
    count: int = 3
    vm_size: str = "Standard_D4s_v5"
    enable_auto_scaling: bool = False
    min_count: int | None = None
    max_count: int | None = None
    max_surge: str | None = None
    power_state: str = "Running"  # Running or Stopped
    provisioning_state: str = "Succeeded"
    os_type: str = "Linux"
    max_pods: int = 110
    orchestrator_version: str = "1.30.5"
    vnet_subnet_id: str | None = None  # the subnet its nodes (and, with flat Azure CNI, pods) take IPs from


@dataclass(slots=True)
class NetworkProfile:
    outbound_type: str = "loadBalancer"
    network_plugin: str = "azure"
    load_balancer_sku: str = "standard"
    managed_outbound_ip_count: int = 1
    allocated_outbound_ports: int = 0
    idle_timeout_minutes: int = 30
    network_plugin_mode: str | None = None  # "overlay": pods take no subnet IPs
    nat_gateway_ip_count: int = 1  # natGatewayProfile.managedOutboundIPProfile.count (managedNATGateway)


@dataclass(slots=True)
class KubeObjects:
    """In-cluster objects as Kubernetes JSON dicts, keyed by (namespace, name)."""

    namespaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pods: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    deployments: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    statefulsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    daemonsets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    cronjobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    events: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicasets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    replicationcontrollers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    configmaps: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    services: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    horizontalpodautoscalers: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    resource_version: int = 1


@dataclass(slots=True)
class Cluster:
    name: str
    subscription: str
    resource_group: str
    location: str
    kubernetes_version: str = "1.30.5"
    tags: dict[str, str] = field(default_factory=dict)
    power_state: str = "Running"  # Running or Stopped
    provisioning_state: str = "Succeeded"  # Succeeded, Stopping, Starting, Updating, Failed
    dns_prefix: str = ""
    network: NetworkProfile = field(default_factory=NetworkProfile)
    agent_pools: dict[str, AgentPool] = field(default_factory=dict)
    kube: KubeObjects = field(default_factory=KubeObjects)
    aad_managed: bool = True
    azure_rbac: bool = True
    port: int = 0  # assigned by the server; the cluster's API server is https://127.0.0.1:<port>
    # SNAT ports each node's workloads want open at once: the source of the load balancer's
    # (or NAT gateway's) SNAT metrics, which tests and the demo change at run time.
    snat_ports_wanted_per_node: int = 0
    pods_per_new_node: int = 10  # how many Pending pods one node added by the autoscaler takes
    revision: int = 1  # bumped by every accepted write; the eTag derives from it

    @property
    def id(self) -> str:
        return resource_id(
            self.subscription, self.resource_group, "Microsoft.ContainerService/managedClusters", self.name
        )


@dataclass(slots=True)
class Subnet:
    name: str
    address_prefix: str
    other_used: int = 0  # addresses taken by things other than AKS node pools (VMs, endpoints)


@dataclass(slots=True)
class VirtualNetwork:
    name: str
    subscription: str
    resource_group: str
    location: str
    address_prefixes: list[str] = field(default_factory=list)
    subnets: dict[str, Subnet] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return resource_id(
            self.subscription, self.resource_group, "Microsoft.Network/virtualNetworks", self.name
        )


@dataclass(slots=True)
class Quota:
    """A regional Compute quota: ``name`` is a VM family (``standardDSv5Family``) or ``cores``."""

    subscription: str
    location: str
    name: str
    limit: int
    other_usage: int = 0  # vCPUs used by VMs outside the estate's clusters


@dataclass(slots=True)
class RoleAssignment:
    scope: str  # an ARM id prefix: /subscriptions/x, .../resourceGroups/y, or a resource id
    role: str  # a built-in role name, e.g. "AcrDelete", "Reader"


@dataclass(slots=True)
class Identity:
    """The app's managed identity. Empty ``roles`` means "authorize everything"."""

    client_id: str = "6f1c2a6e-0000-4000-8000-00000000a11c"
    principal_id: str = "0b5e3c1d-0000-4000-8000-00000000a11c"
    tenant_id: str = "72f988bf-0000-4000-8000-000000000001"
    roles: list[RoleAssignment] = field(default_factory=list)
    # custom role name → the actions and data actions it grants (wildcards allowed)
    custom_roles: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Subscription:
    id: str
    name: str
    resource_groups: dict[str, str] = field(default_factory=dict)  # name → location


@dataclass(slots=True)
class RequestRecord:
    service: str  # "arm", "graph", "identity", "acr:<registry>", "kube:<cluster>"
    operation: str  # a stable operation name, e.g. "manifests.list"
    method: str
    path: str
    status: int
    duration_ms: float
    at: float


@dataclass(slots=True)
class World:
    """Everything the sandbox emulates, plus its clock and logs."""

    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    registries: dict[str, Registry] = field(default_factory=dict)  # by registry name
    clusters: dict[str, Cluster] = field(default_factory=dict)  # by cluster name
    findings: list[Finding] = field(default_factory=list)
    virtual_networks: dict[str, VirtualNetwork] = field(default_factory=dict)  # by lower-case id
    quotas: list[Quota] = field(default_factory=list)
    identity: Identity = field(default_factory=Identity)
    # Other principals that call the registries (a CI signer, a scanner), each with its own
    # role assignments: empty ``roles`` grants them nothing (unlike the app's identity).
    identities: list[Identity] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # Event Grid events as ACR emits them
    published: list[dict[str, Any]] = field(default_factory=list)  # CloudEvents the app published
    requests: list[RequestRecord] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)  # e.g. lro_seconds, throttling on/off
    faults: list[Any] = field(default_factory=list)  # sandbox.faults.Fault, injected faults in order
    clock_offset: float = 0.0
    failover: FailoverState = field(default_factory=FailoverState)  # regions, Front Door, TM, App Config
    lock: threading.RLock = field(default_factory=threading.RLock)

    def now(self) -> datetime:
        """Sandbox time: wall time shifted by ``clock_offset`` (tests move it forward)."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def monotonic(self) -> float:
        return time.monotonic() + self.clock_offset

    def principal(self, principal_id: str | None) -> Identity | None:
        """The identity with this object id: the app's, or one of ``identities``; None if unknown."""
        if principal_id is None or principal_id.lower() == self.identity.principal_id.lower():
            return self.identity
        wanted = principal_id.lower()
        return next((i for i in self.identities if i.principal_id.lower() == wanted), None)

    def registry_by_port(self, port: int) -> Registry | None:
        return next((r for r in self.registries.values() if r.port == port), None)

    def cluster_by_port(self, port: int) -> Cluster | None:
        return next((c for c in self.clusters.values() if c.port == port), None)
