"""Remediation and failover transitions as telemetry, against the sandbox: a real failover
built as the triggers build it (tests/e2e/test_failover.py), and a real SNAT remediation.

Cases:
- failing over records normal → failing-over → failed-over, each an ``ops.transitions``
  point and a ``transition`` record naming the stamp; its actions are ``action`` records
  with status ``applied``;
- a watch that changes nothing records no transition;
- a remediation records steady → changing when its change is accepted, and changing →
  succeeded once the next call finds the operation done.
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
    points = {(p["from_state"], p["to_state"], p["capability"], n) for p, n in otel.added("ops.transitions")}
    assert points == {
        ("normal", "failing-over", "failover", 1),
        ("failing-over", "failed-over", "failover", 1),
    }
    actions = otel.events("action")
    assert actions and {a.capability for a in actions} == {"failover"}
    assert {a.status for a in actions} == {"applied"}

    otel.records.clear()
    service.watch()
    assert otel.events("transition") == []


def test_remediation_records_its_transitions(
    otel: Captured, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.remediate.service import Target
    from ops.services import get_services
    from tests.support.remediate import cluster_id, lb_id, remediate_estate
    from tests.support.sandbox import SUBSCRIPTION, app_sandbox, control

    settings = {"OPS_SUBSCRIPTIONS": SUBSCRIPTION, "OPS_STATE_PATH": str(tmp_path / "state.db")}
    with app_sandbox(remediate_estate(), tmp_path / "sandbox", monkeypatch, settings) as running:
        service = get_services().remediate_service(apply=True)
        assert (
            service.remediate(Target("snat", resource_id=lb_id("aks-snat"), source="a1")).status == "applied"
        )
        control(running, "POST", "clock", {"advance": 30})
        service.continue_pending(cluster_id("aks-snat"))

    transitions = [(r.capability, r.from_state, r.to_state, r.target) for r in otel.events("transition")]
    assert transitions == [
        ("remediate", "steady", "changing", "aks-snat"),
        ("remediate", "changing", "succeeded", "aks-snat"),
    ]
    assert sorted(p["to_state"] for p, _ in otel.added("ops.transitions")) == ["changing", "succeeded"]
