"""SIGTERM and SIGINT for applying CLI runs (ops.interrupts), and how far a stopped run got.

Cases:
- inside ``interruptible`` the first SIGTERM only sets the flag, and every execution policy
  the process's services build polls it: a plan applied after it starts no action, each
  reported "not attempted: interrupted"; on leaving, the services forget the flag and the
  default handlers are back;
- outside the main thread, or when not enabled, signals keep their default behaviour;
- ``describe_interruption`` counts started and done actions the same from outcomes and from
  outcomes as a run record keeps them, and names the lease it released.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.executor import INTERRUPTED, apply_plan, describe_interruption
from ops.interrupts import interruptible, stop_on_signals
from ops.plan import Action, Outcome, Plan, Status
from ops.services import get_services, reset_services


@pytest.fixture(autouse=True)
def services(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("OPS_STATE_PATH", str(tmp_path / "state.db"))
    reset_services()
    yield
    reset_services()


def action(name: str) -> Action:
    return Action("stop_cluster", name, "test", "arm")


def test_sigterm_stops_every_plan_the_process_applies() -> None:
    applied: list[str] = []
    plan = Plan("schedule", [action("a"), action("b")])
    with interruptible() as stop:
        policy = get_services().execution_policy(apply=True)
        signal.raise_signal(signal.SIGTERM)  # handled: the test process lives on
        assert stop.is_set()
        outcomes = apply_plan(
            plan,
            handlers={"stop_cluster": lambda a: applied.append(a.target)},
            store=get_services().store(),
            policy=policy,
        )
    assert applied == [] and [o.detail for o in outcomes] == [INTERRUPTED, INTERRUPTED]
    assert get_services().stop is None and get_services().execution_policy(apply=True).stop is None
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_signals_keep_their_default_off_the_main_thread_or_when_disabled() -> None:
    before = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a pytest-xdist worker
    with stop_on_signals(enabled=False):
        assert signal.getsignal(signal.SIGINT) is before
    seen: list[object] = []

    def elsewhere() -> None:
        with stop_on_signals():
            seen.append(signal.getsignal(signal.SIGINT))

    worker = threading.Thread(target=elsewhere)
    worker.start()
    worker.join()
    assert seen == [before]


def test_describe_interruption_from_outcomes_and_run_records() -> None:
    outcomes = [
        Outcome(action("a"), Status.APPLIED, 1),
        Outcome(action("b"), Status.FAILED, 2, "ServerBusy"),
        Outcome(action("c"), Status.FAILED, 0, INTERRUPTED, retryable=True),
    ]
    expected = "interrupted after 2 of 3 action(s) (1 done, 1 failed); "
    assert describe_interruption(outcomes) == expected + "run it again to finish"
    assert describe_interruption([o.to_dict() for o in outcomes], lease="schedule-tick") == (
        expected + "the schedule-tick lease is released: run it again to finish"
    )
