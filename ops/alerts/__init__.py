"""Azure Monitor alerts: the common alert schema, the router, and deduplication.

- :mod:`ops.alerts.schema`: the envelope (``essentials``) and :func:`parse_alert`;
- :mod:`ops.alerts.contexts`: one model per alert context (metric, log search V1/V2,
  activity log, service and resource health, Prometheus);
- :mod:`ops.alerts.routing`: the declarative router every capability adds routes to;
- :mod:`ops.alerts.dedupe`: an alert is handled once per ``alertId`` + ``monitorCondition``,
  and a ``Fired`` that arrives after its ``Resolved`` is not acted on.
"""

from ops.alerts.contexts import (
    ActivityLogAlertContext,
    AdministrativeAlertContext,
    LogSearchV1AlertContext,
    LogSearchV2AlertContext,
    MetricAlertContext,
    PrometheusAlertContext,
    ResourceHealthAlertContext,
    ServiceHealthAlertContext,
)
from ops.alerts.routing import AlertRouter, Decision, MatchModel, Route, RouteModel, compile_routes
from ops.alerts.schema import COMMON_ALERT_SCHEMA, MAX_ALERT_BODY_BYTES, Alert, AlertEssentials, parse_alert

__all__ = [
    "COMMON_ALERT_SCHEMA",
    "MAX_ALERT_BODY_BYTES",
    "ActivityLogAlertContext",
    "AdministrativeAlertContext",
    "Alert",
    "AlertEssentials",
    "AlertRouter",
    "Decision",
    "LogSearchV1AlertContext",
    "LogSearchV2AlertContext",
    "MatchModel",
    "MetricAlertContext",
    "PrometheusAlertContext",
    "ResourceHealthAlertContext",
    "Route",
    "RouteModel",
    "ServiceHealthAlertContext",
    "compile_routes",
    "parse_alert",
]
