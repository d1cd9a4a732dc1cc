"""Fuzzing every timer function with timer status payloads (at least 300 cases each).

Cases: host-shaped timer statuses (``Schedule``, ``ScheduleStatus`` with times or not,
``IsPastDue``) whose values are any JSON, with extra keys; and payloads that are not a
status object at all, which the invoker refuses as the host never sends them. For every
case: nothing raises. A timer's payload never decides what it does, so its effects are
those of a normal run: dry runs here (``failover_watch`` against a failover estate of its
own), and ``purge_schedule`` only enqueues; nothing changes in the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import function_app
from ops.triggers.invoking import list_functions
from tests.fuzz.conftest import FUZZ, FuzzApp, assert_judged
from tests.fuzz.strategies import json_values
from tests.support.failover import failover_estate, failover_policy
from tests.support.sandbox import connect_app, running_sandbox

TIMES = st.sampled_from(["2026-11-26T03:00:00+00:00", "0001-01-01T00:00:00", "", "yesterday"]) | json_values
statuses = st.fixed_dictionaries(
    {
        "Schedule": st.fixed_dictionaries({"AdjustForDST": st.booleans()}) | json_values,
        "ScheduleStatus": st.fixed_dictionaries({"Last": TIMES, "Next": TIMES, "LastUpdated": TIMES})
        | json_values,
        "IsPastDue": st.booleans() | json_values,
    },
    optional={"Extra": json_values},
)


@pytest.fixture
def dry_app(fuzz_app: FuzzApp) -> Iterator[FuzzApp]:
    """Timer runs do real work each time; as dry runs, the sandbox stays as it is."""
    from ops.services import reset_services

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("OPS_DRY_RUN", "true")
        reset_services()
        yield fuzz_app
    reset_services()


#: Every timer function of the app, found from its registrations (a new one is fuzzed too).
TIMERS = sorted(
    name
    for name, fn in list_functions(function_app.app).items()
    if fn.get_trigger().type == "timerTrigger" and name != "purge_schedule"
)


@pytest.fixture
def failover_app(fuzz_app: FuzzApp, tmp_path: Path) -> Iterator[FuzzApp]:
    """failover_watch needs its own estate and policy: a stamp with front doors, Traffic
    Manager and App Configuration, in a sandbox of its own (dry runs)."""
    from ops.services import reset_services

    with (
        running_sandbox(failover_estate(stamps=1), tmp_path / "sandbox") as server,
        pytest.MonkeyPatch.context() as monkeypatch,
    ):
        settings = {
            "OPS_FAILOVER_POLICY": json.dumps(failover_policy(server, stamps=1)),
            "OPS_STATE_PATH": str(tmp_path / "state.db"),
            "OPS_DRY_RUN": "true",
            "AzureWebJobsStorage": None,
        }
        connect_app(server, monkeypatch, settings)
        yield FuzzApp(server, fuzz_app.lines)
    reset_services()  # back to the fuzz sandbox (its env and clients are restored)


@pytest.mark.parametrize("function", TIMERS)
@FUZZ
@given(status=statuses | json_values)
def test_timer_payloads(request: pytest.FixtureRequest, function: str, status: Any) -> None:
    app: FuzzApp = request.getfixturevalue("failover_app" if function == "failover_watch" else "dry_app")
    outcome = app.deliver(function, status)
    assert_judged(outcome, status)
    assert not outcome.changed


@FUZZ
@given(status=statuses | json_values)
def test_purge_schedule_payloads(fuzz_app: FuzzApp, status: Any) -> None:
    """Applying: the first run enqueues (a schedule never deletes by itself), and every later
    one is skipped while that run may still delete."""
    outcome = fuzz_app.deliver("purge_schedule", status)
    assert_judged(outcome, status)
    assert not outcome.changed
