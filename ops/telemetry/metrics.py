"""Metric instruments: built once per provider, no-ops while telemetry is off.

Names, units and attributes are in ``fields.METRICS``. Counters count events; gauges
report what the last run saw (pending gate images, clusters by state).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from ops.telemetry import switch
from ops.telemetry.fields import METRICS

_LOCK = threading.Lock()
_INSTRUMENTS: dict[str, Any] = {}
_BUILT_FOR = {"generation": -1}


def _instrument(name: str) -> Any | None:
    """The instrument ``name``, or None while telemetry is off."""
    if not switch.enabled():
        return None
    with _LOCK:
        if _BUILT_FOR["generation"] != switch.generation():
            _INSTRUMENTS.clear()
            _BUILT_FOR["generation"] = switch.generation()
        if name not in _INSTRUMENTS:
            from opentelemetry import metrics

            meter = metrics.get_meter("ops")
            kind, unit, _ = METRICS[name]
            build = meter.create_counter if kind == "counter" else meter.create_gauge
            _INSTRUMENTS[name] = build(name, unit=unit)
        return _INSTRUMENTS[name]


def add(name: str, amount: float, attributes: Mapping[str, Any]) -> None:
    """Add to the counter ``name`` (used by the records module too)."""
    counter = _instrument(name)
    if counter is not None and amount:
        counter.add(amount, attributes=_checked(name, attributes))


def _set(name: str, value: float, attributes: Mapping[str, Any]) -> None:
    gauge = _instrument(name)
    if gauge is not None:
        gauge.set(value, attributes=_checked(name, attributes))


def _checked(name: str, attributes: Mapping[str, Any]) -> dict[str, Any]:
    expected = set(METRICS[name][2])
    if set(attributes) != expected:  # a programming error: the dashboards group by these
        raise ValueError(f"{name} takes attributes {sorted(expected)}, not {sorted(attributes)}")
    return {k: v if isinstance(v, bool | int | float) else str(v) for k, v in attributes.items()}


def record_bytes_reclaimed(amount: int, *, capability: str, dry_run: bool) -> None:
    """Bytes a purge freed (or would free, in a dry run)."""
    add("ops.bytes_reclaimed", amount, {"capability": capability, "dry_run": dry_run})


def record_gate_pending(count: int, *, oldest_age_s: float) -> None:
    """Images the gate holds pending, and how long the oldest has waited."""
    _set("ops.gate.pending", count, {})
    _set("ops.gate.oldest_pending_age", oldest_age_s, {})


def record_schedule_clusters(states: Iterable[tuple[str, str]]) -> None:
    """Clusters by (desired, actual) state, as the last schedule tick saw them."""
    for (desired, actual), count in Counter(states).items():
        _set("ops.schedule.clusters", count, {"desired": desired or "none", "actual": actual or "unknown"})


def record_transition(*, capability: str, from_state: str, to_state: str, target: str = "") -> None:
    """A remediation or failover state change: counted, and logged as a record."""
    from ops.telemetry.records import record_transition_event

    add("ops.transitions", 1, {"capability": capability, "from_state": from_state, "to_state": to_state})
    record_transition_event(capability=capability, from_state=from_state, to_state=to_state, target=target)


def record_throttle(*, service: str) -> None:
    """A call Azure answered with 429 (the SDK retries it after Retry-After)."""
    add("ops.throttled_calls", 1, {"service": service})
