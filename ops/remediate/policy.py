"""The remediation policy (``OPS_REMEDIATE_POLICY``): what may change, by how much, how often.

A policy is YAML with one root key, ``remediate``; it is read from a file or inline YAML
and validated in full when loaded, every problem named by its field path
(``remediate.snat.maxOutboundIPs: Input should be less than or equal to 100``). The
pydantic models are the schema: ``docs/schemas/remediate-policy.schema.json`` is
generated from :class:`PolicyDocument`. :class:`RemediatePolicy` is the frozen form the
planners and the service use.

Every ceiling is the policy's, under AKS's own (100 load-balancer IPs, 16 NAT gateway
IPs, 64,000 ports, 1,000 nodes a pool): outbound IPs cost money, nodes cost more, and
the planners never go past a ceiling; they refuse with the reason instead.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ops.alerts.routing import Route, RouteModel, compile_routes
from ops.errors import ConfigError
from ops.policies import (
    DURATION_PATTERN,
    compile_regex,
    describe_validation_errors,
    parse_duration,
    parse_policy_yaml,
    publish_schema,
    read_policy_source,
    validate_with,
)

SETTING = "OPS_REMEDIATE_POLICY"

Duration = Annotated[
    str,
    validate_with(parse_duration),
    Field(json_schema_extra={"pattern": DURATION_PATTERN, "examples": ["30m", "2h"]}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConfirmModel(_Strict):
    """When the SNAT condition still holds: either signal is enough."""

    min_failed_connections: float = Field(
        1,
        ge=0,
        alias="minFailedConnections",
        description="SnatConnectionCount with ConnectionState=Failed in the last minute, at least.",
    )
    used_ratio: float = Field(
        0.9,
        gt=0,
        le=1,
        alias="usedRatio",
        description="UsedSnatPorts / AllocatedSnatPorts of the busiest backend, at least.",
    )


class SnatModel(_Strict):
    """SNAT port exhaustion: explicit ports, then more IPs, then more ports, within these ceilings."""

    confirm: ConfirmModel = Field(default_factory=lambda: ConfirmModel.model_validate({}))
    headroom: float = Field(
        1.25, ge=1, le=4, description="Ports per node are set to the demand seen times this, rounded to 8."
    )
    min_ports_per_node: int = Field(
        1024, ge=8, le=64_000, alias="minPortsPerNode", description="Never set fewer ports than this."
    )
    max_ports_per_node: int = Field(
        16_000, ge=8, le=64_000, alias="maxPortsPerNode", description="Never set more ports than this."
    )
    max_outbound_ips: int = Field(
        4, ge=1, le=100, alias="maxOutboundIPs", description="Ceiling on managed load-balancer outbound IPs."
    )
    max_nat_gateway_ips: int = Field(
        4, ge=1, le=16, alias="maxNatGatewayIPs", description="Ceiling on managed NAT gateway outbound IPs."
    )
    recommend_idle_timeout: int = Field(
        4,
        ge=4,
        le=120,
        alias="recommendIdleTimeoutMinutes",
        description="The idle timeout a plan recommends (never applied automatically).",
    )

    @model_validator(mode="after")
    def _ports_order(self) -> SnatModel:
        if self.min_ports_per_node > self.max_ports_per_node:
            raise ValueError("minPortsPerNode is larger than maxPortsPerNode")
        return self


class AutoscalerModel(_Strict):
    """A cluster autoscaler at maxCount: raise the pool's maxCount by ``step``, within budgets."""

    step: int = Field(2, ge=1, le=100, description="Nodes added to the pool's maxCount per remediation.")
    max_nodes_added_per_day: int = Field(
        20,
        ge=0,
        alias="maxNodesAddedPerDay",
        description="maxCount raised by at most this much per cluster per day.",
    )
    max_vcpus_added_per_day: int = Field(
        160, ge=0, alias="maxVcpusAddedPerDay", description="vCPUs those nodes may add per cluster per day."
    )
    max_count_ceiling: int = Field(
        100, ge=1, le=1000, alias="maxCountCeiling", description="Never raise a pool's maxCount above this."
    )
    allow_system_pools: bool = Field(
        False, alias="allowSystemPools", description="System pools are touched only when this is true."
    )
    raise_ips_with_max_count: bool = Field(
        True,
        alias="raiseIPsWithMaxCount",
        description="When more nodes would break the SNAT port budget, add outbound IPs in the same change.",
    )
    revert_after: Duration | None = Field(
        None,
        alias="revertAfter",
        description="Restore the earlier maxCount this long after the alert resolves (empty: never).",
    )


class GuardsModel(_Strict):
    cooldown: Duration = Field("30m", description="No second change to a cluster within this time.")
    max_changes_per_cluster_per_day: int = Field(
        3,
        ge=0,
        alias="maxChangesPerClusterPerDay",
        description="Changes to one cluster per UTC day, at most.",
    )
    clusters: list[Annotated[str, validate_with(compile_regex)]] = Field(
        default_factory=lambda: [".*"],
        description="Cluster names (regexes, whole name) remediation may change; others are only planned.",
    )


class RemediateRouteModel(RouteModel):
    """A route of the remediate capability: its action is ``snat`` or ``autoscaler``."""

    action: Literal["snat", "autoscaler"] = Field(description="snat or autoscaler.")


class RemediateModel(_Strict):
    routes: list[RemediateRouteModel] = Field(
        default_factory=list,
        description="Which alerts remediation acts on (ops.alerts.routing); action: snat or autoscaler.",
    )
    snat: SnatModel = Field(default_factory=lambda: SnatModel.model_validate({}))
    autoscaler: AutoscalerModel = Field(default_factory=lambda: AutoscalerModel.model_validate({}))
    guards: GuardsModel = Field(default_factory=lambda: GuardsModel.model_validate({}))


class PolicyDocument(_Strict):
    remediate: RemediateModel


@dataclass(frozen=True, slots=True)
class SnatPolicy:
    min_failed_connections: float = 1
    used_ratio: float = 0.9
    headroom: float = 1.25
    min_ports_per_node: int = 1024
    max_ports_per_node: int = 16_000
    max_outbound_ips: int = 4
    max_nat_gateway_ips: int = 4
    recommend_idle_timeout: int = 4


@dataclass(frozen=True, slots=True)
class AutoscalerPolicy:
    step: int = 2
    max_nodes_added_per_day: int = 20
    max_vcpus_added_per_day: int = 160
    max_count_ceiling: int = 100
    allow_system_pools: bool = False
    raise_ips_with_max_count: bool = True
    revert_after: timedelta | None = None


@dataclass(frozen=True, slots=True)
class Guards:
    cooldown: timedelta = timedelta(minutes=30)
    max_changes_per_cluster_per_day: int = 3
    clusters: tuple[Any, ...] = ()  # compiled RE2 patterns; empty: every cluster

    def in_scope(self, cluster_name: str) -> bool:
        return not self.clusters or any(p.fullmatch(cluster_name) for p in self.clusters)


@dataclass(frozen=True, slots=True)
class RemediatePolicy:
    routes: tuple[Route, ...] = ()
    snat: SnatPolicy = field(default_factory=SnatPolicy)
    autoscaler: AutoscalerPolicy = field(default_factory=AutoscalerPolicy)
    guards: Guards = field(default_factory=Guards)
    document: Mapping[str, Any] = field(default_factory=dict)


def load_policy(source: str | Mapping[str, Any], *, origin: str = "policy") -> RemediatePolicy:
    """Parse and validate a policy from YAML text or a mapping; ConfigError lists every problem."""
    data = parse_policy_yaml(source, origin=origin) if isinstance(source, str) else source
    return _validate(data, origin=origin)


def read_policy_setting(value: str | None) -> RemediatePolicy:
    """The policy ``OPS_REMEDIATE_POLICY`` names (a file or inline YAML); empty: the defaults.

    Every alert needs it: parsed once per process for each value (and, for a file, each
    modification time), since YAML parsing would otherwise cost more than the rest of an
    ignored alert."""
    return _read_cached(value, _file_stamp(value))


def _file_stamp(value: str | None) -> int | None:
    """The modification time of the file ``value`` names, if it names one."""
    text = (value or "").strip()
    if not text or "\n" in text:
        return None
    try:
        return Path(text).expanduser().stat().st_mtime_ns
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=16)
def _read_cached(value: str | None, stamp: int | None) -> RemediatePolicy:
    data = read_policy_source(SETTING, value)
    if data is None:
        return compile_policy(PolicyDocument(remediate=RemediateModel.model_validate({})))
    return _validate(data, origin=SETTING)


def _validate(data: Any, *, origin: str) -> RemediatePolicy:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with a 'remediate' key, got {type(data).__name__}")
    try:
        document = PolicyDocument.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_errors(exc, data, root="remediate", model=PolicyDocument)
        ) from None
    return compile_policy(document)


def compile_policy(document: PolicyDocument) -> RemediatePolicy:
    section = document.remediate
    snat, scaler, guards = section.snat, section.autoscaler, section.guards
    return RemediatePolicy(
        routes=compile_routes("remediate", section.routes),
        snat=SnatPolicy(
            min_failed_connections=snat.confirm.min_failed_connections,
            used_ratio=snat.confirm.used_ratio,
            headroom=snat.headroom,
            min_ports_per_node=snat.min_ports_per_node,
            max_ports_per_node=snat.max_ports_per_node,
            max_outbound_ips=snat.max_outbound_ips,
            max_nat_gateway_ips=snat.max_nat_gateway_ips,
            recommend_idle_timeout=snat.recommend_idle_timeout,
        ),
        autoscaler=AutoscalerPolicy(
            step=scaler.step,
            max_nodes_added_per_day=scaler.max_nodes_added_per_day,
            max_vcpus_added_per_day=scaler.max_vcpus_added_per_day,
            max_count_ceiling=scaler.max_count_ceiling,
            allow_system_pools=scaler.allow_system_pools,
            raise_ips_with_max_count=scaler.raise_ips_with_max_count,
            revert_after=parse_duration(scaler.revert_after) if scaler.revert_after else None,
        ),
        guards=Guards(
            cooldown=parse_duration(guards.cooldown),
            max_changes_per_cluster_per_day=guards.max_changes_per_cluster_per_day,
            clusters=tuple(compile_regex(p) for p in guards.clusters),
        ),
        document=document.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from the models (docs/schemas)."""
    return publish_schema(PolicyDocument, name="remediate-policy")
