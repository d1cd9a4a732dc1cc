"""Telemetry of every function, read back from OpenTelemetry's in-memory exporter and reader.

Each function of function_app is invoked with a host-shaped payload, as in
tests/triggers, over services whose call applies a one-action plan through the real
executor. Cases, for each Event Grid, queue and timer function (gate_on_image_pushed,
purge_repository, runbook_worker, schedule_tick, purge_schedule, gate_sweep,
failover_watch, remediate_watch, alert_worker; a test fails when function_app registers
one not listed), dry run and applied:
- one span named after the function, with its capability, a run id and (for an event or
  a message) the event id;
- structured records on ops.audit: the plan, the action (kind, target, reason, status,
  dry_run) and the invocation's result, all naming the function, capability and run id;
- an ``ops.actions`` point with capability, kind and status; a dry run and an applied
  action differ in status and in dry_run, in records and in metric points alike.
Also: a rejected input leaves a ``rejected`` record (error, reason, field path), an
``ops.rejected_inputs`` point and an acknowledged invocation; a configuration error
fails the span and the invocation; the executor's worker threads keep the invocation
in their records; with telemetry off there are records but no spans; an HTTP function's
invocation has its span, its event id when given, and its handled or rejected result.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

import function_app
import ops.telemetry as telemetry
from ops import services as wiring
from ops.errors import ConfigError, InvalidInput
from ops.executor import ExecutionPolicy, apply_plan
from ops.plan import Action, Plan
from ops.state.sqlite import SqliteStateStore
from ops.triggers.invoking import invoke_function, list_functions
from tests.telemetry.conftest import Captured
from tests.triggers.test_handling import MESSAGE, PUSHED, TIMER

#: Every Event Grid, queue and timer function → (capability, a well-formed host-shaped
#: payload, whether its invocation has an event id).
FUNCTIONS = {
    "gate_on_image_pushed": ("gate", PUSHED, True),
    "purge_repository": ("purge", MESSAGE, True),
    "runbook_worker": ("runbook", {"run": "rb-20261203080000-0123456789"}, True),
    "schedule_tick": ("schedule", TIMER, False),
    "purge_schedule": ("purge", TIMER, False),
    "gate_sweep": ("gate", TIMER, False),
    "failover_watch": ("failover", TIMER, False),
    "remediate_watch": ("remediate", TIMER, False),
    "alert_worker": (
        "alerts",
        {"version": 1, "route": "snat", "claim": "0" * 40, "alert": {"data": {}}},
        True,
    ),
}


class Result:
    """What a service returns: enough for every trigger's outcome line."""

    failed: list[Any] = []
    gave_up_transiently = False
    status = "done"
    skipped = ""

    def to_dict(self) -> dict[str, str]:
        return {"summary": "done"}

    def log_line(self) -> str:
        return "done"


@dataclass
class PlanningService:
    """Every capability's entry points: each applies one action through the real executor."""

    capability: str
    store: SqliteStateStore
    dry_run: bool
    error: Exception | None = None
    actions: int = 1

    def _run(self, *_: Any) -> Result:
        if self.error is not None:
            raise self.error
        plan = Plan(
            self.capability,
            actions=tuple(
                Action("delete_manifest", f"reg/app@sha256:{i}", "untagged for 30d", "acr:reg")
                for i in range(self.actions)
            ),
        )
        apply_plan(
            plan,
            handlers={"delete_manifest": lambda action: None},
            store=self.store,
            policy=ExecutionPolicy(dry_run=self.dry_run, max_concurrency=4),
        )
        return Result()

    def __getattr__(self, name: str) -> Callable[..., Result]:
        """Every entry point a trigger calls (handle_event, sweep, tick, watch, …)."""
        return self._run


@dataclass
class FakeServices:
    """Stands in for ops.services.Services: every ``*_service`` is the planning service."""

    service: PlanningService

    def store(self) -> SqliteStateStore:
        return self.service.store

    def alert_webhook(self) -> PlanningService:
        """alert_worker's service: the webhook's ``work``."""
        return self.service

    def __getattr__(self, name: str) -> Callable[..., PlanningService]:
        if not name.endswith("_service"):
            raise AttributeError(name)
        return lambda **_: self.service


@pytest.fixture
def store() -> Any:
    state = SqliteStateStore(":memory:")
    yield state
    state.close()


@pytest.fixture
def serve(store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch) -> Callable[..., PlanningService]:
    def install(capability: str, **kwargs: Any) -> PlanningService:
        service = PlanningService(capability, store, **kwargs)
        monkeypatch.setattr(wiring, "get_services", lambda env=None: FakeServices(service))
        return service

    return install


def _event_id(name: str) -> str:
    return PUSHED["id"] if name == "gate_on_image_pushed" else ""


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "applied"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_invocation_has_its_span_records_and_metric_points(
    name: str, dry_run: bool, otel: Captured, serve: Callable[..., PlanningService]
) -> None:
    capability, payload, has_event = FUNCTIONS[name]
    serve(capability, dry_run=dry_run)

    invoke_function(function_app.app, name, payload)

    span = otel.span(name)
    attributes = dict(span.attributes or {})
    assert attributes["ops.function"] == name
    assert attributes["ops.capability"] == capability
    run_id = attributes["ops.run_id"]
    assert isinstance(run_id, str) and len(run_id) == 32
    if has_event:
        assert attributes["ops.event_id"]
        if _event_id(name):
            assert attributes["ops.event_id"] == _event_id(name)
    else:
        assert "ops.event_id" not in attributes
    assert span.status.status_code is StatusCode.UNSET

    status = "dry_run" if dry_run else "applied"
    (plan,) = otel.events("plan")
    (action,) = otel.events("action")
    (result,) = otel.events("invocation")
    for record in (plan, action, result):
        assert (record.function, record.capability, record.run_id) == (name, capability, run_id)
    assert (plan.actions, plan.dry_run) == (1, dry_run)
    assert json.loads(plan.by_kind) == {"delete_manifest": 1}
    assert (action.action_kind, action.target, action.reason) == (
        "delete_manifest",
        "reg/app@sha256:0",
        "untagged for 30d",
    )
    assert (action.status, action.dry_run) == (status, dry_run)
    assert result.result == "handled"

    points = otel.added("ops.actions")
    assert points == [
        (
            {
                "capability": capability,
                "action_kind": "delete_manifest",
                "status": status,
                "dry_run": dry_run,
            },
            1,
        )
    ]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_rejected_input_is_recorded_counted_and_acknowledged(
    name: str, otel: Captured, serve: Callable[..., PlanningService]
) -> None:
    capability, payload, _ = FUNCTIONS[name]
    serve(capability, dry_run=True, error=InvalidInput("data.target.digest", "a sha256 digest", "sha256:x"))

    (result,) = invoke_function(function_app.app, name, payload).results
    assert result["status"] == "rejected"

    (rejected,) = otel.events("rejected")
    assert (rejected.capability, rejected.function, rejected.error) == (capability, name, "InvalidInput")
    assert rejected.path == "data.target.digest"
    assert "expected a sha256 digest" in rejected.reason
    assert rejected.status == "recorded"
    (result,) = otel.events("invocation")
    assert (result.result, result.error) == ("rejected", "InvalidInput")
    assert otel.added("ops.rejected_inputs") == [
        ({"capability": capability, "function": name, "error": "InvalidInput"}, 1)
    ]
    assert otel.span(name).status.status_code is StatusCode.UNSET


def test_configuration_error_fails_the_span_and_the_invocation(
    otel: Captured, serve: Callable[..., PlanningService]
) -> None:
    serve("schedule", dry_run=True, error=ConfigError(["OPS_SCHEDULE_POLICY: not YAML"]))

    with pytest.raises(ConfigError):
        invoke_function(function_app.app, "schedule_tick", TIMER)

    span = otel.span("schedule_tick")
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    (result,) = otel.events("invocation")
    assert (result.result, result.error) == ("failed", "ConfigError")
    (rejected,) = otel.events("rejected")
    assert rejected.error == "ConfigError"


def test_worker_threads_keep_the_invocation(otel: Captured, serve: Callable[..., PlanningService]) -> None:
    serve("purge", dry_run=False, actions=8)

    invoke_function(function_app.app, "purge_schedule", TIMER)

    run_id = otel.span("purge_schedule").attributes["ops.run_id"]  # type: ignore[index]
    actions = otel.events("action")
    assert len(actions) == 8
    assert {(a.function, a.run_id, a.status) for a in actions} == {("purge_schedule", run_id, "applied")}
    assert otel.added("ops.actions")[0][1] == 8


def test_without_telemetry_there_are_records_but_no_spans(
    otel: Captured, serve: Callable[..., PlanningService]
) -> None:
    telemetry.disable()
    serve("gate", dry_run=True)

    invoke_function(function_app.app, "gate_sweep", TIMER)

    assert otel.spans() == []
    (action,) = otel.events("action")
    assert (action.function, action.status) == ("gate_sweep", "dry_run")


def test_every_event_queue_and_timer_function_is_covered() -> None:
    registered = {
        name
        for name, function in list_functions(function_app.app).items()
        if function.get_trigger().type in {"eventGridTrigger", "queueTrigger", "timerTrigger"}
    }
    missing = sorted(registered - set(FUNCTIONS))
    assert not missing, f"add a payload for {missing} to FUNCTIONS in tests/telemetry/test_invocations.py"


def test_http_functions_have_their_span_and_records(
    otel: Captured, serve: Callable[..., PlanningService]
) -> None:
    import azure.functions as func

    from ops.triggers.handling import respond_to_request

    serve("schedule", dry_run=True)

    def ok(services: Any) -> func.HttpResponse:
        services.schedule_service().tick()
        return func.HttpResponse("{}", status_code=200)

    def bad(services: Any) -> func.HttpResponse:
        raise InvalidInput("params.cluster", "a cluster name", "")

    assert respond_to_request("runbook", ok, capability="schedule", event_id="req-1").status_code == 200
    assert respond_to_request("runbook", bad, capability="schedule").status_code == 400

    first, second = [s for s in otel.spans() if s.name == "runbook"]
    assert first.attributes["ops.event_id"] == "req-1"  # type: ignore[index]
    assert "ops.event_id" not in (second.attributes or {})
    assert [r.result for r in otel.events("invocation")] == ["handled", "rejected"]
    (action,) = otel.events("action")
    assert (action.function, action.status) == ("runbook", "dry_run")
    (rejected,) = otel.events("rejected")
    assert (rejected.function, rejected.path) == ("runbook", "params.cluster")
