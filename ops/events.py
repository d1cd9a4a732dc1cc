"""Typed parsing of everything that reaches the app from outside.

Two kinds of input arrive from other systems here: Event Grid deliveries (Event Grid
schema or CloudEvents 1.0, one event or a batch) and the data of ACR image events (Azure
Monitor alerts are parsed in :mod:`ops.alerts`, runbook requests in
:mod:`ops.runbooks.requests`). Triggers must
tell *bad input* (record it and acknowledge it; retrying can never help) from everything
else (raise it, so the host redelivers). So this module has one error contract: any
input it cannot accept raises :class:`ops.errors.InvalidInput` with the dotted path of
the offending field (``[2].data.target.digest``)
and what was expected. No other exception escapes a ``parse_*`` function.

Shapes follow Microsoft's documented payloads: the Event Grid Container Registry event
schema and the Event Grid webhook-validation event. Fields Azure may add later are
ignored, never rejected; fields the app relies on are validated strictly (the shared
wire models and field types are in :mod:`ops.wire`).

Only pydantic is imported, so importing this module stays cheap on a cold start.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BeforeValidator,
    Field,
)

from ops.distribution import (
    MAX_REPOSITORY_LENGTH,
    REPOSITORY_EXPECTED,
    REPOSITORY_PATTERN,
    TAG_EXPECTED,
    TAG_PATTERN,
)
from ops.errors import InvalidInput
from ops.payloads import Loc
from ops.payloads import fail as _fail
from ops.payloads import load_json as _load_json
from ops.resource_ids import parse_resource_id
from ops.wire import Count, Text, Timestamp
from ops.wire import Record as _Record
from ops.wire import Wire as _Wire
from ops.wire import empty_to_none as _empty_to_none
from ops.wire import matching as _matching
from ops.wire import validate_model as _validate

__all__ = [
    "IMAGE_DELETED",
    "IMAGE_PUSHED",
    "SUBSCRIPTION_VALIDATION",
    "Event",
    "ImageEvent",
    "ImageEventData",
    "SubscriptionValidation",
    "parse_events",
    "parse_image_event",
    "parse_subscription_validation",
]

IMAGE_PUSHED: Final = "Microsoft.ContainerRegistry.ImagePushed"
IMAGE_DELETED: Final = "Microsoft.ContainerRegistry.ImageDeleted"
SUBSCRIPTION_VALIDATION: Final = "Microsoft.EventGrid.SubscriptionValidationEvent"

# Limits on input, in UTF-8 bytes whether it arrives as bytes, text or already decoded
# (ops.payloads). Event Grid caps an event, and a delivered batch, at 1 MB and a batch at
# 5,000 events: nothing larger can come from Event Grid. The common alert schema caps an
# alert at 256 KB; that limit leaves headroom, so that a hostile body costs little to refuse.
MAX_EVENT_BODY_BYTES: Final = 1024 * 1024
MAX_BATCH_EVENTS: Final = 5000

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
