"""Failover and verified failback against the sandbox, through the real SDKs.

The service is built as the triggers build it (``Services.failover_service``), with its
clock on the sandbox clock, which the tests move forward to wait out hysteresis.

Cases: a full failover (pointer, then traffic, then routing) and a failback that waits for
the stable period and the consecutive checks, then returns routing, traffic and pointer;
a duplicate and an out-of-order (older, Resolved) signal change nothing; a flap during
failback stops it and returns to failed-over, undoing the steps it had taken, and a later
failback still moves every path back; both regions
impaired: nothing moves and the refusal is recorded; the last enabled origin is never
disabled; ARM's refusal of the replication change is reported, retried a bounded number of
times by the watch, and then paged, while pointer and traffic have moved; two concurrent
watchers give one actor; a failure mid-failover (an injected ARM error on the traffic step)
leaves the stamp failing-over and the next watch resumes it to the same end state; an actor
that died with an origin change landed but unrecorded: the next watch verifies the change
in Front Door rather than waiting out its claim, and fails over with one audit record per
action; the
stamp's lease lasts OPS_LEASE_DURATION: an actor that died holding it blocks the stamp (the
refusal names it) until then, and the next watch takes it over and fails over; an actor
whose lease is lost mid-failover takes no further step, and the next watch resumes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.failover.machine import Signal
from ops.failover.service import FailoverService
from sandbox.server import SandboxServer
from tests.support.failover import POINTER_KEY, PRIMARY, SECONDARY, failover_estate, failover_policy
from tests.support.sandbox import connect_app, control, running_sandbox

HYSTERESIS = {"stableFor": "2m", "onlineChecks": 2, "maxFailoversPerDay": 3}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SandboxServer]:
    estate = failover_estate(stamps=1)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    with running_sandbox(estate, tmp_path / "sandbox") as running:
        yield running


def make_service(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **stamp: Any
) -> FailoverService:
    policy = failover_policy(server, stamps=1, hysteresis=HYSTERESIS, **stamp)
    connect_app(
        server,
        monkeypatch,
        {
            "OPS_FAILOVER_POLICY": json.dumps(policy),
            "OPS_STATE_PATH": str(tmp_path / "state.db"),
            "OPS_DRY_RUN": "false",
            "AzureWebJobsStorage": None,
        },
    )
    from ops.services import get_services

    service = get_services().failover_service()
    service.clock = lambda: sandbox_now(server)
    return service


def sandbox_now(server: SandboxServer) -> datetime:
    return datetime.fromisoformat(control(server, "GET", "clock")["now"])


def advance(server: SandboxServer, seconds: float) -> None:
    control(server, "POST", "clock", {"advance": seconds})


def impair(server: SandboxServer, region: str, impaired: bool = True) -> None:
    control(server, "POST", f"regions/{region}", {"impaired": impaired})


def paths(server: SandboxServer) -> dict[str, Any]:
    """Where the stamp's write paths point, read from the sandbox's state."""
    state = control(server, "GET", "state")
    regions = control(server, "GET", "regions")["regionalEndpoints"]["contosopay000"]
    endpoint_region = {v: k for k, v in regions.items()}
    pointer = next(kv["value"] for kv in state["failover"]["appConfigurations"][0]["keyValues"])
    origins = state["failover"]["frontDoors"][0]["originGroups"][0]["origins"]
    endpoints = state["failover"]["trafficManagers"][0]["endpoints"]
    replicas = state["registries"][0]["replications"]
    return {
        "pointer": endpoint_region.get(pointer, pointer),
        "origins": {o["name"]: o["enabledState"] for o in origins},
        "priorities": {e["name"]: e["priority"] for e in endpoints},
        "routed": {r["location"]: r.get("regionEndpointEnabled", True) for r in replicas},
    }


def signal(
    service: FailoverService, region: str, active: bool, source: str = "servicehealth:ABC1-DEF"
) -> Any:
    return service.handle_signals([Signal(region, source, active, service.clock(), "test incident")])


def normal_paths() -> dict[str, Any]:
    return {
        "pointer": PRIMARY,
        "origins": {PRIMARY: "Enabled", SECONDARY: "Enabled"},
        "priorities": {PRIMARY: 1, SECONDARY: 2},
        "routed": {PRIMARY: True, SECONDARY: True},
    }


FAILED_OVER = {
    "pointer": SECONDARY,
    "origins": {PRIMARY: "Disabled", SECONDARY: "Enabled"},
    "priorities": {PRIMARY: 3, SECONDARY: 2},
    "routed": {PRIMARY: False, SECONDARY: True},
}


def start_pointer(service: FailoverService) -> None:
    """Point CI at the primary, as it would be before any incident."""
    from ops.plan import Action

    stamp = service.policy.stamps[0]
    service.paths.set_pointer(
        Action(
            "set_pointer",
            POINTER_KEY,
            "setup",
            "appconfig",
            {
                "store": stamp.pointer.store,
                "key": POINTER_KEY,
                "label": stamp.pointer.label,
                "value": stamp.pointer.endpoints[PRIMARY],
                "etag": None,
            },
        )
    )


def fail_over(server: SandboxServer, service: FailoverService) -> None:
    impair(server, PRIMARY)
    result = signal(service, PRIMARY, True)
    assert [s.decision for s in result.stamps] == ["failover"]
    assert result.stamps[0].phase == "failed-over"


def heal_and_wait(server: SandboxServer, service: FailoverService) -> None:
    impair(server, PRIMARY, False)
    signal(service, PRIMARY, False)


def test_full_failover_and_verified_failback(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    assert paths(server) == normal_paths()
    fail_over(server, service)
    assert paths(server) == FAILED_OVER
    order = [
        r["operation"]
        for r in control(server, "GET", "requests")["requests"]
        if r["method"] in ("PUT", "PATCH")
    ]
    assert order.index("afd_origins.update") < order.index("replications.update")

    heal_and_wait(server, service)
    first = service.watch().stamps[0]
    assert first.decision == "wait" and "not yet 2m" in first.reason  # hysteresis holds it
    assert paths(server) == FAILED_OVER
    advance(server, 150)
    decisions = [service.watch().stamps[0].decision for _ in range(5)]
    # two consecutive checks, then routing, traffic, pointer: one step per tick
    assert decisions == ["wait", "failback-step", "failback-step", "failback", "none"]
    assert paths(server) == normal_paths()
    assert service.status()[0]["phase"] == "normal"


def test_duplicates_and_out_of_order_signals_change_nothing(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    impair(server, PRIMARY)
    at = service.clock()
    active = Signal(PRIMARY, "servicehealth:T1", True, at, "incident")
    assert service.handle_signals([active]).signals == 1
    writes = len(control(server, "GET", "requests")["requests"])
    again = service.handle_signals([active])
    assert again.signals == 0 and [s.decision for s in again.stamps] == ["wait"]
    older = Signal(PRIMARY, "servicehealth:T1", False, at.replace(year=at.year - 1), "stale resolve")
    assert service.handle_signals([older]).signals == 0
    assert service.status()[0]["regions"][PRIMARY]["impaired"] is True
    arm_writes = [
        r for r in control(server, "GET", "requests")["requests"][writes:] if r["method"] in ("PUT", "PATCH")
    ]
    assert arm_writes == []


def test_flap_during_failback_returns_to_failed_over(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    fail_over(server, service)
    heal_and_wait(server, service)
    advance(server, 150)
    service.watch()
    assert service.watch().stamps[0].decision == "failback-step"  # routing is back
    assert paths(server)["routed"][PRIMARY] is True
    impair(server, PRIMARY)  # the region falters again: its endpoints stop answering
    outcome = service.watch().stamps[0]
    assert outcome.decision == "flap" and outcome.phase == "failed-over"
    assert paths(server) == FAILED_OVER
    assert service.status()[0]["onlineChecks"] == 0
    # healed for good: the second failback moves everything back (its actions are new work)
    heal_and_wait(server, service)
    advance(server, 150)
    decisions = [service.watch().stamps[0].decision for _ in range(4)]
    assert decisions == ["wait", "failback-step", "failback-step", "failback"]
    assert paths(server) == normal_paths()


def test_both_regions_impaired_does_nothing_and_says_so(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    impair(server, SECONDARY)
    signal(service, SECONDARY, True, "resourcehealth:secondary")
    impair(server, PRIMARY)
    outcome = signal(service, PRIMARY, True).stamps[0]
    assert outcome.decision == "refuse" and "nowhere healthy" in outcome.reason
    assert paths(server) == normal_paths()
    assert "nowhere healthy" in service.status()[0]["note"]


def test_last_enabled_origin_is_never_disabled(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    # Someone disabled the secondary's origin by hand: the primary's is the last enabled one.
    from azure.mgmt.cdn import CdnManagementClient

    from tests.support.sandbox import arm_client

    cdn = arm_client(CdnManagementClient, server)
    cdn.afd_origins.begin_update(
        "rg-edge", "afd-payments0", "og-api", SECONDARY, {"properties": {"enabledState": "Disabled"}}
    ).result()
    impair(server, PRIMARY)
    outcome = signal(service, PRIMARY, True).stamps[0]
    assert outcome.phase == "failed-over"
    assert outcome.plan is not None
    assert [g.reason for g in outcome.plan.protected] == [
        "protected: last enabled origin in a healthy region"
    ]
    assert paths(server)["origins"] == {PRIMARY: "Enabled", SECONDARY: "Disabled"}
    assert paths(server)["pointer"] == SECONDARY


def test_arm_refusal_of_the_routing_change_is_reported_and_bounded(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    control(server, "PATCH", "regions", {"replicationWritesWhenHomeDown": "refuse"})
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    fail_over(server, service)
    moved = paths(server)
    assert moved["pointer"] == SECONDARY and moved["origins"][PRIMARY] == "Disabled"
    assert moved["routed"][PRIMARY] is True  # refused: still routed
    status = service.status()[0]
    assert status["routingAttempts"] == 1 and "home region eastus2 is unavailable" in status["routingRefused"]
    assert [service.watch().stamps[0].decision for _ in range(3)] == ["failover", "failover", "page"]
    assert service.status()[0]["routingAttempts"] == 3
    assert "a person must finish it" in service.status()[0]["note"]


def test_two_concurrent_watchers_give_one_actor(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    impair(server, PRIMARY)
    service.handle_signals([])  # nothing yet
    from ops.failover.machine import RegionHealth

    health = RegionHealth(
        PRIMARY, {"servicehealth:X": {"active": True, "at": service.clock().isoformat(), "detail": "x"}}
    )
    service.store.put_record("failover-regions", PRIMARY, health.to_dict(), etag=None)
    other = FailoverService(
        policy=service.policy,
        paths=service.paths,
        store=service.store,
        execution=service.execution,
        clock=service.clock,
    )
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def run(svc: FailoverService) -> None:
        barrier.wait()
        results.append(svc.watch().stamps[0])

    threads = [threading.Thread(target=run, args=(s,)) for s in (service, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    decisions = sorted(r.decision for r in results)
    assert decisions in (["busy", "failover"], ["failover", "wait"])
    writes = [
        r for r in control(server, "GET", "requests")["requests"] if r["operation"] == "afd_origins.update"
    ]
    assert len(writes) == 1
    assert paths(server) == FAILED_OVER


def test_a_failure_mid_failover_resumes_to_the_same_end_state(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    control(
        server,
        "POST",
        "faults",
        # every try of the traffic step fails (the SDK's own retries and the executor's)
        {
            "kind": "error",
            "service": "arm",
            "method": "PATCH",
            "path": "/origins/",
            "status": 500,
            "count": 8,
        },
    )
    impair(server, PRIMARY)
    with pytest.raises(Exception, match="traffic failed"):
        signal(service, PRIMARY, True)
    status = service.status()[0]
    assert status["phase"] == "failing-over" and status["done"] == ["pointer"]
    outcome = service.watch().stamps[0]
    assert outcome.decision == "failover" and outcome.phase == "failed-over"
    assert paths(server) == FAILED_OVER


def test_a_dead_actors_lease_frees_the_stamp_within_the_lease_duration(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPS_LEASE_DURATION", "20s")
    service = make_service(server, monkeypatch, tmp_path)
    assert service.lease == timedelta(seconds=20)
    wall = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    service.lease_clock = lambda: wall
    start_pointer(service)
    impair(server, PRIMARY)
    # An actor took the stamp and died: its lease is never renewed nor released.
    dead = service.store.acquire_lease(
        "failover-payments0", holder="crashed", duration=service.lease, now=wall
    )
    assert dead is not None
    busy = signal(service, PRIMARY, True).stamps[0]
    assert busy.decision == "busy" and "held by crashed until 2026-12-01T09:00:20Z" in busy.reason
    assert paths(server) == normal_paths()
    wall += timedelta(seconds=20)
    outcome = service.watch().stamps[0]
    assert outcome.decision == "failover" and outcome.phase == "failed-over"
    assert paths(server) == FAILED_OVER
    lease = service.store.read_lease("failover-payments0")
    assert lease is None or lease.holder != "crashed"


class LeaseLostAfterPointer:
    """The real paths; after the pointer moves, the actor's lease renewal fails (as when the
    store was unreachable past the lease's expiry and another actor may have the stamp)."""

    def __init__(self, service: FailoverService) -> None:
        self.service = service
        self.real = service.paths

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def set_pointer(self, action: Any) -> None:
        self.real.set_pointer(action)
        self.service._held["payments0"].lost.set()


def test_a_lost_lease_stops_before_the_next_step_and_the_next_run_resumes(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    real = service.paths
    service.paths = LeaseLostAfterPointer(service)  # type: ignore[assignment]
    impair(server, PRIMARY)
    with pytest.raises(Exception, match="lease was lost; traffic not started"):
        signal(service, PRIMARY, True)
    status = service.status()[0]
    assert status["phase"] == "failing-over" and status["done"] == ["pointer"]
    assert paths(server)["origins"][PRIMARY] == "Enabled"  # traffic untouched
    service.paths = real
    outcome = service.watch().stamps[0]
    assert outcome.decision == "failover" and outcome.phase == "failed-over"
    assert paths(server) == FAILED_OVER


class Died(BaseException):
    """Stands in for SIGKILL: nothing after it runs, and no ``except Exception`` catches it."""


class DiesAfterFirstOrigin:
    """The real paths; the first origin change lands in Front Door, then the actor dies."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.died = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def set_origin_state(self, action: Any) -> None:
        self.real.set_origin_state(action)
        if not self.died:
            self.died = True
            raise Died


def test_a_step_a_dead_actor_left_in_flight_is_verified_not_waited_for(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    service = make_service(server, monkeypatch, tmp_path)
    start_pointer(service)
    real = service.paths
    service.paths = DiesAfterFirstOrigin(real)
    impair(server, PRIMARY)
    with pytest.raises(Died):
        signal(service, PRIMARY, True)
    # The origin change landed and was never recorded; its claim is still open.
    assert paths(server)["origins"][PRIMARY] == "Disabled"
    service.paths = real
    outcome = service.watch().stamps[0]
    assert outcome.decision == "failover" and outcome.phase == "failed-over", outcome.reason
    assert paths(server) == FAILED_OVER
    records = [
        r for r in service.store.query_audit(capability="failover", limit=1000) if r.kind.startswith("set_")
    ]
    keys = [r.key for r in records]
    assert len(keys) == len(set(keys)) and "set_origin_state" in {r.kind for r in records}
