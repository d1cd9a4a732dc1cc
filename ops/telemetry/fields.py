"""The names telemetry writes: record fields, span attributes and metric instruments.

They are a contract with whoever queries them: docs/observability.md and the workbook in
infra/app/workbook.json use exactly these names (a test checks every KQL query against
them). In Log Analytics a record is a row of ``AppTraces`` whose ``Properties`` hold
these fields; a metric is a row of ``AppMetrics`` named by its instrument.
"""

from __future__ import annotations

#: The logger every structured record is written to.
LOGGER = "ops.audit"

#: What a record is about: one of EVENTS.
EVENT = "ops_event"
PLAN, ACTION, REJECTED, INVOCATION, TRANSITION = "plan", "action", "rejected", "invocation", "transition"
EVENTS = frozenset({PLAN, ACTION, REJECTED, INVOCATION, TRANSITION})

#: Every field a record may carry (besides the message).
RECORD_FIELDS = frozenset(
    {
        EVENT,
        # who and where: from the invocation
        "function",
        "capability",
        "run_id",
        "event_id",
        "caller",
        # a plan
        "actions",
        "by_kind",
        "protected",
        "skipped",
        # an action and its outcome
        "action_kind",
        "target",
        "reason",
        "status",
        "dry_run",
        "key",
        "attempts",
        "detail",
        "params",
        # a rejection, an invocation's result
        "error",
        "path",
        "result",
        # a transition (remediation, failover)
        "from_state",
        "to_state",
    }
)

#: Span attributes of an invocation span.
SPAN_ATTRIBUTES = {
    "function": "ops.function",
    "capability": "ops.capability",
    "run_id": "ops.run_id",
    "event_id": "ops.event_id",
    "caller": "ops.caller",
}

#: Metric instruments: name -> (kind, unit, the attributes each point carries).
METRICS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ops.actions": ("counter", "{action}", ("capability", "action_kind", "status", "dry_run")),
    "ops.bytes_reclaimed": ("counter", "By", ("capability", "dry_run")),
    "ops.gate.pending": ("gauge", "{image}", ()),
    "ops.gate.oldest_pending_age": ("gauge", "s", ()),
    "ops.schedule.clusters": ("gauge", "{cluster}", ("desired", "actual")),
    "ops.transitions": ("counter", "{transition}", ("capability", "from_state", "to_state")),
    "ops.rejected_inputs": ("counter", "{input}", ("capability", "function", "error")),
    "ops.throttled_calls": ("counter", "{call}", ("service",)),
}
