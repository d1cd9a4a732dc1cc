"""The local invoker: call a function of function_app exactly as the Functions host would.

Host-shaped payloads are turned into trigger arguments by azure.functions' own
converters (the registry the Python worker uses), so that ``ops invoke`` and the
tests exercise the same objects the host would pass: an ``HttpRequest``, an
``EventGridEvent``/``CloudEvent``, a ``TimerRequest`` or a ``QueueMessage``.
An Event Grid array is delivered one event per invocation, as the host does.

A payload the host could not have delivered (an Event Grid body that is not JSON or
nests too deep, a timer status that is not an object, a decoded payload that is not
plain JSON) raises :class:`ops.errors.InvalidInput` before any function runs.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
from azure.functions import meta

from ops.errors import InvalidInput
from ops.payloads import check_json, load_json

#: What the invoker accepts at all; each function holds its input to its own, smaller limit.
MAX_PAYLOAD = 64 * 1024 * 1024

_FUNCTIONS: dict[int, dict[str, Any]] = {}


@dataclass
class Invocation:
    """What one ``ops invoke`` did: per-delivery results, and whether all were handled."""

    function: str
    trigger: str
    results: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        single = self.results[0] if len(self.results) == 1 else self.results
        return {"function": self.function, "trigger": self.trigger, "result": single}


def list_functions(app: func.FunctionApp) -> dict[str, Any]:
    """The app's functions by name. Cached: ``get_functions()`` raises on a second call."""
    key = id(app)
    if key not in _FUNCTIONS:
        _FUNCTIONS[key] = {str(f.get_function_name()): f for f in app.get_functions()}
    return _FUNCTIONS[key]


def invoke_function(app: func.FunctionApp, name: str, payload: Any) -> Invocation:
    """Invoke ``name`` with a host-shaped ``payload`` (parsed JSON, text or None).

    Exceptions from the function propagate, as they would make the host fail the
    invocation (and redeliver, for Event Grid and queues).
    """
    functions = list_functions(app)
    if name not in functions:
        raise KeyError(f"no function named {name!r}; known: {', '.join(sorted(functions))}")
    fn = functions[name]
    trigger = fn.get_trigger()
    user = fn.get_user_function()
    invocation = Invocation(name, trigger.type)
    for argument in _decode(trigger, payload):
        invocation.results.append(_render(user(**{trigger.name: argument})))
    return invocation


def call_http_function(app: func.FunctionApp, name: str, request: dict[str, Any]) -> func.HttpResponse:
    """Call HTTP function ``name`` with a host-shaped ``request`` (``method``, ``url``,
    ``headers``, ``params``, ``body``); the function's own HttpResponse, unrendered."""
    fn = list_functions(app)[name]
    trigger = fn.get_trigger()
    if trigger.type != "httpTrigger":
        raise ValueError(f"{name} is not an HTTP function")
    response = fn.get_user_function()(**{trigger.name: _decode(trigger, request)[0]})
    if not isinstance(response, func.HttpResponse):
        raise TypeError(f"{name} returned {type(response).__name__}, not an HttpResponse")
    return response


def find_http_function(app: func.FunctionApp, method: str, path: str) -> str | None:
    """The HTTP function the host would route ``method path`` (under ``/api/``) to.

    As in the host's router, a route with more literal segments wins over one that
    matches through parameters (``runbooks/runs/{id}`` before ``runbooks/{name}``).
    """
    candidates = []
    for name, fn in list_functions(app).items():
        trigger = fn.get_trigger()
        if trigger.type != "httpTrigger":
            continue
        methods = {str(getattr(m, "value", m)).upper() for m in (trigger.methods or ())}
        if methods and method.upper() not in methods:
            continue
        route = (trigger.route or name).strip("/")
        if match_route(route, path) is not None:
            literals = sum(1 for part in route.split("/") if not part.startswith("{"))
            candidates.append((-literals, name))
    return min(candidates)[1] if candidates else None


def match_route(route: str, path: str) -> dict[str, str] | None:
    """The route parameters of ``path`` (``runbooks/purge``, no ``/api/``) under ``route``
    (``runbooks/{name?}``): ``{x}``, optional ``{x?}``, ``{x:constraint}`` and ``{*rest}``;
    None when it does not match."""
    pattern = ""
    for part in route.strip("/").split("/"):
        token = re.fullmatch(r"\{(\*?)(\w+)(?::[^}?]*)?(\??)\}", part)
        if token is None:
            pattern += "/" + re.escape(part)
        elif token.group(1):
            pattern += f"(?:/(?P<{token.group(2)}>.+))?"
        elif token.group(3):
            pattern += f"(?:/(?P<{token.group(2)}>[^/]+))?"
        else:
            pattern += f"/(?P<{token.group(2)}>[^/]+)"
    match = re.fullmatch(pattern, "/" + path.strip("/"), flags=re.IGNORECASE)
    if match is None:
        return None
    return {key: value for key, value in match.groupdict().items() if value is not None}


def _decode(trigger: Any, payload: Any) -> list[Any]:
    converter = meta.get_binding_registry().get(trigger.type)
    if converter is None:
        raise ValueError(f"no converter for trigger type {trigger.type}")
    kind = trigger.type
    if kind == "httpTrigger":
        return [converter.decode(_http_datum(trigger, payload), trigger_metadata={})]
    if kind == "eventGridTrigger":
        # The host parses the delivery to split a batch: text that is not JSON (or nests
        # deeper than any JSON parser allows) never reaches a function.
        delivery = load_json(payload, limit=MAX_PAYLOAD) if isinstance(payload, str | bytes) else payload
        events = delivery if isinstance(delivery, list) else [delivery]
        return [
            _bind(converter, meta.Datum(_dump(event), "json"), index) for index, event in enumerate(events)
        ]
    if kind == "timerTrigger":
        status = payload or {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}
        if not isinstance(status, dict):
            raise InvalidInput(
                "<root>", "a timer status object (Schedule, ScheduleStatus, IsPastDue)", status
            )
        return [converter.decode(meta.Datum(_dump(status), "json"), trigger_metadata={})]
    if kind == "queueTrigger":
        body = payload if isinstance(payload, str | bytes) else _dump(payload)
        datum = meta.Datum(body, "bytes" if isinstance(body, bytes) else "string")
        return [converter.decode(datum, trigger_metadata=_queue_metadata())]
    raise ValueError(f"trigger type {kind} is not supported by the local invoker")


def _bind(converter: Any, datum: meta.Datum, index: int) -> Any:
    """The worker's own binding of one event. An envelope it cannot bind (an ``eventTime``
    that is no date, an event that is not an object) fails in the worker, before any
    function runs: here that is a payload the host could not deliver."""
    try:
        return converter.decode(datum, trigger_metadata={})
    except (TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"[{index}]", "an event the Functions worker can bind", str(exc)[:80]) from None


def _dump(value: Any) -> str:
    """JSON text of a decoded payload: plain, bounded JSON only (``ops.payloads``)."""
    check_json(value, limit=MAX_PAYLOAD, what="a payload")
    return json.dumps(value)


def _http_datum(trigger: Any, payload: Any) -> meta.Datum:
    shaped = isinstance(payload, dict) and {"method", "url"} <= payload.keys()
    request = payload if shaped else {"method": "POST" if payload is not None else "GET", "body": payload}
    route = trigger.route or ""
    url = request.get("url") or f"http://localhost:7071/api/{route}"
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query)) | dict(request.get("params") or {})
    body = request.get("body")
    if body is not None and not isinstance(body, str | bytes):
        body = _dump(body)
    raw = body.encode() if isinstance(body, str) else (body or b"")
    return meta.Datum(
        {
            "method": meta.Datum(str(request.get("method", "GET")).upper(), "string"),
            "url": meta.Datum(url, "string"),
            "headers": {
                k.lower(): meta.Datum(str(v), "string") for k, v in (request.get("headers") or {}).items()
            },
            "query": {k: meta.Datum(v, "string") for k, v in params.items()},
            "params": {k: meta.Datum(v, "string") for k, v in _route_params(route, parts.path).items()},
            "body": meta.Datum(raw, "bytes"),
        },
        "http",
    )


def _route_params(route: str, path: str) -> dict[str, str]:
    """Match ``runbooks/{name}`` against ``/api/runbooks/purge`` → ``{"name": "purge"}``."""
    relative = path.strip("/")
    relative = relative[4:] if relative.startswith("api/") else relative
    return match_route(route, relative) or {}


def _queue_metadata() -> dict[str, meta.Datum]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    return {
        "Id": meta.Datum(str(uuid.uuid4()), "string"),
        "DequeueCount": meta.Datum(1, "int"),
        "InsertionTime": meta.Datum(now, "string"),
        "ExpirationTime": meta.Datum(now, "string"),
        "NextVisibleTime": meta.Datum(now, "string"),
        "PopReceipt": meta.Datum("local", "string"),
    }


def _render(result: Any) -> Any:
    if isinstance(result, func.HttpResponse):
        text = result.get_body().decode("utf-8", "replace")
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text
        return {
            "status": result.status_code,
            "mimetype": result.mimetype,
            "headers": dict(result.headers),
            "body": body,
        }
    return result
