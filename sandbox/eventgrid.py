"""An Event Grid topic: where the app publishes its CloudEvents; the sandbox records them.

The app's topic (infra/app/events.bicep) is a basic topic with the CloudEvents 1.0 input
schema and local auth disabled. azure-eventgrid's ``EventGridPublisherClient`` (basic
tier) sends ``POST <endpoint>?api-version=2018-01-01`` with ``Content-Type:
application/cloudevents-batch+json; charset=utf-8`` and a JSON array of events, and a
bearer token for ``https://eventgrid.azure.net``; a single event may also come as
``application/cloudevents+json``. Event Grid answers 200 with an empty body, 401 for a
missing or wrong token, 413 over its size limit (1 MB per event and per request), and
400 for anything that is not valid CloudEvents 1.0 (``id``, ``source``, ``type``,
``specversion`` "1.0"; ``time`` RFC 3339). Accepted events are appended to
``World.published``, each with its topic and receive time, for tests and the demo.

The route is served on the ARM port under ``/eventgrid/topics/<topic>/api/events``;
:func:`topic_endpoint` builds that URL for the env file.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.http import EVENTGRID_AUDIENCE, SandboxHTTPError, require_bearer
from sandbox.world import World

PREFIX = "/eventgrid/"
TOPIC = "ops-events"
API_VERSIONS = ("2018-01-01",)
MAX_BYTES = 1024 * 1024
_BATCH = "application/cloudevents-batch+json"
_SINGLE = "application/cloudevents+json"
_REQUIRED = ("id", "source", "type")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def topic_endpoint(arm_endpoint: str, topic: str = TOPIC) -> str:
    """The publish URL of ``topic`` on a sandbox whose ARM endpoint is ``arm_endpoint``."""
    return f"{arm_endpoint.rstrip('/')}{PREFIX}topics/{topic}/api/events"


def build_eventgrid_routes(world: World) -> list[Route]:
    """The topic's publish route, for the ARM app to mount under ``/eventgrid/``."""

    async def publish(request: Request) -> Response:
        try:
            require_bearer(request, audience=EVENTGRID_AUDIENCE)
            _check_api_version(request)
            body = await request.body()
            if len(body) > MAX_BYTES:
                raise _error(
                    413, "RequestEntityTooLarge", f"The request is {len(body)} bytes; the limit is 1 MB."
                )
            events = _read_events(request.headers.get("content-type", ""), body)
        except SandboxHTTPError as exc:
            return exc.to_response()
        received = world.now().isoformat()
        topic = request.path_params["topic"]
        with world.lock:
            world.published.extend({"topic": topic, "receivedAt": received, **event} for event in events)
        return Response(status_code=200)

    return [
        Route(f"{PREFIX}topics/{{topic}}/api/events", publish, methods=["POST"], name="eventgrid.publish")
    ]


def _check_api_version(request: Request) -> None:
    version = request.query_params.get("api-version")
    if version not in API_VERSIONS:
        raise _error(
            400,
            "BadRequest",
            f"The api-version '{version}' is not supported; supported: {', '.join(API_VERSIONS)}.",
        )


def _read_events(content_type: str, body: bytes) -> list[dict[str, Any]]:
    media = content_type.split(";")[0].strip().lower()
    if media not in (_BATCH, _SINGLE):
        raise _error(
            400,
            "BadRequest",
            f"This topic takes CloudEvents 1.0 ({_BATCH} or {_SINGLE}), not '{media or 'no content type'}'.",
        )
    try:
        value = json.loads(body)
    except ValueError as exc:
        raise _error(400, "BadRequest", f"The request body is not valid JSON: {exc}.") from None
    items = value if media == _BATCH else [value]
    if not isinstance(items, list) or not items:
        raise _error(400, "BadRequest", f"A {media} body must be a non-empty JSON array of events.")
    for index, event in enumerate(items):
        _check_event(index, event)
    return items


def _check_event(index: int, event: Any) -> None:
    where = f"events[{index}]"
    if not isinstance(event, dict):
        raise _error(400, "BadRequest", f"{where}: an event must be a JSON object.")
    if len(json.dumps(event)) > MAX_BYTES:
        raise _error(413, "RequestEntityTooLarge", f"{where}: an event may be at most 1 MB.")
    if event.get("specversion") != "1.0":
        raise _error(
            400, "BadRequest", f"{where}.specversion: expected '1.0', got {event.get('specversion')!r}."
        )
    for key in _REQUIRED:
        if not isinstance(event.get(key), str) or not event[key]:
            raise _error(400, "BadRequest", f"{where}.{key}: a non-empty string is required.")
    time = event.get("time")
    if time is not None and (not isinstance(time, str) or not _RFC3339.match(time) or not _parses(time)):
        raise _error(400, "BadRequest", f"{where}.time: expected an RFC 3339 timestamp, got {time!r}.")


def _parses(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _error(status: int, code: str, message: str) -> SandboxHTTPError:
    return SandboxHTTPError(status, code, message)


def published_events(world: World, *, topic: str | None = None) -> list[dict[str, Any]]:
    """What the app published (to ``topic``, or to any topic), oldest first."""
    with world.lock:
        return [dict(e) for e in world.published if topic is None or e.get("topic") == topic]
