"""In-memory OpenTelemetry for the telemetry tests: the SDK's own providers and exporters.

The global providers can be installed once per process, so they are installed on first
use and shared; each test gets them cleared, with telemetry switched on, and switched
off again afterwards so that other tests run as the app runs without a connection string.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import ops.telemetry as telemetry
from ops.telemetry.fields import LOGGER

_PROVIDERS: dict[str, Any] = {}


def environment_without_settings() -> dict[str, str]:
    """This process's environment less the app's settings and Application Insights', for a
    child process that must start as an app without telemetry configured."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("APPLICATIONINSIGHTS_", "OPS_"))}


def _install() -> tuple[InMemorySpanExporter, InMemoryMetricReader]:
    if not _PROVIDERS:
        spans = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(tracer_provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        _PROVIDERS.update(spans=spans, reader=reader)
    return _PROVIDERS["spans"], _PROVIDERS["reader"]


@dataclass
class Captured:
    """What telemetry produced during one test."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    records: list[logging.LogRecord] = field(default_factory=list)
    baseline: dict[tuple[str, frozenset[tuple[str, Any]]], float] = field(default_factory=dict)

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        (found,) = [s for s in self.spans() if s.name == name]
        return found

    def events(self, kind: str) -> list[logging.LogRecord]:
        return [r for r in self.records if getattr(r, "ops_event", None) == kind]

    def points(self, name: str) -> list[tuple[dict[str, Any], float]]:
        """(attributes, value) of every point of metric ``name``: a gauge's last value."""
        return [
            (dict(attrs), value) for (metric, attrs), value in _collect(self.reader).items() if metric == name
        ]

    def added(self, name: str) -> list[tuple[dict[str, Any], float]]:
        """(attributes, amount) added to counter ``name`` during this test.

        The provider lives as long as the process and counters are cumulative, so this is
        the difference from what the counter held when the test started."""
        return [
            (dict(attrs), value - self.baseline.get((metric, attrs), 0))
            for (metric, attrs), value in _collect(self.reader).items()
            if metric == name and value != self.baseline.get((metric, attrs), 0)
        ]


def _collect(reader: InMemoryMetricReader) -> dict[tuple[str, frozenset[tuple[str, Any]]], float]:
    data = reader.get_metrics_data()
    found = {}
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    if hasattr(point, "value"):  # histograms (HTTP durations) are not ours
                        found[(metric.name, frozenset((point.attributes or {}).items()))] = point.value
    return found


class _Keep(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


@pytest.fixture
def otel() -> Iterator[Captured]:
    exporter, reader = _install()
    exporter.clear()
    captured = Captured(exporter, reader, baseline=_collect(reader))
    handler = _Keep(captured.records)
    audit = logging.getLogger(LOGGER)
    audit.addHandler(handler)
    previous = audit.level
    audit.setLevel(logging.DEBUG)
    telemetry.enable()
    try:
        yield captured
    finally:
        telemetry.disable()
        audit.removeHandler(handler)
        audit.setLevel(previous)
