"""The estate file's schema: pydantic models of what a YAML estate may say.

Only the file is validated with pydantic; the live state is ``sandbox.world``
dataclasses, built by ``sandbox.estate.building`` (and, for scale, by the generators,
which never create models). Keys are camelCase in the file, like ARM JSON; unknown
keys are errors, so a typo never silently means "default". docs/estate.md describes
every field.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def parse_duration(text: str) -> float:
    """Seconds in a duration like ``40d``, ``12h``, ``90m``, ``30s`` or ``2w``."""
    match = _DURATION.match(str(text))
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 40d, 12h, 90m or 30s")
    return float(match.group(1)) * _UNITS[match.group(2)]


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True
    )


Duration = Annotated[str, Field(description="a duration such as 40d, 12h, 30m")]


class Timed(Model):
    """Created/updated times: absolute (``created``) or relative to load time (``age``)."""

    age: Duration | None = None
    created: datetime | None = None
    updated_age: Duration | None = None
    updated: datetime | None = None

    @field_validator("age", "updated_age")
    @classmethod
    def _check_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("created", "updated")
    @classmethod
    def _check_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give a time zone, such as 2024-05-01T10:00:00Z")
        return value

    @model_validator(mode="after")
    def _one_of_each(self) -> Timed:
        if self.age is not None and self.created is not None:
            raise ValueError("give either age or created, not both")
        if self.updated_age is not None and self.updated is not None:
            raise ValueError("give either updatedAge or updated, not both")
        return self


class AttributesModel(Model):
    delete_enabled: bool = True
    write_enabled: bool = True
    read_enabled: bool = True
    list_enabled: bool = True


class ResourceGroupModel(Model):
    name: str = Field(min_length=1, max_length=90)
    location: str


class SubscriptionModel(Model):
    id: str = Field(pattern=r"^[0-9a-fA-F-]{36}$")
    name: str = ""
    resource_groups: list[ResourceGroupModel] = Field(default_factory=list)


class RoleAssignmentModel(Model):
    role: str
    scope: str = Field(pattern=r"^/subscriptions/[^/]+(/.*)?$")


class CustomRoleModel(Model):
    name: str
    actions: list[str] = Field(default_factory=list)
    data_actions: list[str] = Field(default_factory=list)


class IdentityModel(Model):
    client_id: str | None = None
    principal_id: str | None = None
    tenant_id: str | None = None
    roles: list[RoleAssignmentModel] = Field(default_factory=list)
    custom_roles: list[CustomRoleModel] = Field(default_factory=list)


class TagModel(Timed):
    name: str = Field(pattern=r"^[\w][\w.-]{0,127}$")
    attributes: AttributesModel | None = None


class LayerModel(Model):
    digest: str | None = None
    size: int = Field(ge=0)
    media_type: str | None = None

    @field_validator("digest")
    @classmethod
    def _check_digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.match(value):
            raise ValueError(f"{value!r} is not a digest like sha256:<64 hex>")
        return value


class ManifestModel(Timed):
    kind: Literal["image", "index", "artifact"] = "image"
    ref: str | None = None  # a local name, for subject/children/pod references
    digest: str | None = None
    media_type: str | None = None
    tags: list[str | TagModel] = Field(default_factory=list)
    platform: str | None = None  # os/arch, for images
    platforms: list[str] = Field(default_factory=list)  # index shorthand: one child image each
    children: list[str] = Field(default_factory=list)  # index: refs, tags or digests
    artifact_type: str | None = None
    subject: str | None = None  # artifact: ref, tag or digest in the same repository
    config: LayerModel | None = None
    layers: list[int | LayerModel] = Field(default_factory=list)
    annotations: dict[str, str] = Field(default_factory=dict)
    attributes: AttributesModel | None = None
    quarantine_state: Literal["Quarantined", "Passed", "Failed"] | None = None
    quarantine_details: str | None = None
    content: str | None = None  # exact manifest JSON, when the fields cannot describe it

    @field_validator("digest")
    @classmethod
    def _check_digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.match(value):
            raise ValueError(f"{value!r} is not a digest like sha256:<64 hex>")
        return value

    @field_validator("platform")
    @classmethod
    def _check_platform(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^[a-z0-9]+/[a-z0-9]+(/[a-z0-9]+)?$", value):
            raise ValueError(f"{value!r} is not a platform like linux/amd64")
        return value

    @model_validator(mode="after")
    def _check_kind(self) -> ManifestModel:
        if self.kind == "artifact" and not self.artifact_type and self.content is None:
            raise ValueError(
                "an artifact needs artifactType (for example application/vnd.cncf.notary.signature)"
            )
        if self.kind != "artifact" and (self.subject or self.artifact_type):
            raise ValueError("subject and artifactType belong to kind: artifact")
        if self.kind != "index" and (self.platforms or self.children):
            raise ValueError("platforms and children belong to kind: index")
        if self.kind == "index" and not (self.platforms or self.children) and self.content is None:
            raise ValueError("an index needs platforms or children")
        return self


class RepositoryModel(Timed):
    name: str = Field(pattern=r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")
    attributes: AttributesModel | None = None
    manifests: list[ManifestModel] = Field(default_factory=list)


class RepositoryGenerator(Model):
    repositories: int = Field(ge=1, le=100_000)
    manifests_per_repository: int = Field(ge=1, le=100_000)
    repository_prefix: str = "gen/app"
    tagged_fraction: float = Field(default=1.0, ge=0, le=1)
    # Real repositories often carry several tags per image (version, commit, build): 1.5
    # gives every other tagged manifest a second tag, so 100k manifests can hold 150k tags.
    tags_per_manifest: float = Field(default=1.0, ge=1, le=10)
    max_age: Duration = "365d"
    layers: int = Field(default=2, ge=1, le=20)

    @field_validator("max_age")
    @classmethod
    def _check_duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class ReplicationModel(Model):
    location: str
    name: str | None = None
    region_endpoint_enabled: bool = True
    status: Literal["Succeeded", "Creating", "Updating", "Deleting", "Failed"] = "Succeeded"
    zone_redundancy: Literal["Enabled", "Disabled"] = "Disabled"


class RegistryModel(Timed):
    name: str = Field(pattern=r"^[a-zA-Z0-9]{5,50}$")
    subscription: str | None = None
    resource_group: str
    location: str | None = None
    sku: Literal["Basic", "Standard", "Premium"] = "Premium"
    quarantine_enabled: bool = False
    admin_user_enabled: bool = False
    data_endpoint_enabled: bool = False
    tags: dict[str, str] = Field(default_factory=dict)
    replications: list[ReplicationModel] = Field(default_factory=list)
    repositories: list[RepositoryModel] = Field(default_factory=list)
    generate: RepositoryGenerator | None = None


class FindingModel(Model):
    image: str  # <registry>/<repository>:<tag> or <registry>/<repository>@sha256:...
    cve: str = Field(pattern=r"^[A-Za-z][\w.-]*-\d{4}-\d+$")
    severity: Literal["Low", "Medium", "High", "Critical"]
    fix_status: Literal["FixAvailable", "NoFixAvailable", "Scheduled", "WontFix", "Unknown"] = "FixAvailable"
    fixed_version: str | None = None
    status: Literal["Unhealthy", "Healthy", "NotApplicable"] = "Unhealthy"
    cause: str | None = None
    package: str = "openssl"
    version: str = "1.0.0"
    age: Duration | None = None
    time_generated: datetime | None = None

    @field_validator("age")
    @classmethod
    def _check_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


class LoadBalancerProfileModel(Model):
    managed_outbound_ips: dict[str, int] = Field(
        default_factory=lambda: {"count": 1}, alias="managedOutboundIPs"
    )
    allocated_outbound_ports: int = Field(default=0, ge=0, le=64000)
    idle_timeout_in_minutes: int = Field(default=30, ge=4, le=120)

    @field_validator("managed_outbound_ips")
    @classmethod
    def _check_ips(cls, value: dict[str, int]) -> dict[str, int]:
        if set(value) != {"count"} or not 1 <= value["count"] <= 100:
            raise ValueError("expected {count: 1..100}")
        return value

    @field_validator("allocated_outbound_ports")
    @classmethod
    def _check_ports(cls, value: int) -> int:
        if value % 8:
            raise ValueError(f"{value} is not a multiple of 8 (0 means dynamic)")
        return value


class ManagedOutboundIPProfileModel(Model):
    count: int = Field(default=1, ge=1, le=16)


class NatGatewayProfileModel(Model):
    managed_outbound_ip_profile: ManagedOutboundIPProfileModel = Field(
        default_factory=ManagedOutboundIPProfileModel, alias="managedOutboundIPProfile"
    )


class NetworkProfileModel(Model):
    outbound_type: Literal[
        "loadBalancer", "userDefinedRouting", "managedNATGateway", "userAssignedNATGateway", "none"
    ] = "loadBalancer"
    network_plugin: Literal["azure", "kubenet", "none"] = "azure"
    network_plugin_mode: Literal["overlay"] | None = None
    load_balancer_sku: Literal["standard", "basic"] = "standard"
    load_balancer_profile: LoadBalancerProfileModel = Field(default_factory=LoadBalancerProfileModel)
    nat_gateway_profile: NatGatewayProfileModel = Field(default_factory=NatGatewayProfileModel)


class AgentPoolModel(Model):
    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,11}$")
    mode: Literal["System", "User"] = "User"
    count: int = Field(default=3, ge=0, le=1000)
    vm_size: str = "Standard_D4s_v5"
    enable_auto_scaling: bool = False
    min_count: int | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=0)
    max_surge: str | None = None
    power_state: Literal["Running", "Stopped"] = "Running"
    os_type: Literal["Linux", "Windows"] = "Linux"
    max_pods: int = Field(default=110, ge=10, le=250)
    orchestrator_version: str | None = None
    # A subnet id, or "<vnet>/<subnet>" of a virtual network in the cluster's resource group.
    vnet_subnet_id: str | None = Field(default=None, alias="vnetSubnetID")

    @model_validator(mode="after")
    def _check_counts(self) -> AgentPoolModel:
        if self.mode == "System" and self.count == 0:
            raise ValueError("a System pool cannot have count 0")
        if self.enable_auto_scaling:
            if self.min_count is None or self.max_count is None:
                raise ValueError("enableAutoScaling needs minCount and maxCount")
            if not self.min_count <= self.count <= self.max_count:
                raise ValueError(f"count {self.count} is not within minCount..maxCount")
        elif self.min_count is not None or self.max_count is not None:
            raise ValueError("minCount and maxCount need enableAutoScaling: true")
        return self


class NamespaceModel(Model):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    labels: dict[str, str] = Field(default_factory=dict)


class NodeModel(Model):
    name: str
    pool: str
    ready: bool = True
    unschedulable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)


class ContainerModel(Model):
    name: str | None = None
    image: str
    by_digest: bool = False  # resolve the tag to its digest at load, as a pinned deployment would
    image_id: str | None = Field(default=None, alias="imageID")  # what actually runs, if not the tag's target


Containers = list[ContainerModel | str]


class OwnerModel(Model):
    kind: str
    name: str


class PodModel(Model):
    name: str
    namespace: str = "default"
    containers: Containers
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Unknown"] = "Running"
    reason: str | None = None  # e.g. Unschedulable
    message: str | None = None
    node: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    owner: OwnerModel | None = None
    age: Duration | None = None
    created: datetime | None = None


class WorkloadModel(Model):
    """A deployment, statefulset or daemonset and, by default, its running pods."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    namespace: str = "default"
    replicas: int = Field(default=1, ge=0)
    containers: Containers
    labels: dict[str, str] = Field(default_factory=dict)
    pods: bool = True  # create the pods the controller would run
    age: Duration | None = None
    created: datetime | None = None


class RevisionModel(Model):
    """An earlier revision of a deployment: the pod template its older ReplicaSet keeps,
    scaled to zero, which ``kubectl rollout undo`` brings back."""

    containers: Containers
    age: Duration | None = None
    created: datetime | None = None


class DeploymentModel(WorkloadModel):
    """A deployment: its current ReplicaSet is always made; ``history`` adds the ReplicaSets
    of earlier revisions, oldest first."""

    history: list[RevisionModel] = Field(default_factory=list)


class CronJobModel(Model):
    name: str
    namespace: str = "default"
    schedule: str
    suspend: bool = False
    containers: Containers
    labels: dict[str, str] = Field(default_factory=dict)
    age: Duration | None = None
    created: datetime | None = None


class JobModel(Model):
    """A standalone Job (not a cronjob's): complete, or ``suspend``ed and waiting to run."""

    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    namespace: str = "default"
    suspend: bool = False
    containers: Containers
    labels: dict[str, str] = Field(default_factory=dict)
    age: Duration | None = None
    created: datetime | None = None


class ImageSource(Model):
    registry: str
    by_digest_fraction: float = Field(default=0.5, ge=0, le=1)


class PodGenerator(Model):
    pods: int = Field(ge=1, le=1_000_000)
    namespaces: int = Field(default=10, ge=1, le=10_000)
    replicas_per_deployment: int = Field(default=10, ge=1)
    images: ImageSource | None = None
    pending_fraction: float = Field(default=0.0, ge=0, le=1)


class ClusterModel(Model):
    name: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$")
    subscription: str | None = None
    resource_group: str
    location: str | None = None
    kubernetes_version: str = "1.30.5"
    tags: dict[str, str] = Field(default_factory=dict)
    power_state: Literal["Running", "Stopped"] = "Running"
    provisioning_state: Literal["Succeeded", "Failed", "Stopping", "Starting", "Updating", "Creating"] = (
        "Succeeded"
    )
    dns_prefix: str | None = None
    aad_managed: bool = True
    azure_rbac: bool = True
    network_profile: NetworkProfileModel = Field(default_factory=NetworkProfileModel)
    agent_pools: list[AgentPoolModel] = Field(
        default_factory=lambda: [AgentPoolModel(name="system", mode="System")]
    )
    namespaces: list[str | NamespaceModel] = Field(default_factory=list)
    nodes: list[NodeModel] | None = None  # default: count nodes per pool
    deployments: list[DeploymentModel] = Field(default_factory=list)
    statefulsets: list[WorkloadModel] = Field(default_factory=list)
    daemonsets: list[WorkloadModel] = Field(default_factory=list)
    replicasets: list[WorkloadModel] = Field(default_factory=list)  # standalone, not a deployment's
    replicationcontrollers: list[WorkloadModel] = Field(default_factory=list)
    cronjobs: list[CronJobModel] = Field(default_factory=list)
    jobs: list[JobModel] = Field(default_factory=list)
    pods: list[PodModel] = Field(default_factory=list)
    generate: PodGenerator | None = None
    # SNAT ports each node's workloads want open at once; the SNAT metrics derive from it.
    snat_ports_wanted_per_node: int = Field(default=0, ge=0, le=64_000)
    pods_per_new_node: int = Field(default=10, ge=1, le=250)  # Pending pods one autoscaled node takes


class SubnetModel(Model):
    name: str = Field(pattern=r"^[\w][\w.-]{0,79}$")
    address_prefix: str
    other_used_addresses: int = Field(default=0, ge=0)

    @field_validator("address_prefix")
    @classmethod
    def _check_prefix(cls, value: str) -> str:
        import ipaddress

        try:
            ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an address prefix like 10.224.0.0/24 ({exc})") from None
        return value


class VirtualNetworkModel(Model):
    name: str = Field(pattern=r"^[\w][\w.-]{0,63}$")
    subscription: str | None = None
    resource_group: str
    location: str | None = None
    address_prefixes: list[str] = Field(min_length=1)
    subnets: list[SubnetModel] = Field(default_factory=list)


class QuotaModel(Model):
    """A regional vCPU quota: ``name`` is a family like standardDSv5Family, or cores (all families)."""

    subscription: str | None = None
    location: str
    name: str = Field(pattern=r"^(cores|standard[A-Za-z0-9]+Family)$")
    limit: int = Field(ge=0)
    other_usage: int = Field(default=0, ge=0)


class ClusterGenerator(PodGenerator):
    count: int = Field(ge=1, le=1000)
    name_prefix: str = "aks-gen-"
    subscription: str | None = None
    resource_group: str
    location: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class EstateGenerators(Model):
    clusters: ClusterGenerator | None = None


class AcrLimitModel(Model):
    reads_per_minute: int = Field(ge=1)
    writes_per_minute: int = Field(ge=1)


class BucketModel(Model):
    bucket: int = Field(ge=1)
    refill_per_second: float = Field(gt=0)


class ArmLimitsModel(Model):
    reads: BucketModel | None = None
    writes: BucketModel | None = None
    deletes: BucketModel | None = None


class GraphLimitModel(Model):
    queries: int = Field(ge=1)
    window_seconds: float = Field(gt=0)


class LimitsModel(Model):
    """Overrides of the documented throttling limits (sandbox.faults.DEFAULT_LIMITS)."""

    acr: dict[Literal["Basic", "Standard", "Premium"], AcrLimitModel] = Field(default_factory=dict)
    arm: ArmLimitsModel | None = None
    graph: GraphLimitModel | None = None


class SettingsModel(Model):
    lro_seconds: float = Field(default=3.0, ge=0, le=3600)
    throttling: bool = True
    arm_page_size: int = Field(default=100, ge=1, le=10_000)
    seed: int = 0
    request_log_limit: int = Field(default=200_000, ge=100)
    limits: LimitsModel = Field(default_factory=LimitsModel)
    # ACR behaviours no public source confirms (docs/gate.md, "How ACR treats a blocked image"):
    # the referrers API of a subject the caller may not read (readEnabled=false, or quarantined
    # to a caller without AcrQuarantineReader), and whether Defender's scanner reads a manifest
    # whose readEnabled is false. Tests run the gate's recommended mode under both answers.
    unreadable_subject_referrers: Literal["list", "refuse"] = "list"
    defender_reads_locked_manifests: bool = False


class EstateModel(Model):
    settings: SettingsModel = Field(default_factory=SettingsModel)
    subscriptions: list[SubscriptionModel] = Field(min_length=1)
    identity: IdentityModel = Field(default_factory=IdentityModel)
    identities: list[IdentityModel] = Field(default_factory=list)  # other callers: CI signers, scanners
    registries: list[RegistryModel] = Field(default_factory=list)
    findings: list[FindingModel] = Field(default_factory=list)
    clusters: list[ClusterModel] = Field(default_factory=list)
    virtual_networks: list[VirtualNetworkModel] = Field(default_factory=list)
    quotas: list[QuotaModel] = Field(default_factory=list)
    generate: EstateGenerators = Field(default_factory=EstateGenerators)
    faults: list[dict[str, Any]] = Field(default_factory=list)
    # regions, Front Door, Traffic Manager, App Configuration: sandbox.failover.estate
    failover: dict[str, Any] | None = None
