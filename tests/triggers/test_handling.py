"""The error table of ops.triggers.handling, through every trigger, as the Functions host calls it.

Each function of function_app is invoked with a host-shaped payload (an ImagePushed
event, a queue message, a timer status) over fake services whose call raises one error.
Cases, for each of gate_on_image_pushed, purge_repository, schedule_tick,
purge_schedule and gate_sweep:
- InvalidInput is recorded (capability, function, field path, body) and acknowledged;
- TransientError raises and records nothing;
- ConfigError, NotFound, Conflict, Forbidden, CapExceeded and PermanentError are
  recorded (their reason in words, without the class name) and raised, so that the host
  keeps the input;
- any other exception raises, records nothing, and is logged with its traceback;
- invalid settings (building the services fails) raise ConfigError like a bad policy;
- a rejection that cannot be recorded is raised, never acknowledged;
- success returns what the function did and why (status, reason, the service's details)
  and logs it as one line (with "past due" for a late timer); a rejection returns
  ``rejected`` with the error as its reason.
Also: a malformed ImagePushed fails in the real parser and is acknowledged with its path;
a redelivered rejection is recorded once; HTTP functions answer each error with its
status and a JSON body (400 names the field path, 503 carries Retry-After), and raise
on a bug.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

import function_app
from ops import services as wiring
from ops.errors import (
    CapExceeded,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    PermanentError,
    TransientError,
    describe_error,
)
from ops.rejections import KIND
from ops.services import reset_services
from ops.state.sqlite import SqliteStateStore
from ops.state.store import AuditRecord, StateStore
from ops.triggers.handling import respond_to_request
from ops.triggers.invoking import invoke_function

EVENTS = Path(__file__).parents[1] / "fixtures" / "events"
PUSHED = json.loads((EVENTS / "acr_image_pushed_eventgrid.json").read_text())[0]
EVENT = PUSHED["id"]
REGISTRY_ID = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/reg"
MESSAGE = {"run": "r1", "batch": 0, "repositories": ["a"],
           "registry": {"name": "reg", "id": REGISTRY_ID, "loginServer": "reg.azurecr.io"}}  # fmt: skip
TIMER = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}

#: function → (capability, host-shaped payload)
FUNCTIONS = {
    "gate_on_image_pushed": ("gate", PUSHED),
    "purge_repository": ("purge", MESSAGE),
    "schedule_tick": ("schedule", TIMER),
    "purge_schedule": ("purge", TIMER),
    "gate_sweep": ("gate", TIMER),
}
#: what a rejection record keeps of the delivered input (timers deliver none)
KEPT_BODY = {"gate_on_image_pushed": f'"id": "{EVENT}"', "purge_repository": '"run": "r1"'}

RECORDED_AND_RAISED = [
    ConfigError("gate.rules[0].maxSeverity: 'severe' is not a severity"),
    NotFound("registry reg is gone"),
    Conflict("the run record changed"),
    Forbidden("the identity lacks AcrPull on reg"),
    CapExceeded("plan has 900 deletes; the cap is 200"),
    PermanentError("400 from ARM"),
]


@dataclass
class Result:
    """What a fake service returns: enough for every trigger's outcome line."""

    summary: str = "no gate rule covers contosoprod/foo"
    failed: list[Any] = field(default_factory=list)
    gave_up_transiently: bool = False
    skipped: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"status": "ignored", "detail": self.summary}

    def log_line(self) -> str:
        return self.summary


@dataclass
class FakeService:
    """Every capability's entry points; each raises ``error`` when one is given."""

    error: BaseException | None
    calls: list[Any] = field(default_factory=list)

    def _run(self, *args: Any) -> Result:
        self.calls.append(args)
        if self.error is not None:
            raise self.error
        return Result()

    def handle_event(self, event: Any) -> Result:
        return self._run(event)

    def sweep(self) -> Result:
        return self._run()

    def process_batch(self, message: Any) -> Result:
        return self._run(message)

    def schedule(self) -> Result:
        return self._run()

    def tick(self) -> Result:
        return self._run()


@dataclass
class FakeServices:
    """Stands in for ops.services.Services: an in-memory store and one fake service."""

    state: StateStore
    service: FakeService

    def store(self) -> StateStore:
        return self.state

    def gate_service(self, **_: Any) -> FakeService:
        return self.service

    def purge_service(self, **_: Any) -> FakeService:
        return self.service

    def schedule_service(self, **_: Any) -> FakeService:
        return self.service


@pytest.fixture
def store() -> Iterator[SqliteStateStore]:
    state = SqliteStateStore(":memory:")
    yield state
    state.close()


def fake(monkeypatch: pytest.MonkeyPatch, store: StateStore, error: BaseException | None) -> FakeService:
    service = FakeService(error)
    services = FakeServices(store, service)
    monkeypatch.setattr(wiring, "get_services", lambda env=None: services)
    return service


def rejections(store: StateStore) -> list[AuditRecord]:
    return [r for r in store.query_audit(limit=1000) if r.kind == KIND]


def function_log(caplog: pytest.LogCaptureFixture, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == f"ops.triggers.{name}"]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_invalid_input_is_recorded_and_acknowledged(
    name: str, store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    capability, payload = FUNCTIONS[name]
    fake(monkeypatch, store, InvalidInput("data.target.digest", "a sha256 digest", "sha256:nope"))
    why = "invalid input: data.target.digest: expected a sha256 digest (got 'sha256:nope')"
    rejected = {"status": "rejected", "reason": why, "recorded": True}
    assert invoke_function(function_app.app, name, payload).results == [rejected]
    (record,) = rejections(store)
    assert (record.capability, record.target, record.status) == (capability, name, "rejected")
    assert record.reason == "invalid input: data.target.digest: expected a sha256 digest (got 'sha256:nope')"
    assert record.detail["path"] == "data.target.digest"
    if name in KEPT_BODY:
        assert KEPT_BODY[name] in record.detail["body"]
    else:
        assert "body" not in record.detail
    (line,) = function_log(caplog, name)
    assert line.levelno == logging.ERROR and line.getMessage().startswith(f"{name} rejected: invalid input:")


@pytest.mark.parametrize("name", FUNCTIONS)
def test_transient_errors_raise_and_record_nothing(
    name: str, store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake(monkeypatch, store, TransientError("503 from the registry", retry_after=3))
    with pytest.raises(TransientError, match="503 from the registry"):
        invoke_function(function_app.app, name, FUNCTIONS[name][1])
    assert rejections(store) == []
    (line,) = function_log(caplog, name)
    assert line.levelno == logging.WARNING and "temporary failure: 503 from the registry" in line.getMessage()


@pytest.mark.parametrize("error", RECORDED_AND_RAISED, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_config_and_permanent_errors_are_recorded_and_raised(
    name: str,
    error: Exception,
    store: SqliteStateStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    capability, payload = FUNCTIONS[name]
    fake(monkeypatch, store, error)
    with pytest.raises(type(error)) as raised:
        invoke_function(function_app.app, name, payload)
    assert raised.value is error
    (record,) = rejections(store)
    assert (record.capability, record.target) == (capability, name)
    assert record.reason == describe_error(error) and type(error).__name__ not in record.reason
    (line,) = function_log(caplog, name)
    assert line.levelno == logging.ERROR
    assert line.getMessage() == f"{name} failed: {describe_error(error)}"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_a_bug_raises_with_its_traceback_and_records_nothing(
    name: str, store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake(monkeypatch, store, KeyError("registry"))
    with pytest.raises(KeyError):
        invoke_function(function_app.app, name, FUNCTIONS[name][1])
    assert rejections(store) == []
    (line,) = function_log(caplog, name)
    assert line.levelno == logging.ERROR and line.exc_info is not None
    assert "failed: unexpected KeyError" in line.getMessage()


@pytest.mark.parametrize("name", FUNCTIONS)
def test_invalid_settings_raise_like_a_bad_policy(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("OPS_STATE_PATH", str(tmp_path / "state.db"))
    monkeypatch.setenv("OPS_MAX_ACTIONS_PER_RUN", "lots")
    reset_services()
    try:
        with pytest.raises(ConfigError, match="OPS_MAX_ACTIONS_PER_RUN"):
            invoke_function(function_app.app, name, FUNCTIONS[name][1])
    finally:
        reset_services()
    assert not (tmp_path / "state.db").exists()  # no store could be opened: only the host's log says it


class RefusingStore(SqliteStateStore):
    def append_audit(self, record: AuditRecord) -> bool:
        raise TransientError("the audit table answered 503")


@pytest.mark.parametrize("name", ["gate_on_image_pushed", "purge_repository"])
def test_an_unrecorded_rejection_is_not_acknowledged(
    name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = RefusingStore(":memory:")
    fake(monkeypatch, refusing, InvalidInput("run", "a run recorded by purge_schedule", "r1"))
    with pytest.raises(InvalidInput):  # the host keeps the input until it can be recorded
        invoke_function(function_app.app, name, FUNCTIONS[name][1])
    messages = [r.getMessage() for r in function_log(caplog, name)]
    assert messages[-1].startswith(f"{name} failed (not recorded): invalid input: run:")


WHY = "no gate rule covers contosoprod/foo"


@pytest.mark.parametrize(("name", "past_due", "line", "result"), [
    ("gate_on_image_pushed", False, f"gate_on_image_pushed: ignored: {WHY}",
     {"status": "ignored", "reason": WHY, "event": EVENT, "detail": WHY}),
    ("purge_repository", False, f"purge_repository: ignored: {WHY}",
     {"status": "ignored", "reason": WHY, "detail": WHY}),
    ("schedule_tick", True, f"schedule_tick (past due): done: {WHY}", {"status": "done", "reason": WHY}),
    ("purge_schedule", True, f"purge_schedule (past due): ignored: {WHY}",
     {"status": "ignored", "reason": WHY, "detail": WHY}),
    ("gate_sweep", False, f"gate_sweep: ignored: {WHY}", {"status": "ignored", "reason": WHY, "detail": WHY}),
])  # fmt: skip
def test_success_returns_and_logs_what_was_done_and_why(
    name: str,
    past_due: bool,
    line: str,
    result: dict[str, Any],
    store: SqliteStateStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    service = fake(monkeypatch, store, None)
    payload = dict(TIMER, IsPastDue=True) if past_due else FUNCTIONS[name][1]
    assert invoke_function(function_app.app, name, payload).results == [result]
    assert len(service.calls) == 1
    assert [r.getMessage() for r in function_log(caplog, name)] == [line]
    assert rejections(store) == []


def test_a_malformed_event_is_acknowledged_with_its_path(
    store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = fake(monkeypatch, store, None)
    broken = json.loads(json.dumps(PUSHED))
    broken["data"]["target"]["digest"] = "sha256:not-a-digest"
    for _ in range(2):  # Event Grid delivers at least once: the redelivery is not recorded again
        (result,) = invoke_function(function_app.app, "gate_on_image_pushed", broken).results
        assert result["status"] == "rejected" and "data.target.digest" in result["reason"]
    assert service.calls == []
    (record,) = rejections(store)
    assert record.detail["path"] == "data.target.digest"
    assert "sha256:not-a-digest" in record.detail["body"]


def test_schedule_actions_that_gave_up_transiently_fail_the_run(
    store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = fake(monkeypatch, store, None)
    monkeypatch.setattr(
        service, "tick", lambda: Result("1 stop failed", failed=[object()], gave_up_transiently=True)
    )
    with pytest.raises(TransientError, match=r"1 action\(s\) failed; see the audit trail \(1 stop failed\)"):
        invoke_function(function_app.app, "schedule_tick", TIMER)
    assert rejections(store) == []


# ------------------------------------------------------------------------------ HTTP

HTTP = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
PROBE: dict[str, BaseException] = {}


@HTTP.route(route="runbooks/{name}", methods=["POST"])
def runbook_probe(req: func.HttpRequest) -> func.HttpResponse:
    """An HTTP function shaped like the runbooks to come: its call raises PROBE["error"]."""

    def handle(services: Any) -> func.HttpResponse:
        raise PROBE["error"]

    return respond_to_request("runbook_probe", handle, capability="runbook", body=req.get_body())


REQUEST = {"method": "POST", "url": "http://localhost:7071/api/runbooks/purge", "body": {"apply": True}}


@pytest.mark.parametrize(("error", "status", "recorded"), [
    (InvalidInput("params.registry", "a registry name", 7), 400, True),
    (TransientError("429 from ARM", retry_after=4.2), 503, False),
    (ConfigError("OPS_GATE_POLICY: not YAML"), 500, True),
    (NotFound("no runbook named purge"), 404, True),
    (Conflict("a run holds the lease"), 409, True),
    (Forbidden("the identity lacks Contributor"), 502, True),
    (CapExceeded("plan has 900 actions; the cap is 200"), 422, True),
    (PermanentError("400 from ARM"), 500, True),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))  # fmt: skip
def test_http_answers_each_error_with_its_status(
    error: Exception, status: int, recorded: bool, store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake(monkeypatch, store, None)
    monkeypatch.setitem(PROBE, "error", error)
    (answer,) = invoke_function(HTTP, "runbook_probe", REQUEST).results
    assert answer["status"] == status and answer["mimetype"] == "application/problem+json"
    assert answer["body"]["status"] == status and answer["body"]["detail"] == str(error)
    assert answer["body"]["error"] == type(error).__name__ and answer["body"]["message"] == str(error)
    if isinstance(error, InvalidInput):
        assert answer["body"]["path"] == "params.registry"
    if isinstance(error, TransientError):
        assert answer["headers"]["Retry-After"] == "4"
    records = rejections(store)
    assert [(r.capability, r.target) for r in records] == ([("runbook", "runbook_probe")] if recorded else [])


def test_http_raises_on_a_bug(store: SqliteStateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    fake(monkeypatch, store, None)
    monkeypatch.setitem(PROBE, "error", ZeroDivisionError("division by zero"))
    with pytest.raises(ZeroDivisionError):  # the host answers 500
        invoke_function(HTTP, "runbook_probe", REQUEST)
    assert rejections(store) == []
