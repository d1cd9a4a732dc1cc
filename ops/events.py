"""Typed parsing of everything that reaches the app from outside.

Four kinds of input arrive from other systems: Event Grid deliveries (Event Grid schema
or CloudEvents 1.0, one event or a batch), the data of ACR image events, Azure Monitor
action-group webhooks (common alert schema), and manual runbook requests. Triggers must
tell *bad input* (record it and acknowledge it; retrying can never help) from everything
else (raise it, so the host redelivers). So this module has one error contract: any
input it cannot accept raises :class:`ops.errors.InvalidInput` with the dotted path of
the offending field (``[2].data.target.digest``, ``data.essentials.monitorCondition``)
and what was expected. No other exception escapes a ``parse_*`` function.

Shapes follow Microsoft's documented payloads: the Event Grid Container Registry event
schema, the Event Grid webhook-validation event, and the common alert schema with its
sample payloads. Fields Azure may add later are ignored, never rejected; fields the app
relies on are validated strictly. Alert contexts of a kind this module does not know
are kept as a raw dict, because new alert types appear without notice.

Only pydantic is imported, so importing this module stays cheap on a cold start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    AliasChoices,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationError,
)
from pydantic.alias_generators import to_camel, to_pascal
from pydantic_core import PydanticCustomError

from ops.distribution import (
    MAX_REPOSITORY_LENGTH,
    REPOSITORY_EXPECTED,
    REPOSITORY_PATTERN,
    TAG_EXPECTED,
    TAG_PATTERN,
)
from ops.errors import InvalidInput
from ops.payloads import MAX_DEPTH, Loc
from ops.payloads import fail as _fail
from ops.payloads import format_path as _format_path
from ops.payloads import load_json as _load_json
from ops.resource_ids import parse_resource_id

__all__ = [
    "IMAGE_DELETED",
    "IMAGE_PUSHED",
    "SUBSCRIPTION_VALIDATION",
    "ActivityLogAlertContext",
    "AdministrativeAlertContext",
    "Alert",
    "AlertEssentials",
    "Event",
    "ImageEvent",
    "ImageEventData",
    "LogSearchV1AlertContext",
    "LogSearchV2AlertContext",
    "MetricAlertContext",
    "ResourceHealthAlertContext",
    "RunbookRequest",
    "ServiceHealthAlertContext",
    "SubscriptionValidation",
    "parse_alert",
    "parse_events",
    "parse_image_event",
    "parse_runbook_request",
    "parse_subscription_validation",
]

IMAGE_PUSHED: Final = "Microsoft.ContainerRegistry.ImagePushed"
IMAGE_DELETED: Final = "Microsoft.ContainerRegistry.ImageDeleted"
SUBSCRIPTION_VALIDATION: Final = "Microsoft.EventGrid.SubscriptionValidationEvent"
COMMON_ALERT_SCHEMA: Final = "azureMonitorCommonAlertSchema"

# Limits on input, in UTF-8 bytes whether it arrives as bytes, text or already decoded
# (ops.payloads). Event Grid caps an event, and a delivered batch, at 1 MB and a batch at
# 5,000 events: nothing larger can come from Event Grid. The common alert schema caps an
# alert at 256 KB; that limit leaves headroom, so that a hostile body costs little to refuse.
MAX_EVENT_BODY_BYTES: Final = 1024 * 1024
MAX_ALERT_BODY_BYTES: Final = 1024 * 1024
MAX_RUNBOOK_BODY_BYTES: Final = 64 * 1024
MAX_BATCH_EVENTS: Final = 5000

ModelT = TypeVar("ModelT", bound=BaseModel)


# --------------------------------------------------------------------------- errors


# Expected-value wording for pydantic's own error types; our validators raise
# PydanticCustomError whose message already says what is expected.
_EXPECTED: Mapping[str, str] = {
    "missing": "a value (required field is missing)",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
    "tuple_type": "an array",
    "extra_forbidden": "no such field (unknown fields are rejected)",
    "datetime_type": "an ISO 8601 date-time",
    "datetime_parsing": "an ISO 8601 date-time",
    "datetime_from_date_parsing": "an ISO 8601 date-time",
}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern')}"
    if kind == "string_too_short":
        return f"a string of at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"a string of at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return "a number " + str(error["msg"]).removeprefix("Input should be ")
    return _EXPECTED.get(kind) or str(error["msg"])


def _invalid_from(error: ValidationError, prefix: Loc) -> InvalidInput:
    """The first of pydantic's errors, as InvalidInput; the rest are counted."""
    errors = error.errors(include_url=False)
    if not errors:  # pragma: no cover - pydantic always reports at least one
        return InvalidInput(_format_path(prefix), "valid input")
    first = errors[0]
    expected = _describe(first)
    others = len(errors) - 1
    if others:
        expected += f" (and {others} more problem{'s' if others > 1 else ''} in this input)"
    got = None if first["type"] == "missing" else first.get("input")
    return InvalidInput(_format_path((*prefix, *first["loc"])), expected, got)


def _validate(model: type[ModelT], value: Any, prefix: Loc = ()) -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise _invalid_from(error, prefix) from error
    except RecursionError:  # pragma: no cover - _check_json bounds depth first
        _fail(prefix, f"JSON nested at most {MAX_DEPTH} levels deep")


# ------------------------------------------------------------------- field types


def _custom(kind: str, expected: str) -> PydanticCustomError:
    return PydanticCustomError(kind, expected)


_ISO_DATE_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}")


def _require_iso_text(value: Any) -> Any:
    # pydantic would read 1234567890 (or "1234567890") as a Unix time; Azure never sends one.
    if not isinstance(value, str) or not _ISO_DATE_PREFIX.match(value):
        raise _custom("datetime_type", "an ISO 8601 date-time string")
    return value


def _assume_utc(value: datetime) -> datetime:
    # Some Azure samples omit the offset (firedDateTime of service-health alerts); the
    # documentation states these times are UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise _custom("float_type", "a number")
    return value


def _matching(pattern: str, expected: str, *, lower: bool = False) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        text = value.lower() if lower else value
        if not compiled.fullmatch(text):
            raise _custom("pattern", expected)
        return text

    return AfterValidator(check)


def _one_of(*types: type, expected: str) -> PlainValidator:
    """A type check for small JSON unions, without pydantic's per-member error paths."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) and bool not in types:
            raise _custom("type", expected)
        if not isinstance(value, types):
            raise _custom("type", expected)
        return value

    return PlainValidator(check)


def _empty_to_none(value: Any) -> Any:
    return None if value == "" else value


Timestamp = Annotated[datetime, BeforeValidator(_require_iso_text), AfterValidator(_assume_utc)]
Number = Annotated[float, BeforeValidator(_reject_bool), AllowInfNan(False)]
Count = Annotated[int, Strict(), Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]
TextOrCode = Annotated[str | int, _one_of(str, int, expected="a string or an integer")]
TextOrObject = Annotated[str | dict[str, Any], _one_of(str, dict, expected="a string or an object")]

Digest = Annotated[str, _matching(r"sha256:[0-9a-f]{64}", "a digest like sha256:<64 lowercase hex digits>")]
# The OCI distribution spec's repository and tag grammars (ops.distribution). Both end up
# in registry URLs, so anything else is refused here rather than escaped later.
Repository = Annotated[
    str, Field(max_length=MAX_REPOSITORY_LENGTH), _matching(REPOSITORY_PATTERN, REPOSITORY_EXPECTED)
]
Tag = Annotated[str, Field(max_length=128), _matching(TAG_PATTERN, TAG_EXPECTED)]
Host = Annotated[
    str,
    Field(max_length=260),
    _matching(
        r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?",
        "a host name, optionally with :port",
        lower=True,
    ),
]


class _Wire(BaseModel):
    """A wire shape: camelCase keys, frozen, unknown fields ignored (Azure adds fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel)


class _Record(BaseModel):
    """A normalized record built by this module: frozen, and exact."""

    model_config = ConfigDict(frozen=True, extra="forbid")


# ------------------------------------------------------------------------- events


class _EventGridEvent(_Wire):
    id: Text
    topic: str = ""
    subject: str
    event_type: Text
    event_time: Timestamp
    data: Any = None
    data_version: str = ""
    metadata_version: str | None = None


class _CloudEvent(_Wire):
    id: Text
    source: Text
    specversion: Literal["1.0"]
    type: Text
    subject: str | None = None
    time: Timestamp | None = None
    datacontenttype: str | None = None
    dataschema: str | None = None
    data: Any = None


EventSchema = Literal["eventgrid", "cloudevents"]


class Event(_Record):
    """One event, whichever schema delivered it.

    ``source`` is the Event Grid ``topic`` or the CloudEvents ``source``: for system
    events, the ARM id of the resource that raised it. ``data_version`` is set for the
    Event Grid schema and ``spec_version`` for CloudEvents.
    """

    id: Text
    type: Text
    source: str
    subject: str | None = None
    time: datetime | None = None
    data: Any = None
    data_version: str | None = None
    spec_version: str | None = None
    event_schema: EventSchema

    @property
    def is_subscription_validation(self) -> bool:
        return self.type == SUBSCRIPTION_VALIDATION


def _normalize_event(raw: Mapping[str, Any], loc: Loc) -> Event:
    # CloudEvents must carry specversion, and Event Grid events must carry eventType:
    # those keys, not guesswork over the rest, decide which schema to hold them to.
    if "specversion" in raw:
        cloud = _validate(_CloudEvent, raw, loc)
        return Event(
            id=cloud.id,
            type=cloud.type,
            source=cloud.source,
            subject=cloud.subject,
            time=cloud.time,
            data=cloud.data,
            spec_version=cloud.specversion,
            event_schema="cloudevents",
        )
    if "eventType" in raw:
        grid = _validate(_EventGridEvent, raw, loc)
        return Event(
            id=grid.id,
            type=grid.event_type,
            source=grid.topic,
            subject=grid.subject,
            time=grid.event_time,
            data=grid.data,
            data_version=grid.data_version,
            event_schema="eventgrid",
        )
    _fail(loc, "an Event Grid event (with eventType) or a CloudEvent (with specversion)")


def parse_events(body: bytes | str | list[Any] | dict[str, Any]) -> list[Event]:
    """Parse one event (a JSON object) or a batch (a JSON array), in either schema.

    The data of the event types the app acts on (ACR image pushes and deletes, the
    subscription-validation handshake) is validated here too, so that a malformed one
    fails as a whole with its path, such as ``[2].data.target.digest``.
    """
    value = _load_json(body, limit=MAX_EVENT_BODY_BYTES)
    if isinstance(value, dict):
        items: list[tuple[Any, Loc]] = [(value, ())]
    elif isinstance(value, list):
        if len(value) > MAX_BATCH_EVENTS:
            _fail((), f"a batch of at most {MAX_BATCH_EVENTS} events", f"{len(value)} events")
        items = [(item, (index,)) for index, item in enumerate(value)]
    else:
        _fail((), "an event object or an array of events", value)
    events = []
    for item, loc in items:
        if not isinstance(item, dict):
            _fail(loc, "an event object", item)
        event = _normalize_event(item, loc)
        _check_known_data(event, loc)
        events.append(event)
    return events


def _check_known_data(event: Event, loc: Loc) -> None:
    if event.type in _IMAGE_EVENT_TYPES:
        _validate(ImageEventData, event.data, (*loc, "data"))
    elif event.type == SUBSCRIPTION_VALIDATION:
        _validate(SubscriptionValidation, event.data, (*loc, "data"))


class SubscriptionValidation(_Wire):
    """The data of Event Grid's webhook-validation handshake event."""

    validation_code: Text
    validation_url: str | None = None


def parse_subscription_validation(event: Event) -> SubscriptionValidation:
    """The validation code (and manual-validation URL) of a SubscriptionValidationEvent."""
    if not isinstance(event, Event):
        _fail((), "an Event from parse_events", type(event).__name__)
    if event.type != SUBSCRIPTION_VALIDATION:
        _fail(("type",), SUBSCRIPTION_VALIDATION, event.type)
    return _validate(SubscriptionValidation, event.data, ("data",))


# ------------------------------------------------------------- ACR image events

ImageEventType = Literal[
    "Microsoft.ContainerRegistry.ImagePushed", "Microsoft.ContainerRegistry.ImageDeleted"
]
_IMAGE_EVENT_TYPES: Final = frozenset({IMAGE_PUSHED, IMAGE_DELETED})


class ImageTarget(_Wire):
    """What was pushed or deleted. A delete carries no size, and a digest push no tag."""

    media_type: Text
    size: Count | None = None
    digest: Digest
    length: Count | None = None
    repository: Repository
    tag: Annotated[Tag | None, BeforeValidator(_empty_to_none)] = None
    url: str | None = None


class ImageRequest(_Wire):
    """The registry request that raised the event; ``host`` is the login server."""

    id: str
    host: Host
    method: str
    useragent: str | None = None
    addr: str | None = None


class ImageActor(_Wire):
    name: str | None = None


class ImageSource(_Wire):
    addr: str | None = None
    instance_id: str | None = Field(default=None, alias="instanceID")


class ConnectedRegistry(_Wire):
    name: str


class ImageEventData(_Wire):
    """The ``data`` of ACR ImagePushed and ImageDeleted events."""

    id: str
    timestamp: Timestamp
    action: Text
    location: str | None = None
    target: ImageTarget
    request: ImageRequest
    actor: ImageActor | None = None
    source: ImageSource | None = None
    connected_registry: ConnectedRegistry | None = None

    @property
    def login_server(self) -> str:
        """The registry's login server, from the request's Host header (lowercased)."""
        return self.request.host


_REGISTRY_TYPE = "Microsoft.ContainerRegistry/registries"


class ImageEvent(_Record):
    """An ACR image push or delete: the envelope fields the app needs, plus typed data."""

    event_id: Text
    type: ImageEventType
    registry_id: str
    subject: str | None = None
    time: datetime | None = None
    data: ImageEventData

    @property
    def login_server(self) -> str:
        return self.data.login_server

    @property
    def registry_name(self) -> str | None:
        """The registry's resource name, from the ARM id in the topic or source."""
        try:
            return parse_resource_id(self.registry_id, of_type=_REGISTRY_TYPE).name
        except InvalidInput:
            return None

    @property
    def repository(self) -> str:
        return self.data.target.repository

    @property
    def digest(self) -> str:
        return self.data.target.digest

    @property
    def tag(self) -> str | None:
        return self.data.target.tag


def parse_image_event(event: Event) -> ImageEvent:
    """Type an ImagePushed or ImageDeleted event; any other event is invalid input here."""
    if not isinstance(event, Event):
        _fail((), "an Event from parse_events", type(event).__name__)
    if event.type not in _IMAGE_EVENT_TYPES:
        _fail(("type",), f"{IMAGE_PUSHED} or {IMAGE_DELETED}", event.type)
    data = _validate(ImageEventData, event.data, ("data",))
    kind: ImageEventType = IMAGE_PUSHED if event.type == IMAGE_PUSHED else IMAGE_DELETED
    return ImageEvent(
        event_id=event.id,
        type=kind,
        registry_id=event.source,
        subject=event.subject,
        time=event.time,
        data=data,
    )


# -------------------------------------------------------------------- alerts

Severity = Literal["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"]
MonitorCondition = Literal["Fired", "Resolved"]


class AlertEssentials(_Wire):
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
        Annotated[str | bool, _one_of(str, bool, expected="a string or a boolean")] | None
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


AlertContext = (
    MetricAlertContext
    | LogSearchV2AlertContext
    | LogSearchV1AlertContext
    | AdministrativeAlertContext
    | ServiceHealthAlertContext
    | ResourceHealthAlertContext
    | ActivityLogAlertContext
)
_ContextModel = type[
    MetricAlertContext
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


def _select_context(essentials: AlertEssentials, context: Mapping[str, Any]) -> _ContextModel | None:
    """Which model holds this alert context, keyed on signal, service and condition.

    None means a context this module does not know; the caller keeps it raw.
    """
    # The context is unvalidated JSON here: its conditionType may be any JSON value.
    condition = context.get("conditionType")
    condition = condition if isinstance(condition, str) else None
    signal = essentials.signal_type
    service = essentials.monitoring_service
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


class _AlertData(_Wire):
    essentials: AlertEssentials
    alert_context: dict[str, Any]
    custom_properties: dict[str, Any] | None = None


class _AlertPayload(_Wire):
    schema_id: Literal["azureMonitorCommonAlertSchema"]
    data: _AlertData


class Alert(_Record):
    """An action-group notification in the common alert schema.

    ``context`` is a typed model for known alert types, else the raw ``alertContext``.
    """

    essentials: AlertEssentials
    context: AlertContext | dict[str, Any]
    custom_properties: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """``metric``, ``log_search_v1``, ``log_search_v2``, ``activity_log[.*]`` or ``unknown``."""
        return "unknown" if isinstance(self.context, dict) else self.context.kind

    @property
    def is_fired(self) -> bool:
        return self.essentials.monitor_condition == "Fired"


def parse_alert(body: bytes | str | dict[str, Any]) -> Alert:
    """Parse a common-alert-schema webhook body. Essentials are validated strictly."""
    value = _load_json(body, limit=MAX_ALERT_BODY_BYTES)
    if not isinstance(value, dict):
        _fail((), "an alert object", value)
    payload = _validate(_AlertPayload, value)
    raw_context = payload.data.alert_context
    model = _select_context(payload.data.essentials, raw_context)
    context: AlertContext | dict[str, Any] = (
        raw_context if model is None else _validate(model, raw_context, ("data", "alertContext"))
    )
    return Alert(
        essentials=payload.data.essentials,
        context=context,
        custom_properties=payload.data.custom_properties,
    )


# ------------------------------------------------------------------- runbooks

MAX_RUNBOOK_PARAMS: Final = 64
MAX_PARAM_TEXT: Final = 4096
MAX_PARAM_ITEMS: Final = 256
_PARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")

Scalar = str | int | float | bool
ParamValue = Scalar | list[Scalar]
_PARAM_EXPECTED = (
    f"a string (at most {MAX_PARAM_TEXT} characters), number, boolean, "
    f"or a list of at most {MAX_PARAM_ITEMS} of those"
)


def _is_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_PARAM_TEXT
    return isinstance(value, bool | int | float)


def _check_param(value: Any) -> ParamValue:
    if _is_scalar(value):
        return value
    if isinstance(value, list) and len(value) <= MAX_PARAM_ITEMS and all(map(_is_scalar, value)):
        return list(value)
    raise _custom("param", _PARAM_EXPECTED)


def _check_params(value: dict[str, ParamValue]) -> dict[str, ParamValue]:
    if len(value) > MAX_RUNBOOK_PARAMS:
        raise _custom("params", f"at most {MAX_RUNBOOK_PARAMS} parameters")
    for key in value:
        if not _PARAM_KEY.fullmatch(key):
            raise _custom("param_name", f"parameter names like [A-Za-z_][A-Za-z0-9_.-]*, not {key!r}")
    return value


class RunbookRequest(_Record):
    """A manual runbook invocation: the route's name plus the JSON body.

    ``apply`` must be a real boolean: a destructive run never starts from "yes" or 1.
    Unknown body fields are refused, so that a typo such as ``aply`` fails loudly.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
    apply: Annotated[bool, Strict()] = False
    params: Annotated[
        dict[str, Annotated[ParamValue, PlainValidator(_check_param)]], AfterValidator(_check_params)
    ] = Field(default_factory=dict)
    reason: Annotated[str, Field(max_length=1000)] | None = None
    requested_by: Annotated[str, Field(max_length=256)] | None = Field(
        default=None, validation_alias=AliasChoices("requested_by", "requestedBy")
    )


def parse_runbook_request(name: str, body: bytes | str | dict[str, Any] | None) -> RunbookRequest:
    """Build a runbook request from the route name and the HTTP body (empty means defaults)."""
    if body is None or (isinstance(body, bytes | bytearray | str) and not body.strip()):
        value: Any = {}
    else:
        value = _load_json(body, limit=MAX_RUNBOOK_BODY_BYTES)
    if not isinstance(value, dict):
        _fail((), "a JSON object", value)
    if "name" in value and value["name"] != name:
        _fail(("name",), f"the route's runbook name {name!r}, or no name in the body", value["name"])
    return _validate(RunbookRequest, {**value, "name": name})
