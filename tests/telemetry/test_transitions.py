"""Failover transitions as telemetry: a real failover against the sandbox, built as the
triggers build it (tests/e2e/test_failover.py), records each phase change of the stamp.

Cases:
- failing over records normal → failing-over → failed-over, each an ``ops.transitions``
  point and a ``transition`` record naming the stamp; its actions are ``action`` records
  with status ``applied``;
- a watch that changes nothing records no transition.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.e2e.test_failover import fail_over, make_service, server, start_pointer
from tests.telemetry.conftest import Captured

__all__ = ["server"]  # the e2e module's sandbox fixture, used here as is


def test_failover_records_its_transitions(
    otel: Captured, server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)

    fail_over(server, service)

    transitions = [(r.from_state, r.to_state, r.target) for r in otel.events("transition")]
    stamp = service.policy.stamps[0].name
    assert transitions == [("normal", "failing-over", stamp), ("failing-over", "failed-over", stamp)]
    assert sorted(otel.added("ops.transitions"), key=str) == sorted(
        [
            ({"capability": "failover", "from_state": "normal", "to_state": "failing-over"}, 1),
            ({"capability": "failover", "from_state": "failing-over", "to_state": "failed-over"}, 1),
        ],
        key=str,
    )
    actions = otel.events("action")
    assert actions and {a.capability for a in actions} == {"failover"}
    assert {a.status for a in actions} == {"applied"}

    otel.records.clear()
    service.watch()
    assert otel.events("transition") == []
