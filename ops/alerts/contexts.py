"""The alert contexts of the common alert schema: one model per alert type.

``data.alertContext`` differs by alert type; :func:`select_context` picks the model from
the essentials' ``signalType`` and ``monitoringService`` and the context's
``conditionType``, as Microsoft's sample payloads show them (metric alerts, log search
alerts V1 and V2, activity-log alerts, service and resource health, and managed
Prometheus rule groups). A context of a type not listed here is kept raw by the caller:
new alert types appear without notice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_pascal

from ops.wire import Count, Number, Text, TextOrCode, TextOrObject, Timestamp, one_of
from ops.wire import Wire as _Wire


class Dimension(_Wire):
    name: str
    value: str


class FailingPeriods(_Wire):
    number_of_evaluation_periods: Count
    min_failing_periods_to_alert: Count


class MetricCriterion(_Wire):
    metric_name: Text
    metric_namespace: str | None = None
    operator: Text
    threshold: Number | None = None
    time_aggregation: Text
    dimensions: tuple[Dimension, ...] = ()
    metric_value: Number | None = None
    web_test_name: str | None = None
    alert_sensitivity: str | None = None
    failing_periods: FailingPeriods | None = None
    ignore_data_before: Timestamp | None = None


class MetricCondition(_Wire):
    window_size: Text
    all_of: tuple[MetricCriterion, ...]
    window_start_time: Timestamp | None = None
    window_end_time: Timestamp | None = None


MetricConditionType = Literal[
    "SingleResourceMultipleMetricCriteria",
    "MultipleResourceMultipleMetricCriteria",
    "DynamicThresholdCriteria",
    "WebtestLocationAvailabilityCriteria",
]


class MetricAlertContext(_Wire):
    kind: ClassVar[str] = "metric"

    properties: dict[str, Any] | None = None
    condition_type: MetricConditionType
    condition: MetricCondition


class LogSearchCriterion(_Wire):
    search_query: Text
    metric_measure_column: str | None = None
    # A string in Azure's payload, such as "['Microsoft.Compute/virtualMachines']".
    target_resource_types: str | None = None
    operator: Text
    threshold: Number | None = None
    time_aggregation: Text
    dimensions: tuple[Dimension, ...] = ()
    metric_value: Number | None = None
    failing_periods: FailingPeriods | None = None
    link_to_search_results_ui: str | None = Field(default=None, alias="linkToSearchResultsUI")
    link_to_filtered_search_results_ui: str | None = Field(
        default=None, alias="linkToFilteredSearchResultsUI"
    )
    link_to_search_results_api: str | None = Field(default=None, alias="linkToSearchResultsAPI")
    link_to_filtered_search_results_api: str | None = Field(
        default=None, alias="linkToFilteredSearchResultsAPI"
    )


class LogSearchCondition(_Wire):
    window_size: Text
    all_of: tuple[LogSearchCriterion, ...]
    window_start_time: Timestamp | None = None
    window_end_time: Timestamp | None = None


class LogSearchV2AlertContext(_Wire):
    """Log search alerts from scheduled-query rules API 2020-05-01 and later."""

    kind: ClassVar[str] = "log_search_v2"

    properties: dict[str, Any] | None = None
    condition_type: Literal["LogQueryCriteria"]
    condition: LogSearchCondition


class LogSearchV1AlertContext(BaseModel):
    """The older log alert context ("Log Alerts V1"): PascalCase keys, loose types.

    Its interval times are free text (samples show "3/22/2019 1:36:31 PM"), so they
    stay strings. ``SearchResults`` is kept raw: its tables are query-defined.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_pascal)
    kind: ClassVar[str] = "log_search_v1"

    search_query: Text
    search_interval_start_time_utc: str | None = None
    search_interval_end_time_utc: str | None = Field(default=None, alias="SearchIntervalEndtimeUtc")
    result_count: Count | None = None
    link_to_search_results: str | None = None
    link_to_filtered_search_results_ui: str | None = Field(
        default=None, alias="LinkToFilteredSearchResultsUI"
    )
    link_to_search_results_api: str | None = Field(default=None, alias="LinkToSearchResultsAPI")
    link_to_filtered_search_results_api: str | None = Field(
        default=None, alias="LinkToFilteredSearchResultsAPI"
    )
    severity_description: str | None = None
    workspace_id: str | None = None
    application_id: str | None = None
    search_interval_duration_min: TextOrCode | None = None
    search_interval_in_minutes: TextOrCode | None = None
    affected_configuration_items: tuple[str, ...] = ()
    threshold: Number | None = None
    operator: str | None = None
    dimensions: tuple[Dimension, ...] = ()
    search_results: dict[str, Any] | None = None
    included_search_results: (
        Annotated[str | bool, one_of(str, bool, expected="a string or a boolean")] | None
    ) = None
    alert_type: str | None = None


class ActivityAuthorization(_Wire):
    action: str
    scope: str


class _ActivityLogFields(_Wire):
    """Fields shared by every activity-log alert context.

    ``channels``, ``eventSource`` and ``level`` are names in most payloads but enum
    numbers in service-health ones, so both are accepted.
    """

    authorization: ActivityAuthorization | None = None
    channels: TextOrCode | None = None
    claims: TextOrObject | None = None
    caller: str | None = None
    correlation_id: str | None = None
    event_source: TextOrCode | None = None
    event_timestamp: Timestamp | None = None
    event_data_id: str | None = None
    level: TextOrCode | None = None
    operation_name: Text
    operation_id: str | None = None
    status: str | None = None
    sub_status: str | None = None
    submission_timestamp: Timestamp | None = None


class ActivityLogAlertContext(_ActivityLogFields):
    """An activity-log alert of a category without a dedicated model (policy, autoscale…)."""

    kind: ClassVar[str] = "activity_log"

    properties: dict[str, Any] | None = None


class AdministrativeAlertContext(ActivityLogAlertContext):
    kind: ClassVar[str] = "activity_log.administrative"


class ServiceHealthProperties(_Wire):
    title: str | None = None
    service: str | None = None
    region: str | None = None
    communication: str | None = None
    incident_type: str | None = None
    tracking_id: str | None = None
    impact_start_time: Timestamp | None = None
    impact_mitigation_time: Timestamp | None = None
    # A JSON document inside a string, as Azure sends it.
    impacted_services: str | None = None
    stage: str | None = None
    communication_id: str | None = None
    version: str | None = None


class ServiceHealthAlertContext(_ActivityLogFields):
    kind: ClassVar[str] = "activity_log.service_health"

    properties: ServiceHealthProperties | None = None


class ResourceHealthProperties(_Wire):
    title: str | None = None
    details: str | None = None
    current_health_status: str | None = None
    previous_health_status: str | None = None
    type: str | None = None
    cause: str | None = None


class ResourceHealthAlertContext(_ActivityLogFields):
    kind: ClassVar[str] = "activity_log.resource_health"

    properties: ResourceHealthProperties | None = None


class PrometheusAlertContext(_Wire):
    """A Prometheus rule group's alert (Azure Monitor managed Prometheus): the rule's PromQL
    ``expression``, its value, the series' ``labels`` (``cluster`` names the AKS cluster) and
    ``annotations``, and the rule group's ARM id."""

    kind: ClassVar[str] = "prometheus"

    interval: str | None = None
    expression: Text
    expression_value: str | None = None
    for_: str | None = Field(default=None, alias="for")
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    rule_group: str | None = None


AlertContext = (
    MetricAlertContext
    | PrometheusAlertContext
    | LogSearchV2AlertContext
    | LogSearchV1AlertContext
    | AdministrativeAlertContext
    | ServiceHealthAlertContext
    | ResourceHealthAlertContext
    | ActivityLogAlertContext
)
_ContextModel = type[
    MetricAlertContext
    | PrometheusAlertContext
    | LogSearchV2AlertContext
    | LogSearchV1AlertContext
    | ServiceHealthAlertContext
    | ResourceHealthAlertContext
    | ActivityLogAlertContext
]

_METRIC_CONDITIONS: Final = frozenset(get_args(MetricConditionType))
_LOG_V1_SERVICES: Final = frozenset({"Log Analytics", "Application Insights"})
_ACTIVITY_CONTEXTS: Final[Mapping[str, _ContextModel]] = {
    "Activity Log - Administrative": AdministrativeAlertContext,
    "ServiceHealth": ServiceHealthAlertContext,
    "Resource Health": ResourceHealthAlertContext,
}


def select_context(signal: str, service: str, context: Mapping[str, Any]) -> _ContextModel | None:
    """Which model holds this alert context, keyed on signal, service and condition.

    None means a context this module does not know; the caller keeps it raw.
    """
    # The context is unvalidated JSON here: its conditionType may be any JSON value.
    condition = context.get("conditionType")
    condition = condition if isinstance(condition, str) else None
    if service == "Prometheus":
        return PrometheusAlertContext
    if signal == "Metric" and condition in _METRIC_CONDITIONS:
        return MetricAlertContext
    if signal == "Log" and condition == "LogQueryCriteria":
        return LogSearchV2AlertContext
    if signal == "Log" and service in _LOG_V1_SERVICES:
        return LogSearchV1AlertContext
    if signal == "Activity Log":
        if service in _ACTIVITY_CONTEXTS:
            return _ACTIVITY_CONTEXTS[service]
        if service.startswith("Activity Log"):
            return ActivityLogAlertContext
    return None
