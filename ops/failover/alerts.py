"""Failover's side of ``alert_webhook``: its routes, and what it does with a routed alert.

The routes take Service Health incidents, Resource Health changes of managed clusters and of
registry replications, and metric alerts on Front Door's ``OriginHealthPercentage``; the
handler turns the alert into region signals (``ops.failover.signals``) and lets the service
move the stamps they touch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ops.alerts.routing import Route, compile_routes
from ops.alerts.schema import Alert
from ops.failover.service import FailoverService

ROUTES = compile_routes(
    "failover",
    [
        {
            "name": "failover-service-health",
            "action": "signal",
            "match": {"monitoringService": "ServiceHealth"},
        },
        {
            "name": "failover-resource-health",
            "action": "signal",
            "match": {
                "monitoringService": "Resource Health",
                "targetType": "Microsoft.ContainerService/managedClusters",
            },
        },
        {
            "name": "failover-replica-health",
            "action": "signal",
            "match": {
                "monitoringService": "Resource Health",
                "targetType": "Microsoft.ContainerRegistry/registries/replications",
            },
        },
        {
            "name": "failover-origin-health",
            "action": "signal",
            "match": {"metricName": "OriginHealthPercentage"},
        },
    ],
)


class FailoverAlerts:
    """The AlertHandler of the failover capability."""

    def __init__(self, service: Callable[[], FailoverService]) -> None:
        self.service = service

    def handle_alert(self, alert: Alert, route: Route) -> Mapping[str, Any]:
        result = self.service().handle_alert(alert)
        return {
            "reason": result.reason,
            "signals": result.signals,
            "stamps": [{"stamp": s.stamp, "decision": s.decision, "phase": s.phase} for s in result.stamps],
        }
