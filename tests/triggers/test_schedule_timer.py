"""The schedule_tick timer function through the local invoker.

Cases: it is registered as a timer on ``%SCHEDULE_TICK%``; an invalid schedule policy is
recorded as a ``rejected`` audit record naming the bad field, once a day however often
the timer runs, and every run raises ConfigError, so that it shows as failed (retrying
cannot fix a policy, but nothing must look fine either); a Resource Graph that keeps failing with
503 makes the function raise TransientError, so the run shows as failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import function_app
from ops.errors import ConfigError, TransientError
from ops.services import get_services, reset_services
from ops.triggers.invoking import invoke_function, list_functions

TIMER = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": True}


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("OPS_STATE_PATH", str(tmp_path / "state.db"))
    reset_services()
    yield
    reset_services()


def test_registered_on_its_timer_setting() -> None:
    trigger = list_functions(function_app.app)["schedule_tick"].get_trigger()
    assert (trigger.type, trigger.schedule) == ("timerTrigger", "%SCHEDULE_TICK%")


def test_an_invalid_policy_is_recorded_once_and_fails_every_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "OPS_SCHEDULE_POLICY", "defaults:\n  - selector: {environment: dev}\n    timezone: Mars/Base\n"
    )
    reset_services()
    for _ in range(3):  # a tick every few minutes: each fails, one audit record says why
        with pytest.raises(ConfigError, match="Mars/Base"):
            invoke_function(function_app.app, "schedule_tick", TIMER)
    (record,) = get_services().store().query_audit(capability="schedule")
    assert record.status == "rejected"
    assert "schedule.defaults[0].timezone: 'Mars/Base' is not an IANA time zone" in record.reason


def test_a_failing_resource_graph_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from ops.adapters.graph import GraphClusters

    def unavailable(self: GraphClusters) -> list[object]:
        raise TransientError("Resource Graph query: (ServiceUnavailable) try again", retry_after=5)

    monkeypatch.setattr(GraphClusters, "list_clusters", unavailable)
    with pytest.raises(TransientError):
        invoke_function(function_app.app, "schedule_tick", TIMER)
    assert get_services().store().query_audit(capability="schedule") == []
