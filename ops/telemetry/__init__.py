"""Telemetry: what the app does, as spans, structured records and metrics.

The narrow API every capability uses; nothing else in ``ops`` talks to OpenTelemetry:

- :func:`invocation` wraps one function invocation (or one CLI command) in a span and
  names it: function, capability, run id, event id. Records and child spans made inside
  carry those names. :func:`annotate` adds the caller once an HTTP token is validated.
- :func:`record_plan` and :func:`record_outcomes` log a plan and every action's outcome
  as structured records and count them. The executor calls them for every plan it is
  given, so a capability never needs to.
- :func:`record_rejection`, :func:`record_transition`, :func:`record_throttle`,
  :func:`record_bytes_reclaimed`, :func:`record_gate_pending` and
  :func:`record_schedule_clusters` record the rest of what an operator watches.

Records are ordinary :mod:`logging` records on the ``ops.audit`` logger whose fields are
LogRecord attributes (``fields.py`` lists them), so they reach Application Insights as
custom dimensions when the exporter is configured, and stay readable text otherwise.
Spans and metrics go through the OpenTelemetry API only after
``ops.adapters.telemetry.configure_telemetry`` (or a test) turns them on: until then
nothing here imports OpenTelemetry, which keeps the cold start light.
"""

from ops.telemetry.context import Invocation, annotate, current_invocation, invocation
from ops.telemetry.metrics import (
    record_bytes_reclaimed,
    record_gate_pending,
    record_schedule_clusters,
    record_throttle,
    record_transition,
)
from ops.telemetry.records import record_invocation_result, record_outcomes, record_plan, record_rejection
from ops.telemetry.switch import disable, enable, enabled

__all__ = [
    "Invocation",
    "annotate",
    "current_invocation",
    "disable",
    "enable",
    "enabled",
    "invocation",
    "record_bytes_reclaimed",
    "record_gate_pending",
    "record_invocation_result",
    "record_outcomes",
    "record_plan",
    "record_rejection",
    "record_schedule_clusters",
    "record_throttle",
    "record_transition",
]
