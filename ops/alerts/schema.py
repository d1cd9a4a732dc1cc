"""The common alert schema's envelope: ``schemaId``, ``data.essentials``, ``data.alertContext``
and ``data.customProperties``, parsed into one :class:`Alert`.

Essentials are validated strictly: they decide routing and deduplication (``alertId`` +
``monitorCondition``). Any input :func:`parse_alert` cannot accept raises
:class:`ops.errors.InvalidInput` with the dotted path of the offending field
(``data.essentials.monitorCondition``) and what was expected; nothing else escapes it.
Shapes follow Microsoft's "Sample alert payloads" (azure-monitor-docs).
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import Field

from ops.alerts.contexts import (
    AlertContext,
    LogSearchV1AlertContext,
    LogSearchV2AlertContext,
    MetricAlertContext,
    PrometheusAlertContext,
    select_context,
)
from ops.payloads import fail, load_json
from ops.wire import Record, Text, Timestamp, Wire, validate_model

COMMON_ALERT_SCHEMA: Final = "azureMonitorCommonAlertSchema"
# The common alert schema caps an alert at 256 KB; this leaves headroom, so that a hostile
# body costs little to refuse (ops.payloads counts UTF-8 bytes however it arrives).
MAX_ALERT_BODY_BYTES: Final = 1024 * 1024

Severity = Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
MonitorCondition = Literal["Fired", "Resolved"]


class AlertEssentials(Wire):
    """The common alert schema's ``essentials``: the same for every alert type."""

    alert_id: Text
    alert_rule: Text
    severity: Severity
    signal_type: Text
    monitor_condition: MonitorCondition
    monitoring_service: Text
    alert_target_ids: tuple[str, ...] = Field(alias="alertTargetIDs")
    configuration_items: tuple[str, ...] = ()
    origin_alert_id: str | None = None
    fired_date_time: Timestamp
    resolved_date_time: Timestamp | None = None
    description: str | None = None
    essentials_version: Text
    alert_context_version: Text


class _AlertData(Wire):
    essentials: AlertEssentials
    alert_context: dict[str, Any]
    custom_properties: dict[str, Any] | None = None


class _AlertPayload(Wire):
    schema_id: Literal["azureMonitorCommonAlertSchema"]
    data: _AlertData


class Alert(Record):
    """An action-group notification in the common alert schema.

    ``context`` is a typed model for known alert types, else the raw ``alertContext``.
    """

    essentials: AlertEssentials
    context: AlertContext | dict[str, Any]
    custom_properties: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """``metric``, ``prometheus``, ``log_search_v1``, ``log_search_v2``, ``activity_log[.*]`` or
        ``unknown``."""
        return "unknown" if isinstance(self.context, dict) else self.context.kind

    @property
    def is_fired(self) -> bool:
        return self.essentials.monitor_condition == "Fired"

    @property
    def metric_names(self) -> tuple[str, ...]:
        """The metrics a metric alert's criteria name (``allOf[].metricName``)."""
        if isinstance(self.context, MetricAlertContext):
            return tuple(c.metric_name for c in self.context.condition.all_of)
        return ()

    @property
    def dimensions(self) -> dict[str, str]:
        """Dimension values of a metric or log search (V1, V2) alert, merged over its criteria."""
        context = self.context
        out: dict[str, str] = {}
        if isinstance(context, MetricAlertContext | LogSearchV2AlertContext):
            for criterion in context.condition.all_of:
                out.update({d.name: d.value for d in criterion.dimensions})
        elif isinstance(context, LogSearchV1AlertContext):
            out.update({d.name: d.value for d in context.dimensions})
        return out

    @property
    def labels(self) -> dict[str, str]:
        """A Prometheus alert's series labels (``cluster``, ``namespace``, ...)."""
        return dict(self.context.labels) if isinstance(self.context, PrometheusAlertContext) else {}


def parse_alert(body: bytes | str | dict[str, Any]) -> Alert:
    """Parse a common-alert-schema webhook body. Essentials are validated strictly."""
    value = load_json(body, limit=MAX_ALERT_BODY_BYTES)
    if not isinstance(value, dict):
        fail((), "an alert object", value)
    payload = validate_model(_AlertPayload, value)
    raw_context = payload.data.alert_context
    model = select_context(
        payload.data.essentials.signal_type, payload.data.essentials.monitoring_service, raw_context
    )
    context: AlertContext | dict[str, Any] = (
        raw_context if model is None else validate_model(model, raw_context, ("data", "alertContext"))
    )
    return Alert(
        essentials=payload.data.essentials,
        context=context,
        custom_properties=payload.data.custom_properties,
    )
