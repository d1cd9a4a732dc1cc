"""The invocation in progress: its names, its span, and what records inherit from it.

A contextvar holds the current :class:`Invocation`, so records written anywhere below
(the executor, a service, an adapter) name the function, capability, run and event
without being passed them. The executor carries the context into its worker threads.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from ops.telemetry import switch
from ops.telemetry.fields import SPAN_ATTRIBUTES


@dataclass(frozen=True, slots=True)
class Invocation:
    """Who is running: a function (or CLI command) for a capability, one run, maybe one event."""

    function: str
    capability: str
    run_id: str = field(default_factory=lambda: os.urandom(16).hex())
    event_id: str = ""
    caller: str = ""

    def fields(self) -> dict[str, str]:
        return {
            "function": self.function,
            "capability": self.capability,
            "run_id": self.run_id,
            "event_id": self.event_id,
            "caller": self.caller,
        }


_CURRENT: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("ops_invocation", default=None)
_SPAN: contextvars.ContextVar[Any] = contextvars.ContextVar("ops_invocation_span", default=None)


def current_invocation() -> Invocation | None:
    return _CURRENT.get()


@contextmanager
def invocation(
    function: str, *, capability: str, run_id: str | None = None, event_id: str | None = None
) -> Iterator[Invocation]:
    """Run the body as one invocation: a span named after ``function`` (when telemetry is on),
    and the names every record inside carries. An exception marks the span as failed and
    propagates unchanged."""
    current = Invocation(function, capability, event_id=event_id or "")
    if run_id:
        current = replace(current, run_id=run_id)
    token = _CURRENT.set(current)
    try:
        if not switch.enabled():
            yield current
            return
        from opentelemetry import trace

        tracer = trace.get_tracer("ops")
        with tracer.start_as_current_span(function, kind=trace.SpanKind.INTERNAL) as span:
            span.set_attributes({SPAN_ATTRIBUTES[k]: v for k, v in current.fields().items() if v})
            span_token = _SPAN.set(span)
            try:
                yield current
            finally:
                _SPAN.reset(span_token)
    finally:
        _CURRENT.reset(token)


def annotate(*, caller: str | None = None, run_id: str | None = None) -> None:
    """Name the caller (an HTTP token's ``oid``/``appid``) or the run once they are known."""
    current = _CURRENT.get()
    if current is None:
        return
    changes = {k: v for k, v in {"caller": caller, "run_id": run_id}.items() if v}
    _CURRENT.set(replace(current, **changes))
    span = _SPAN.get()
    if span is not None:
        span.set_attributes({SPAN_ATTRIBUTES[k]: v for k, v in changes.items()})


def run_in_context() -> contextvars.Context:
    """A copy of the caller's context, for a worker thread to run its task in."""
    return contextvars.copy_context()
