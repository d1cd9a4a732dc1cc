"""Faults, throttling and the request log: what makes the sandbox misbehave like Azure.

The product must survive 429s, 5xx, connection resets and failed long-running
operations, and its benchmarks must meet Azure's real ceilings. Every sub-app
(identity, ARM, Resource Graph, each registry, each cluster) is wrapped by one
:class:`GuardMiddleware`, which, per request:

1. applies injected faults (from the estate's ``faults:`` or ``POST /_sandbox/faults``),
   matched on service + method + path regex, at a rate or for the next N calls;
2. applies the throttling emulation of the documented limits: ACR reads/writes per
   minute per SKU, ARM's per-subscription token buckets, Resource Graph's per-user
   quota, each with Azure's 429 shape and headers;
3. appends a :class:`~sandbox.world.RequestRecord` to ``world.requests``.

A ``lro_failure`` fault is not applied here: the ARM LRO engine asks
:meth:`Faults.take_lro_failure` when an operation starts, and that operation then
ends ``Failed``. Nor is a ``concurrent_write``: the managedClusters PUT asks
:meth:`Faults.take_concurrent_write` before it checks ``If-Match``, and applies another
writer's change first (a new eTag), as happens when someone else's write lands between
a client's GET and its PUT. Control calls (``/_sandbox/...``) bypass all of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import math
import random
import re
import socket
import struct
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from sandbox.world import RequestRecord, World

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAULT_KINDS = ("latency", "throttle", "error", "reset", "lro_failure", "concurrent_write")
#: Kinds a handler asks for itself (the middleware lets their calls through).
_HANDLER_KINDS = frozenset({"lro_failure", "concurrent_write"})
#: What another writer may change in a ``concurrent_write`` (a managedClusters PUT body's parts).
_CHANGE_KEYS = frozenset({"tags", "properties"})
_CHANGE_PROPERTIES = frozenset({"agentPoolProfiles", "networkProfile"})

#: Documented limits (see docs/estate.md, "settings.limits", to override them).
DEFAULT_LIMITS: dict[str, Any] = {
    "acr": {
        "Basic": {"reads_per_minute": 1000, "writes_per_minute": 100},
        "Standard": {"reads_per_minute": 3000, "writes_per_minute": 500},
        "Premium": {"reads_per_minute": 10000, "writes_per_minute": 2000},
    },
    "arm": {
        "reads": {"bucket": 250, "refill_per_second": 25},
        "writes": {"bucket": 200, "refill_per_second": 10},
        "deletes": {"bucket": 200, "refill_per_second": 10},
    },
    "graph": {"queries": 15, "window_seconds": 5},
}

_REQUEST_LOG_LIMIT = 200_000
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/]+)", re.IGNORECASE)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(slots=True)
class Fault:
    """One injected fault. ``count`` None means "every matching call, at ``rate``"."""

    kind: str
    service: str = "*"  # glob over service names: "arm", "acr:*", "kube:aks-dev"
    method: str = "*"
    path: str = ".*"  # regex, searched in the request path
    rate: float = 1.0
    count: int | None = None
    status: int = 503
    retry_after: int = 1
    latency_ms: int = 0
    code: str | None = None
    message: str | None = None
    change: dict[str, Any] | None = None  # concurrent_write: the other writer's change
    _regex: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def matches(self, service: str, method: str, path: str) -> bool:
        if self._regex is None:
            self._regex = re.compile(self.path)
        return (
            fnmatch.fnmatchcase(service, self.service)
            and (self.method == "*" or self.method.upper() == method)
            and self._regex.search(path) is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """The estate-file form (camelCase, defaults left out)."""
        out: dict[str, Any] = {"kind": self.kind, "service": self.service}
        if self.method != "*":
            out["method"] = self.method
        if self.path != ".*":
            out["path"] = self.path
        if self.rate != 1.0:
            out["rate"] = self.rate
        if self.count is not None:
            out["count"] = self.count
        if self.kind == "error":
            out["status"] = self.status
        if self.kind in ("throttle", "error") and self.retry_after != 1:
            out["retryAfter"] = self.retry_after
        if self.latency_ms:
            out["latencyMs"] = self.latency_ms
        if self.code:
            out["code"] = self.code
        if self.message:
            out["message"] = self.message
        if self.change is not None:
            out["change"] = self.change
        return out


def parse_fault(data: dict[str, Any], *, path: str = "faults[0]") -> Fault:
    """A :class:`Fault` from its estate/control-endpoint form; ValueError names the field path."""
    known = {
        "kind",
        "service",
        "method",
        "path",
        "rate",
        "count",
        "status",
        "retryAfter",
        "latencyMs",
        "code",
        "message",
        "change",
    }
    for key in data:
        if key not in known:
            raise ValueError(f"{path}.{key}: unknown field (expected one of {', '.join(sorted(known))})")
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError(f"{path}.kind: expected one of {', '.join(FAULT_KINDS)} (got {kind!r})")
    rate = data.get("rate", 1.0)
    if not isinstance(rate, int | float) or not 0 < rate <= 1:
        raise ValueError(f"{path}.rate: expected a number in (0, 1] (got {rate!r})")
    count = data.get("count")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise ValueError(f"{path}.count: expected a positive integer (got {count!r})")
    status = data.get("status", 429 if kind == "throttle" else 503)
    if kind == "error" and status not in (500, 502, 503, 504):
        raise ValueError(f"{path}.status: expected 500, 502, 503 or 504 (got {status!r})")
    retry_after = data.get("retryAfter", 1)
    if not isinstance(retry_after, int) or retry_after < 0:
        raise ValueError(f"{path}.retryAfter: expected seconds as an integer >= 0 (got {retry_after!r})")
    latency = data.get("latencyMs", 0)
    if not isinstance(latency, int) or latency < 0 or (kind == "latency" and latency == 0):
        raise ValueError(f"{path}.latencyMs: expected a positive integer of milliseconds (got {latency!r})")
    pattern = data.get("path", ".*")
    try:
        regex = re.compile(pattern)
    except (re.error, TypeError) as exc:
        raise ValueError(f"{path}.path: expected a regular expression (got {pattern!r}: {exc})") from None
    method = str(data.get("method", "*")).upper()
    change = _parse_change(kind, data.get("change"), path=f"{path}.change")
    return Fault(
        kind=kind,
        service=str(data.get("service", "*")),
        method=method,
        path=pattern,
        rate=float(rate),
        count=count,
        status=status,
        retry_after=retry_after,
        latency_ms=latency,
        code=data.get("code"),
        message=data.get("message"),
        change=change,
        _regex=regex,
    )


def _parse_change(kind: str, change: Any, *, path: str) -> dict[str, Any] | None:
    """A ``concurrent_write``'s change: required there, refused on every other kind."""
    if kind != "concurrent_write":
        if change is not None:
            raise ValueError(f"{path}: only a concurrent_write fault takes a change")
        return None
    if not isinstance(change, dict) or not change:
        raise ValueError(
            f"{path}: expected the other writer's change, an object with tags and/or properties "
            "(agentPoolProfiles, networkProfile) as a managedClusters PUT takes them"
        )
    for key in change:
        if key not in _CHANGE_KEYS:
            raise ValueError(f"{path}.{key}: unknown field (expected one of properties, tags)")
    if "tags" in change and not isinstance(change["tags"], dict):
        raise ValueError(f"{path}.tags: expected an object of tag names and values")
    props = change.get("properties", {})
    if not isinstance(props, dict):
        raise ValueError(f"{path}.properties: expected an object")
    for key in props:
        if key not in _CHANGE_PROPERTIES:
            raise ValueError(
                f"{path}.properties.{key}: unknown field (expected one of agentPoolProfiles, networkProfile)"
            )
    if "agentPoolProfiles" in props and not isinstance(props["agentPoolProfiles"], list):
        raise ValueError(f"{path}.properties.agentPoolProfiles: expected a list of agent pool profiles")
    if "networkProfile" in props and not isinstance(props["networkProfile"], dict):
        raise ValueError(f"{path}.properties.networkProfile: expected an object")
    return change


class _Bucket:
    """A token bucket on sandbox time (so that advancing the clock refills it)."""

    __slots__ = ("capacity", "level", "rate", "stamp")

    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.level = capacity
        self.stamp = now

    def take(self, now: float) -> tuple[bool, float]:
        """(allowed, seconds until one token) after refilling to ``now``."""
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.level >= 1:
            self.level -= 1
            return True, 0.0
        return False, (1 - self.level) / self.rate if self.rate > 0 else 60.0


class Faults:
    """Fault selection and throttling state, shared by every sub-app of one server."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._rng = random.Random(world.settings.get("seed", 0))
        self._buckets: dict[tuple[str, ...], _Bucket] = {}
        self._windows: dict[str, tuple[float, int]] = {}

    # -- injected faults --------------------------------------------------------------

    def take_faults(self, service: str, method: str, path: str) -> tuple[int, Fault | None]:
        """(total injected latency in ms, the first failure fault that fires, if any)."""
        faults = self.world.faults
        if not faults:
            return 0, None
        latency = 0
        chosen: Fault | None = None
        with self.world.lock:
            for fault in list(faults):
                if fault.kind in _HANDLER_KINDS or not fault.matches(service, method, path):
                    continue
                if fault.kind != "latency" and chosen is not None:
                    continue
                if fault.rate < 1 and self._rng.random() >= fault.rate:
                    continue
                self._consume(fault)
                if fault.kind == "latency":
                    latency += fault.latency_ms
                else:
                    chosen = fault
        return latency, chosen

    def take_lro_failure(self, service: str, method: str, path: str) -> Fault | None:
        """The ``lro_failure`` fault that applies to an operation starting now, if any."""
        return self._take("lro_failure", service, method, path)

    def take_concurrent_write(self, service: str, method: str, path: str) -> Fault | None:
        """The ``concurrent_write`` fault that lands another writer's change before this write."""
        return self._take("concurrent_write", service, method, path)

    def _take(self, kind: str, service: str, method: str, path: str) -> Fault | None:
        """The first fault of ``kind`` matching the request that fires (by its rate), consumed."""
        with self.world.lock:
            for fault in list(self.world.faults):
                if fault.kind != kind or not fault.matches(service, method, path):
                    continue
                if fault.rate < 1 and self._rng.random() >= fault.rate:
                    continue
                self._consume(fault)
                return fault
        return None

    def _consume(self, fault: Fault) -> None:
        if fault.count is not None:
            fault.count -= 1
            if fault.count <= 0:
                self.world.faults.remove(fault)

    # -- throttling -------------------------------------------------------------------

    def limits(self) -> dict[str, Any]:
        overrides = self.world.settings.get("limits") or {}
        merged = {key: dict(value) for key, value in DEFAULT_LIMITS.items()}
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                for sub, subvalue in value.items():
                    base = merged[key].get(sub)
                    merged[key][sub] = {**base, **subvalue} if isinstance(base, dict) else subvalue
        return merged

    def check_throttle(
        self, service: str, method: str, path: str
    ) -> tuple[_Throttled | None, list[tuple[bytes, bytes]]]:
        """(a 429 to send, or None; extra response headers) for one request."""
        if not self.world.settings.get("throttling", True):
            return None, []
        now = self.world.monotonic()
        if service.startswith("acr:"):
            return self._throttle_acr(service[4:], method, path, now), []
        if service == "graph":
            return self._throttle_graph(now)
        if service == "arm":
            return self._throttle_arm(method, path, now)
        return None, []

    def _throttle_acr(self, registry_name: str, method: str, path: str, now: float) -> _Throttled | None:
        if path.startswith("/oauth2/"):
            return None  # the token exchange is not a registry read or write
        registry = self.world.registries.get(registry_name)
        sku = registry.sku if registry else "Premium"
        limits = self.limits()["acr"].get(sku) or DEFAULT_LIMITS["acr"]["Premium"]
        kind = "reads" if method in _READ_METHODS else "writes"
        per_minute = float(limits[f"{kind}_per_minute"])
        key = ("acr", registry_name, kind)
        with self.world.lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.capacity != per_minute:
                bucket = self._buckets[key] = _Bucket(per_minute, per_minute / 60.0, now)
            allowed, wait = bucket.take(now)
        if allowed:
            return None
        return _Throttled(
            retry_after=max(1, math.ceil(wait)),
            body={
                "errors": [
                    {
                        "code": "TOOMANYREQUESTS",
                        "message": "too many requests",
                        "detail": f"{kind} per minute over the {sku} SKU limit of {int(per_minute)}",
                    }
                ]
            },
            headers=[],
        )

    def _throttle_arm(
        self, method: str, path: str, now: float
    ) -> tuple[_Throttled | None, list[tuple[bytes, bytes]]]:
        match = _SUBSCRIPTION.match(path)
        if match is None:
            return None, []
        subscription = match.group(1).lower()
        kind = "reads" if method in _READ_METHODS else "deletes" if method == "DELETE" else "writes"
        spec = self.limits()["arm"][kind]
        capacity, rate = float(spec["bucket"]), float(spec["refill_per_second"])
        key = ("arm", subscription, kind)
        with self.world.lock:
            bucket = self._buckets.get(key)
            if bucket is None or bucket.capacity != capacity or bucket.rate != rate:
                bucket = self._buckets[key] = _Bucket(capacity, rate, now)
            allowed, wait = bucket.take(now)
            remaining = int(bucket.level)
        header = (f"x-ms-ratelimit-remaining-subscription-{kind}".encode(), str(remaining).encode())
        if allowed:
            return None, [header]
        seconds = max(1, math.ceil(wait))
        operation = {"reads": "read", "writes": "write", "deletes": "delete"}[kind]
        principal = self.world.identity.principal_id
        return _Throttled(
            retry_after=seconds,
            body={
                "error": {
                    "code": "SubscriptionRequestsThrottled",
                    "message": f"Number of '{operation}' requests for subscription '{subscription}' actor "
                    f"'{principal}' exceeded. Please try again after '{seconds}' seconds after additional "
                    "tokens are available. Refer to https://aka.ms/arm-throttling",
                }
            },
            headers=[header],
        ), []

    def _throttle_graph(self, now: float) -> tuple[_Throttled | None, list[tuple[bytes, bytes]]]:
        spec = self.limits()["graph"]
        quota, window = int(spec["queries"]), float(spec["window_seconds"])
        with self.world.lock:
            start, used = self._windows.get("graph", (now, 0))
            if now - start >= window:
                start, used = now, 0
            allowed = used < quota
            if allowed:
                used += 1
            self._windows["graph"] = (start, used)
        resets = max(0.0, window - (now - start))
        hours, rest = divmod(math.ceil(resets), 3600)
        headers = [
            (b"x-ms-user-quota-remaining", str(quota - used).encode()),
            (b"x-ms-user-quota-resets-after", f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}".encode()),
        ]
        if allowed:
            return None, headers
        return _Throttled(
            retry_after=max(1, math.ceil(resets)),
            body={
                "error": {
                    "code": "RateLimiting",
                    "message": "Please provide below info when asking for "
                    "support: timestamp, correlationId. Too many requests; retry later.",
                }
            },
            headers=headers,
        ), []


@dataclass(frozen=True, slots=True)
class _Throttled:
    retry_after: int
    body: dict[str, Any]
    headers: list[tuple[bytes, bytes]]


class GuardMiddleware:
    """ASGI middleware applying faults, throttling and the request log to one sub-app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        world: World,
        faults: Faults,
        service: str | Callable[[str], str],
    ) -> None:
        self.app = app
        self.world = world
        self.faults = faults
        self._service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox/"):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        service = self._service if isinstance(self._service, str) else self._service(path)
        state: dict[str, Any] = {"status": 0, "operation": "fault", "recorded": False}
        extra: list[tuple[bytes, bytes]] = []

        def record() -> None:
            if not state["recorded"]:
                state["recorded"] = True
                self._record(service, state["operation"], method, path, state["status"], started)

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                # Log before the last byte leaves: a client that reads the log right
                # after its response must find its own call there.
                route = scope.get("route")
                if route is not None or scope.get("endpoint") is not None:
                    state["operation"] = getattr(route, "name", None) or getattr(
                        scope.get("endpoint"), "__name__", "unknown"
                    )
                record()
            await send(message)

        try:
            latency, fault = self.faults.take_faults(service, method, path)
            if latency:
                await asyncio.sleep(latency / 1000)
            if fault is not None:
                if fault.kind == "reset":
                    record()
                    await _reset_connection(send)
                    return
                status = 429 if fault.kind == "throttle" else fault.status
                await _send_json(
                    send_recording,
                    status,
                    _fault_body(service, path, status, fault),
                    [(b"retry-after", str(fault.retry_after).encode())] if fault.retry_after else [],
                )
                return
            throttled, headers = self.faults.check_throttle(service, method, path)
            if throttled is not None:
                state["operation"] = "throttled"
                await _send_json(
                    send_recording,
                    429,
                    throttled.body,
                    [(b"retry-after", str(throttled.retry_after).encode()), *throttled.headers],
                )
                return
            extra.extend(headers)
            await self.app(scope, receive, send_recording)
        finally:
            record()

    def _record(
        self, service: str, operation: str, method: str, path: str, status: int, started: float
    ) -> None:
        duration = (time.perf_counter() - started) * 1000
        record = RequestRecord(
            service, operation, method, path, status, duration, self.world.now().timestamp()
        )
        requests = self.world.requests
        with self.world.lock:
            requests.append(record)
            limit = int(self.world.settings.get("request_log_limit", _REQUEST_LOG_LIMIT))
            if len(requests) > limit:
                del requests[: len(requests) - limit // 2]


def _fault_body(service: str, path: str, status: int, fault: Fault) -> dict[str, Any]:
    """The error body each service sends for this status, in that service's own shape."""
    default_code = {
        429: "TooManyRequests",
        500: "InternalServerError",
        502: "BadGateway",
        503: "ServiceUnavailable",
        504: "GatewayTimeout",
    }.get(status, "Error")
    message = fault.message or f"Injected fault: {status} {default_code}."
    if service.startswith("acr:"):
        oci = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}.get(status, "UNKNOWN")
        return {"errors": [{"code": fault.code or oci, "message": message, "detail": None}]}
    if service.startswith("kube:"):
        reason = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "Timeout"}.get(
            status, "InternalError"
        )
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": fault.code or reason,
            "code": status,
        }
    return {"error": {"code": fault.code or default_code, "message": message}}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _reset_connection(send: Send) -> None:
    """Drop the TCP connection with a RST, as a flaky load balancer does.

    uvicorn's ``send`` is a bound method of its request cycle, which holds the
    transport; SO_LINGER 0 makes close() send RST instead of FIN.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        raise ConnectionResetError("injected connection reset")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let connection_lost run, so that uvicorn knows the client is gone and does not
    # try to answer with its own 500.
    for _ in range(3):
        await asyncio.sleep(0)
