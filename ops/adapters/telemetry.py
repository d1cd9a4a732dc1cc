"""Turning telemetry on: the Azure Monitor distro in Azure, the console locally.

In Azure, ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set and the distro
(``azure-monitor-opentelemetry``) sends the worker's spans, records and metrics to
Application Insights, authenticated with the app's managed identity (the component's
local authentication is off; ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` names the
identity). Its instrumentations make a child span of every Azure SDK call (azure-core
tracing: ARM, Resource Graph, ACR, Tables, Event Grid) and of every urllib3 request
(the kubernetes client). Traces are kept whole (``sampling_ratio=1.0``) and records are
never sampled, so the audit copy in Log Analytics is complete.

``ops --trace`` (or ``OPS_TRACE=true``) prints the same spans to the console (stderr),
so that a user sees the calls behind a plan; in Azure, ``OPS_TRACE`` adds the console
(the log stream) to Application Insights. Without either, nothing is configured and
nothing is imported: cold start pays nothing for telemetry.

Also here: the retry policy that counts 429s for the ``ops.throttled_calls`` metric,
given to the SDK clients the adapters build.
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from collections.abc import Mapping
from typing import Any

from ops.telemetry import enable, record_throttle

log = logging.getLogger(__name__)

_LOCK = threading.Lock()
_CONFIGURED: dict[str, str] = {}

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

#: Instrumentations of the distro for frameworks this app does not use.
_UNUSED = ("django", "fastapi", "flask", "psycopg2")


def configure_telemetry(env: Mapping[str, str], *, console: bool = False) -> str:
    """Configure telemetry once per process; the mode in force: azure-monitor, console or off."""
    with _LOCK:
        if _CONFIGURED:
            return _CONFIGURED["mode"]
        connection = (env.get("APPLICATIONINSIGHTS_CONNECTION_STRING") or "").strip()
        trace_setting = (env.get("OPS_TRACE") or "").strip().lower() in {"1", "true", "yes", "on"}
        if connection:
            _configure_azure_monitor(
                connection, env.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING") or "", console=trace_setting
            )
            # The exporter reads the "ops" logger: let its records through at OPS_LOG_LEVEL.
            level = (env.get("OPS_LOG_LEVEL") or "INFO").strip().upper()
            logging.getLogger("ops").setLevel(level if level in _LEVELS else "INFO")
            mode = "azure-monitor"
        elif console or trace_setting:
            _configure_console()
            mode = "console"
        else:
            mode = "off"
        _CONFIGURED["mode"] = mode
    if mode != "off":
        enable()
    return mode


def _configure_azure_monitor(connection: str, authentication: str, *, console: bool) -> None:
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(
        span_processors=[_console_processor()] if console else [],
        connection_string=connection,
        credential=_credential(authentication),
        logger_name="ops",
        sampling_ratio=1.0,
        enable_live_metrics=False,
        instrumentation_options={name: {"enabled": False} for name in _UNUSED},
    )


def _credential(authentication: str) -> Any:
    """The Entra credential named by ``Authorization=AAD;ClientId=…``, or None (key-based)."""
    parts = dict(p.split("=", 1) for p in authentication.split(";") if "=" in p)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    client_id = parts.get("ClientId")
    return ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()


def _configure_console() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(_console_processor())
    trace.set_tracer_provider(provider)
    instrument_sdk_calls()


def _console_processor() -> Any:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    # stderr: the CLI's own output (a plan, JSON) stays clean on stdout.
    return SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr, formatter=_one_line))


def instrument_sdk_calls() -> None:
    """A child span for every Azure SDK call (azure-core tracing) and every urllib3 request
    (the kubernetes client), under whatever span is current. Safe to call twice."""
    from azure.core.settings import settings
    from opentelemetry.instrumentation.urllib3 import URLLib3Instrumentor

    settings.tracing_implementation = "opentelemetry"
    instrumentor = URLLib3Instrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()


def _one_line(span: Any) -> str:
    """One console line per span: its name, its duration and the attributes that say what it did."""
    duration_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
    keep = ("ops.", "http.", "az.", "url.", "server.")
    attributes = " ".join(
        f"{key}={value}" for key, value in sorted(span.attributes.items()) if key.startswith(keep)
    )
    parent = f" parent={span.parent.span_id:016x}" if span.parent else ""
    status = "" if span.status.is_ok else f" status={span.status.status_code.name}"
    context = span.get_span_context()
    return (
        f"span {span.name} trace={context.trace_id:032x} id={context.span_id:016x}{parent} "
        f"{duration_ms:.1f}ms{status} {attributes}\n"
    )


def throttle_counting_retry(service: str, **kwargs: Any) -> Any:
    """azure-core's RetryPolicy (same settings, same Retry-After handling) that also counts
    every 429 it sees, retried or not, as an ``ops.throttled_calls`` point for ``service``."""
    return _counting_retry_class()(service, **kwargs)


@functools.cache
def _counting_retry_class() -> type:
    from azure.core.pipeline.policies import RetryPolicy

    class CountingRetryPolicy(RetryPolicy):
        def __init__(self, service: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._service = service

        def is_retry(self, settings: Any, response: Any) -> bool:
            if response.http_response.status_code == 429:
                record_throttle(service=self._service)
            return bool(super().is_retry(settings, response))

    return CountingRetryPolicy
