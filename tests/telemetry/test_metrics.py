"""The metrics and records beyond actions, and SDK calls as child spans, against the sandbox.

Cases:
- bytes reclaimed, gate images pending and the age of the oldest, schedule clusters by
  desired and actual state, and remediation or failover transitions (a point and a
  ``transition`` record) land as points with their documented attributes;
- an instrument refuses attributes other than its documented ones;
- a record refuses a field that is not in the documented list;
- an Azure SDK call made inside an invocation is a child span of it (azure-core tracing),
  and a 429 from ARM, which the SDK retries after Retry-After, is an
  ``ops.throttled_calls`` point for ``arm``;
- ACR data-plane calls and the kubernetes client's requests (urllib3) are spans of the
  invocation's trace too, and an API server's 429 is a point for ``kubernetes``;
- ``ops --trace`` prints the command's span to stderr and leaves stdout to the command.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import ops.telemetry as telemetry
from tests.support.sandbox import SUBSCRIPTION, connect_app, control, minimal_estate, running_sandbox
from tests.telemetry.conftest import Captured, environment_without_settings

ROOT = Path(__file__).resolve().parents[2]


def test_capability_metrics_have_their_documented_attributes(otel: Captured) -> None:
    telemetry.record_bytes_reclaimed(4096, capability="purge", dry_run=True)
    telemetry.record_gate_pending(3, oldest_age_s=75.0)
    telemetry.record_schedule_clusters(
        [("stopped", "running"), ("stopped", "running"), ("running", "running")]
    )
    telemetry.record_transition(
        capability="failover", from_state="primary", to_state="failed_over", target="reg"
    )

    assert otel.added("ops.bytes_reclaimed") == [({"capability": "purge", "dry_run": True}, 4096)]
    assert otel.points("ops.gate.pending") == [({}, 3)]
    assert otel.points("ops.gate.oldest_pending_age") == [({}, 75.0)]
    clusters = {(p["desired"], p["actual"]): v for p, v in otel.points("ops.schedule.clusters")}
    assert clusters[("stopped", "running")] == 2 and clusters[("running", "running")] == 1
    assert otel.added("ops.transitions") == [
        ({"capability": "failover", "from_state": "primary", "to_state": "failed_over"}, 1)
    ]
    (record,) = otel.events("transition")
    assert (record.capability, record.target, record.from_state, record.to_state) == (
        "failover",
        "reg",
        "primary",
        "failed_over",
    )


def test_instruments_refuse_undocumented_attributes(otel: Captured) -> None:
    from ops.telemetry.metrics import add

    with pytest.raises(ValueError, match=r"ops\.throttled_calls takes attributes"):
        add("ops.throttled_calls", 1, {"service": "arm", "host": "x"})


def test_records_refuse_undocumented_fields() -> None:
    from ops.telemetry.records import _emit

    with pytest.raises(ValueError, match="unknown record fields"):
        _emit(20, "action", "x", {"colour": "blue"})


def throttle_once(server: object, *, service: str, path: str, retry_after: int) -> None:
    """The next GET of ``path`` on ``service`` is answered 429 with Retry-After."""
    fault = {"kind": "throttle", "service": service, "method": "GET", "path": path, "count": 1}
    control(server, "POST", "faults", {**fault, "retryAfter": retry_after})  # type: ignore[arg-type]


@pytest.fixture
def arm_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    with running_sandbox(minimal_estate(), tmp_path / "sandbox") as server:
        # The app's credentials and clients of an earlier test's sandbox are forgotten too.
        connect_app(server, monkeypatch)
        yield server


def test_sdk_calls_are_child_spans_and_429s_are_counted(otel: Captured, arm_sandbox: object) -> None:
    from azure.mgmt.containerservice import ContainerServiceClient

    from ops.adapters.clients import management_client
    from ops.adapters.telemetry import instrument_sdk_calls
    from ops.config import load_settings

    instrument_sdk_calls()
    throttle_once(arm_sandbox, service="arm", path="/managedClusters/aks-test$", retry_after=1)
    client = management_client(load_settings(os.environ), ContainerServiceClient, subscription=SUBSCRIPTION)

    with telemetry.invocation("schedule_tick", capability="schedule"):
        assert client.managed_clusters.get("rg-aks", "aks-test").name == "aks-test"

    root = otel.span("schedule_tick")
    children = [s for s in otel.spans() if s.parent is not None and s.parent.span_id == root.context.span_id]
    assert any("ManagedClustersOperations.get" in s.name for s in children), [s.name for s in otel.spans()]
    assert {s.context.trace_id for s in otel.spans()} == {root.context.trace_id}
    http = [s for s in otel.spans() if (s.attributes or {}).get("http.response.status_code") == 429]
    assert http, "the throttled attempt is a span of its own"
    assert otel.added("ops.throttled_calls") == [({"service": "arm"}, 1)]


def test_ops_trace_prints_spans_to_stderr(tmp_path: Path) -> None:
    env = environment_without_settings()
    env["OPS_STATE_PATH"] = str(tmp_path / "state.db")
    done = subprocess.run(
        [sys.executable, "-m", "ops", "--trace", "--output", "json", "invoke", "health"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["function"] == "health"
    spans = [line for line in done.stderr.splitlines() if line.startswith("span ")]
    assert len(spans) == 1 and spans[0].startswith("span ops invoke "), done.stderr
    assert "ops.capability=cli" in spans[0] and "ops.run_id=" in spans[0]


def test_registry_and_kubernetes_calls_are_child_spans(otel: Captured, arm_sandbox: object) -> None:
    from ops.adapters.arm import ArmDirectory
    from ops.adapters.kube import kube_reader
    from ops.adapters.registry import registry_client
    from ops.adapters.telemetry import instrument_sdk_calls
    from ops.config import load_settings

    instrument_sdk_calls()
    throttle_once(arm_sandbox, service="kube:aks-test", path="/api/v1/pods", retry_after=0)
    settings = load_settings({**os.environ, "OPS_SUBSCRIPTIONS": SUBSCRIPTION})
    directory = ArmDirectory(settings)

    with telemetry.invocation("purge_schedule", capability="purge"):
        (registry,) = directory.list_registries()
        assert list(registry_client(settings, registry).list_repositories()) == ["payments/api"]
        (cluster,) = directory.list_clusters()
        assert list(kube_reader(settings, directory).list_image_uses(cluster))

    root = otel.span("purge_schedule")
    spans = otel.spans()
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert any("list_repository_names" in s.name for s in spans), [s.name for s in spans]

    def url(span: object) -> str:
        attributes = getattr(span, "attributes", None) or {}
        return str(attributes.get("url.full") or attributes.get("http.url") or "")

    kube = [s for s in spans if "/api/v1/pods" in url(s) or "/apis/apps/v1/" in url(s)]
    assert kube, [url(s) for s in spans]
    assert all(s.parent is not None for s in kube)
    assert otel.added("ops.throttled_calls") == [({"service": "kubernetes"}, 1)]
