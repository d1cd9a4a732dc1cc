"""Whether spans and metrics are on: one process-wide switch.

Off by default, so that an invocation without Application Insights (or a test, or the
CLI without ``--trace``) never imports OpenTelemetry. ``enable`` is called after the
providers are installed (``ops.adapters.telemetry``, or a test's in-memory ones).
"""

from __future__ import annotations

import threading

_LOCK = threading.Lock()
_STATE = {"enabled": False, "generation": 0}


def enable() -> None:
    """Send spans and metrics to the OpenTelemetry providers installed globally."""
    with _LOCK:
        _STATE["enabled"] = True
        _STATE["generation"] += 1  # instruments made for earlier providers are rebuilt


def disable() -> None:
    with _LOCK:
        _STATE["enabled"] = False
        _STATE["generation"] += 1


def enabled() -> bool:
    return bool(_STATE["enabled"])


def generation() -> int:
    return int(_STATE["generation"])
