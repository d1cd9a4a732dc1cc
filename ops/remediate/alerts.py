"""Remediation's side of ``alert_webhook``: from a routed alert to a :class:`Target`.

- ``snat``: the alert's target is the load balancer (or NAT gateway) in a node resource
  group: ``alertTargetIDs[0]``.
- ``autoscaler``: a Prometheus alert names the cluster in its ``cluster`` label; a log
  search or metric alert on the cluster names it in ``alertTargetIDs[0]``; a ``pool``
  custom property or label picks the pool.

A ``Fired`` alert is remediated; a ``Resolved`` one is recorded, and starts the quiet
period after which a raised maxCount is restored (``revertAfter``). Everything a target
names is verified through ARM by the service before anything is planned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ops.alerts.routing import Route
from ops.alerts.schema import Alert
from ops.errors import InvalidInput
from ops.remediate.service import RemediateService, Target


def target_of(alert: Alert, route: Route) -> Target:
    essentials = alert.essentials
    ids = essentials.alert_target_ids
    props = {k: str(v) for k, v in (alert.custom_properties or {}).items()}
    labels = alert.labels
    pool = props.get("pool") or labels.get("nodepool") or labels.get("pool")
    if route.action == "snat":
        if not ids:
            raise InvalidInput("data.essentials.alertTargetIDs", "the load balancer or NAT gateway's id")
        return Target("snat", resource_id=ids[0], source=essentials.alert_id)
    cluster = labels.get("cluster")
    if cluster:
        return Target("autoscaler", cluster_name=cluster, pool=pool, source=essentials.alert_id)
    if ids and "/managedclusters/" in ids[0].lower():
        return Target("autoscaler", resource_id=ids[0], pool=pool, source=essentials.alert_id)
    raise InvalidInput(
        "data.alertContext.labels.cluster", "a cluster label, or a managed cluster in alertTargetIDs"
    )


class RemediateAlerts:
    """The AlertHandler of the remediate capability."""

    def __init__(self, service: Callable[[], RemediateService]) -> None:
        self.service = service

    def handle_alert(self, alert: Alert, route: Route) -> Mapping[str, Any]:
        target = target_of(alert, route)
        service = self.service()
        if not alert.is_fired:
            return service.resolve_alert(target)
        return service.remediate(target).to_dict()
