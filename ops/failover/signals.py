"""Alerts → region signals: what Service Health, Resource Health and Front Door's origin
health say about a stamp's regions.

- **Service Health** (``monitoringService: ServiceHealth``): only ``incidentType: Incident``
  counts. ``impactedServices`` is a JSON document inside a string, parsed again here:
  ``[{"ServiceName", "ImpactedRegions": [{"RegionName"}]}]``. Each impacted region of a
  stamp, for a service the stamp's write paths depend on, becomes a signal keyed by the
  incident's ``trackingId``: active while the stage is ``Active``, resolved at ``Resolved``
  (or ``RCA``, the post-incident report).
- **Resource Health** (``monitoringService: Resource Health``) on a stamp's cluster or on
  one of its registry's replications: ``Unavailable`` or ``Degraded`` is active,
  ``Available`` resolves; ``Unknown`` says nothing. A replica's health is its region's (the
  replication names its region in the policy); the registry itself names no region, since
  every replica is part of it, so its own alerts move nothing.
- **Metric alerts** on Front Door's ``OriginHealthPercentage``: the alert's ``Origin``
  dimension names the origin (by name or host), whose region is impaired while the alert
  is Fired.

Signals carry the time Azure gives (the event's timestamp), so that a duplicate or an
out-of-order delivery changes nothing (``ops.failover.machine.apply_signal``). Pure: no I/O.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ops.alerts.contexts import MetricAlertContext, ResourceHealthAlertContext, ServiceHealthAlertContext
from ops.alerts.schema import Alert
from ops.errors import InvalidInput
from ops.failover.machine import Signal
from ops.failover.policy import FailoverPolicy, normalize_region

#: Service Health service names whose incidents impair a stamp's write paths.
SERVICES = frozenset(
    {
        "container registry",
        "azure kubernetes service (aks)",
        "azure kubernetes service",
        "azure front door",
        "traffic manager",
        "app configuration",
        "azure app configuration",
    }
)
ORIGIN_HEALTH = "originhealthpercentage"
_RESOLVED_STAGES = frozenset({"resolved", "rca", "complete"})


def signals_from_alert(alert: Alert, policy: FailoverPolicy) -> tuple[list[Signal], str]:
    """The signals an alert gives about the policy's regions, and a sentence on why (not)."""
    context = alert.context
    if isinstance(context, ServiceHealthAlertContext):
        return _service_health(alert, context, policy)
    if isinstance(context, ResourceHealthAlertContext):
        return _resource_health(alert, context, policy)
    if isinstance(context, MetricAlertContext) and ORIGIN_HEALTH in {m.lower() for m in alert.metric_names}:
        return _origin_health(alert, policy)
    return [], f"ignored: a {alert.kind} alert says nothing about failover"


def _regions(policy: FailoverPolicy) -> set[str]:
    return {region for stamp in policy.stamps for region in stamp.regions}


def _when(alert: Alert, *candidates: datetime | None) -> datetime:
    for moment in candidates:
        if moment is not None:
            return moment
    return alert.essentials.fired_date_time


def parse_impacted_services(text: str | None) -> list[tuple[str, list[str]]]:
    """``impactedServices`` (a JSON string) → [(service name, [region, ...])]."""
    if not text:
        return []
    path = "data.alertContext.properties.impactedServices"
    try:
        value: Any = json.loads(text)
    except ValueError:
        raise InvalidInput(path, "a JSON document in a string", text) from None
    if not isinstance(value, list):
        raise InvalidInput(path, "a JSON list of impacted services", value)
    out: list[tuple[str, list[str]]] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("ServiceName"), str):
            raise InvalidInput(f"{path}[{index}].ServiceName", "a service name", item)
        regions = item.get("ImpactedRegions") or []
        if not isinstance(regions, list):
            raise InvalidInput(f"{path}[{index}].ImpactedRegions", "a list of regions", regions)
        names = []
        for r_index, region in enumerate(regions):
            name = region.get("RegionName") if isinstance(region, dict) else None
            if not isinstance(name, str):
                raise InvalidInput(
                    f"{path}[{index}].ImpactedRegions[{r_index}].RegionName", "a region name", region
                )
            names.append(normalize_region(name))
        out.append((item["ServiceName"], names))
    return out


def _service_health(
    alert: Alert, context: ServiceHealthAlertContext, policy: FailoverPolicy
) -> tuple[list[Signal], str]:
    props = context.properties
    if props is None or (props.incident_type or "").lower() != "incident":
        kind = props.incident_type if props is not None else None
        return [], f"ignored: Service Health {kind or 'event'} is not an incident"
    if not props.tracking_id:
        raise InvalidInput("data.alertContext.properties.trackingId", "the incident's tracking id")
    stage = (props.stage or "").lower()
    active = stage not in _RESOLVED_STAGES
    at = _when(alert, context.event_timestamp, context.submission_timestamp)
    ours = _regions(policy)
    signals: dict[str, Signal] = {}
    for service, regions in parse_impacted_services(props.impacted_services):
        if service.lower() not in SERVICES:
            continue
        for region in regions:
            if region in ours:
                signals[region] = Signal(
                    region,
                    f"servicehealth:{props.tracking_id}",
                    active,
                    at,
                    f"{props.title or 'incident'} ({service}, {props.stage})",
                )
    if not signals:
        return [], f"ignored: incident {props.tracking_id} touches no stamp's region and service"
    return list(signals.values()), f"incident {props.tracking_id} {props.stage}"


def _resource_health(
    alert: Alert, context: ResourceHealthAlertContext, policy: FailoverPolicy
) -> tuple[list[Signal], str]:
    status = ((context.properties.current_health_status if context.properties else None) or "").lower()
    if status not in ("available", "unavailable", "degraded"):
        return [], f"ignored: Resource Health status {status or 'missing'} says nothing"
    at = _when(alert, context.event_timestamp, context.submission_timestamp)
    signals = []
    for target in alert.essentials.alert_target_ids:
        for _, region in policy.region_of_resource(target):
            signals.append(
                Signal(
                    region,
                    f"resourcehealth:{target.lower()}",
                    status != "available",
                    at,
                    f"{target}: {status}",
                )
            )
    if not signals:
        return [], "ignored: the resource is no stamp's cluster or registry replica"
    unique = {(s.region, s.source): s for s in signals}
    return list(unique.values()), f"Resource Health {status}"


def _origin_health(alert: Alert, policy: FailoverPolicy) -> tuple[list[Signal], str]:
    dims = {k.lower(): v for k, v in alert.dimensions.items()}
    origin = (dims.get("origin") or "").lower()
    targets = {t.lower() for t in alert.essentials.alert_target_ids}
    active = alert.is_fired
    at = _when(alert, alert.essentials.resolved_date_time if not active else None)
    signals: dict[str, Signal] = {}
    for stamp in policy.stamps:
        front_door = stamp.traffic.front_door
        if front_door is None:
            continue
        profile = front_door.origin_group.lower().split("/origingroups/")[0]
        if profile not in targets:
            continue
        for region, name in front_door.origins.items():
            if origin and (origin == name.lower() or origin.startswith(f"{name.lower()}.")):
                signals[region] = Signal(
                    region,
                    f"metric:{alert.essentials.alert_rule}:{origin}",
                    active,
                    at,
                    f"OriginHealthPercentage on {origin} {alert.essentials.monitor_condition}",
                )
    if not signals:
        return [], "ignored: the origin is no stamp's"
    return list(signals.values()), f"origin health {alert.essentials.monitor_condition}"
