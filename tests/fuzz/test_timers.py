"""Fuzzing the timer functions with timer status payloads (at least 300 cases each).

Cases: host-shaped timer statuses (``Schedule``, ``ScheduleStatus`` with times or not,
``IsPastDue``) whose values are any JSON, with extra keys; and payloads that are not a
status object at all, which the invoker refuses as the host never sends them. For every
case: nothing raises. A timer's payload never decides what it does, so its effects are
those of a normal run: dry runs here, and ``purge_schedule`` only enqueues; nothing
changes in the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.conftest import FUZZ, FuzzApp, assert_judged
from tests.fuzz.strategies import json_values

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
def dry_run(fuzz_app: FuzzApp) -> Iterator[None]:
    """Timer runs do real work each time; as dry runs, the sandbox stays as it is."""
    from ops.services import reset_services

    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("OPS_DRY_RUN", "true")
        reset_services()
        yield
    reset_services()


@pytest.mark.parametrize("function", ["schedule_tick", "gate_sweep"])
@FUZZ
@given(status=statuses | json_values)
def test_timer_payloads(fuzz_app: FuzzApp, dry_run: None, function: str, status: Any) -> None:
    outcome = fuzz_app.deliver(function, status)
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
