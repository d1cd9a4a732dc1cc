"""The declarative alert router: which capability acts on an alert, and how.

Every capability that acts on alerts contributes routes from its own policy (remediate:
``remediate.routes`` in ``OPS_REMEDIATE_POLICY``); the webhook builds one
:class:`AlertRouter` from all of them. A route names its capability, its own name, the
action the capability takes (``snat``, ``autoscaler``, ...) and what it matches. Every
condition of a match must hold; an absent condition matches anything:

- ``alertRule``: RE2, the whole rule name;
- ``signalType``, ``monitoringService``: exact (``Metric``, ``Prometheus``, ``ServiceHealth``);
- ``metricName``: one of a metric alert's criteria (case-insensitive, as Azure Monitor's);
- ``dimensions``: name → RE2 of the value, over metric and log search criteria;
- ``customProperties``: name → RE2 of the value (set on the alert rule's action);
- ``labels``: name → RE2 of a Prometheus alert's label value;
- ``expression``: RE2 searched in a Prometheus alert's PromQL expression;
- ``targetType``: the ARM type of ``alertTargetIDs[0]`` (``Microsoft.Network/loadBalancers``).

Routes are tried in order and the first that matches wins; no match is an "ignored"
alert with the reason. Route names are unique across capabilities, so a decision can
always be traced to one line of one policy. Building a router is pure; so is routing.

Adding a capability's routes::

    routes = compile_routes("failover", policy_document["failover"]["routes"])
    router = AlertRouter([*remediate_routes, *routes])
    decision = router.route(alert)   # decision.route.capability == "failover"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from ops.alerts.schema import Alert
from ops.errors import ConfigError, InvalidInput
from ops.policies import compile_regex, validate_with
from ops.resource_ids import parse_resource_id

Regex = Annotated[str, validate_with(compile_regex), Field(json_schema_extra={"format": "regex"})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class MatchModel(_Strict):
    """What an alert must show for a route to take it (every condition given must hold)."""

    alert_rule: Regex | None = Field(None, alias="alertRule", description="RE2, the whole alert rule name.")
    signal_type: str | None = Field(None, alias="signalType", description="Metric, Log, Activity Log.")
    monitoring_service: str | None = Field(
        None, alias="monitoringService", description="Platform, Prometheus, Log Alerts V2, ServiceHealth, ..."
    )
    metric_name: str | None = Field(None, alias="metricName", description="A metric of the alert's criteria.")
    dimensions: dict[str, Regex] = Field(
        default_factory=dict, description="Dimension name → RE2 of its value."
    )
    custom_properties: dict[str, Regex] = Field(
        default_factory=dict, alias="customProperties", description="Custom property → RE2 of its value."
    )
    labels: dict[str, Regex] = Field(default_factory=dict, description="Prometheus label → RE2 of its value.")
    expression: Regex | None = Field(None, description="RE2 searched in a Prometheus alert's expression.")
    target_type: str | None = Field(
        None,
        alias="targetType",
        description="ARM type of alertTargetIDs[0], e.g. Microsoft.Network/loadBalancers.",
    )


class RouteModel(_Strict):
    """One route of a capability's policy."""

    name: str = Field(min_length=1, max_length=80, description="Unique across every capability's routes.")
    match: MatchModel
    action: str = Field(min_length=1, description="What the capability does with a matching alert.")


@dataclass(frozen=True, slots=True)
class Route:
    capability: str
    name: str
    action: str
    match: MatchModel
    compiled: Mapping[str, Any]  # field → compiled RE2 (or a mapping of them)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where an alert goes: a route, or None with the reason no route took it."""

    route: Route | None
    reason: str


def compile_routes(capability: str, routes: Sequence[RouteModel | Mapping[str, Any]]) -> tuple[Route, ...]:
    """Routes of one capability, from its validated policy models (or their dumps)."""
    out = []
    for item in routes:
        model = item if isinstance(item, RouteModel) else RouteModel.model_validate(item)
        m = model.match
        compiled: dict[str, Any] = {
            "alert_rule": compile_regex(m.alert_rule) if m.alert_rule else None,
            "expression": compile_regex(m.expression) if m.expression else None,
            "dimensions": {k.lower(): compile_regex(v) for k, v in m.dimensions.items()},
            "custom_properties": {k: compile_regex(v) for k, v in m.custom_properties.items()},
            "labels": {k: compile_regex(v) for k, v in m.labels.items()},
        }
        out.append(Route(capability, model.name, model.action, m, compiled))
    return tuple(out)


class AlertRouter:
    """Routes of every capability, tried in order."""

    def __init__(self, routes: Sequence[Route]) -> None:
        seen: dict[str, str] = {}
        for route in routes:
            if route.name in seen:
                raise ConfigError(
                    f"alert route {route.name!r} is defined by {seen[route.name]} and {route.capability}; "
                    "route names must be unique"
                )
            seen[route.name] = route.capability
        self.routes = tuple(routes)

    def route(self, alert: Alert) -> Decision:
        for route in self.routes:
            if _matches(route, alert):
                return Decision(route, f"route {route.name} ({route.capability}: {route.action})")
        essentials = alert.essentials
        return Decision(
            None,
            f"ignored: no route matches alert rule {essentials.alert_rule!r} "
            f"({essentials.signal_type}, {essentials.monitoring_service}, {alert.kind})",
        )


def _matches(route: Route, alert: Alert) -> bool:
    m, c = route.match, route.compiled
    essentials = alert.essentials
    if c["alert_rule"] is not None and not c["alert_rule"].fullmatch(essentials.alert_rule):
        return False
    if m.signal_type is not None and m.signal_type != essentials.signal_type:
        return False
    if m.monitoring_service is not None and m.monitoring_service != essentials.monitoring_service:
        return False
    if m.metric_name is not None and m.metric_name.lower() not in {n.lower() for n in alert.metric_names}:
        return False
    dims = {k.lower(): v for k, v in alert.dimensions.items()}
    if any(name not in dims or not rx.fullmatch(dims[name]) for name, rx in c["dimensions"].items()):
        return False
    props = {k: str(v) for k, v in (alert.custom_properties or {}).items()}
    if any(name not in props or not rx.fullmatch(props[name]) for name, rx in c["custom_properties"].items()):
        return False
    labels = alert.labels
    if any(name not in labels or not rx.fullmatch(labels[name]) for name, rx in c["labels"].items()):
        return False
    if c["expression"] is not None:
        expression = getattr(alert.context, "expression", None)
        if not isinstance(expression, str) or not c["expression"].search(expression):
            return False
    if m.target_type is not None:
        return target_type(alert) == m.target_type.lower()
    return True


def target_type(alert: Alert) -> str | None:
    """The lower-cased ARM type (``microsoft.network/loadbalancers``) of ``alertTargetIDs[0]``."""
    ids = alert.essentials.alert_target_ids
    if not ids:
        return None
    try:
        found = parse_resource_id(ids[0], field="alertTargetIDs[0]")
    except InvalidInput:
        return None
    return (found.resource_type or "").lower() or None
