"""The failover state machine word for word (ops.failover.machine): stored state, region
health, decisions, failback readiness and every step plan's actions and guards.

Cases:
- a stamp's state is stored with fixed field names and read back equal; an empty record
  reads as a fresh normal state; the transition names the generation and the phase;
- region health: reasons list the active sources only, sorted; it is stored and read back;
  a signal as old as the known one is a duplicate; resolving the last active source sets
  ``healthy_since``; a first all-clear on an unknown region sets it; another all-clear on a
  healthy region keeps the earlier instant; a healthy region impaired again loses it; a source
  stored without a detail reads as an empty one;
- decide, each kind with its reason and target: none, failover to the first healthy region
  in priority order (from the region active now), refuse when every region is impaired,
  the daily cap counting failovers less than 24 hours old, resume, failback step, flap,
  failback check, page and approval;
- begin_failover: the new phase, regions, a new generation, counters reset, and the cap's
  record pruned to the last 24 hours;
- failback readiness: each blocking reason (every active source named), the stable period's boundary on both sides (for
  the incident and for Resource Health), consecutive checks counted and reset;
- step plans: the pointer moved (with its ETag) or skipped; Front Door origins and Traffic
  Manager endpoints on failover (disable, demote below the others, already done, the last
  healthy one protected, no priority left) and on failback (enable, restore, nothing saved,
  the priority taken); replica routing out, back, already, protected, no replica; every
  action keyed by its kind, target, parameters and the transition; plans combined in order.
"""

# ruff: noqa: E501  (reasons are compared whole)
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ops.failover.machine import (
    Decision,
    Endpoint,
    Origin,
    Phase,
    PointerValue,
    RegionHealth,
    Replica,
    Signal,
    StampState,
    apply_signal,
    begin_failover,
    combine,
    decide,
    failback_ready,
    plan_pointer,
    plan_routing,
    plan_traffic,
)
from ops.plan import Guard, Plan, make_key
from tests.unit.test_failover_policy import NOW, SUB, policy, three_regions

STAMP = policy().stamps[0]
TRANSITION = "3:failing-over"


# -- stored state ---------------------------------------------------------------------------


def test_a_stamp_state_is_stored_and_read_back() -> None:
    state = StampState(
        phase=Phase.FAILED_OVER,
        home="eastus2",
        active="westus2",
        done=("pointer", "traffic"),
        failovers=(NOW - timedelta(hours=2), NOW),
        online_checks=2,
        routing_attempts=1,
        routing_refused="409 Conflict",
        saved_priorities={"e1": 1},
        note="waiting",
        updated=NOW,
        generation=3,
    )
    stored = state.to_dict()
    assert stored == {
        "phase": "failed-over",
        "home": "eastus2",
        "active": "westus2",
        "done": ["pointer", "traffic"],
        "failovers": ["2026-12-03T06:00:00+00:00", "2026-12-03T08:00:00+00:00"],
        "onlineChecks": 2,
        "routingAttempts": 1,
        "routingRefused": "409 Conflict",
        "savedPriorities": {"e1": 1},
        "note": "waiting",
        "updated": "2026-12-03T08:00:00+00:00",
        "generation": 3,
    }
    assert StampState.from_dict(stored) == state
    assert state.transition == "3:failed-over"


def test_an_empty_record_reads_as_a_fresh_state() -> None:
    fresh = StampState.from_dict({})
    assert fresh == StampState()
    assert fresh.to_dict()["updated"] is None
    assert fresh.transition == "0:normal"


# -- region health --------------------------------------------------------------------------


def signal(active: bool, minutes: int, source: str = "servicehealth:T1", detail: str = "x") -> Signal:
    return Signal("eastus2", source, active, NOW + timedelta(minutes=minutes), detail)


def test_reasons_list_active_sources_sorted_and_health_is_stored() -> None:
    health = RegionHealth("eastus2")
    for sig in (
        signal(True, 0, "servicehealth:T1", "Azure Container Registry degraded"),
        signal(True, 1, "metric:a1", "origin health 40%"),
        signal(False, 2, "resourcehealth:aks", "Available"),
    ):
        health, changed = apply_signal(health, sig)
        assert changed
    assert health.reasons() == [
        "metric:a1: origin health 40%",
        "servicehealth:T1: Azure Container Registry degraded",
    ]
    assert health.healthy_since is None
    stored = health.to_dict()
    assert stored["healthySince"] is None
    assert stored["sources"]["metric:a1"] == {
        "active": True,
        "at": "2026-12-03T08:01:00+00:00",
        "detail": "origin health 40%",
    }
    assert RegionHealth.from_dict("eastus2", stored) == health


def test_a_signal_as_old_as_the_known_one_is_a_duplicate() -> None:
    health, _ = apply_signal(RegionHealth("eastus2"), signal(True, 5))
    assert apply_signal(health, signal(False, 5)) == (health, False)
    later, changed = apply_signal(health, signal(False, 6))
    assert changed and not later.impaired and later.healthy_since == NOW + timedelta(minutes=6)
    assert RegionHealth.from_dict("eastus2", later.to_dict()) == later


def test_a_first_all_clear_sets_healthy_since_and_a_second_keeps_it() -> None:
    health, _ = apply_signal(RegionHealth("eastus2"), signal(False, 0, "resourcehealth:aks"))
    assert health.healthy_since == NOW
    again, changed = apply_signal(health, signal(False, 9, "metric:a1"))
    assert changed and again.healthy_since == NOW


# -- decisions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "impaired", "expected"),
    [
        pytest.param(StampState(), set(), Decision("none", "eastus2 is healthy"), id="healthy"),
        pytest.param(
            StampState(),
            {"eastus2", "westus2"},
            Decision("failover", "eastus2 is impaired", target="centralus"),
            id="first-healthy-region-in-priority-order",
        ),
        pytest.param(
            StampState(),
            {"eastus2", "westus2", "centralus"},
            Decision(
                "refuse",
                "eastus2 and every other region (westus2, centralus) are impaired: doing nothing, "
                "because there is nowhere healthy to move to",
            ),
            id="everything-impaired",
        ),
        pytest.param(
            StampState(failovers=(NOW - timedelta(hours=23, minutes=59), NOW - timedelta(hours=1))),
            {"eastus2"},
            Decision("refuse", "2 failover(s) in the last 24 hours reach the cap of 2; a person must decide"),
            id="the-daily-cap",
        ),
        pytest.param(
            StampState(failovers=(NOW - timedelta(days=1), NOW - timedelta(hours=1))),
            {"eastus2"},
            Decision("failover", "eastus2 is impaired", target="westus2"),
            id="a-failover-24-hours-ago-no-longer-counts",
        ),
        pytest.param(
            StampState(phase=Phase.FAILING_OVER, home="eastus2", active="westus2"),
            set(),
            Decision("resume", "resuming the failover to westus2", target="westus2"),
            id="resume",
        ),
        pytest.param(
            StampState(phase=Phase.FAILING_BACK, home="eastus2", active="westus2"),
            {"centralus"},
            Decision("failback-step", "failing back to eastus2", target="eastus2"),
            id="failback-step",
        ),
        pytest.param(
            StampState(phase=Phase.FAILING_BACK, home="eastus2", active="westus2"),
            {"eastus2"},
            Decision("flap", "eastus2 faltered again during failback; staying on westus2"),
            id="flap",
        ),
        pytest.param(
            StampState(phase=Phase.FAILED_OVER, home="eastus2", active="westus2"),
            {"eastus2"},
            Decision("failback-check", "failed over from eastus2 to westus2", target="eastus2"),
            id="failback-check",
        ),
        pytest.param(
            StampState(active="westus2"), {"eastus2"}, Decision("none", "westus2 is healthy"), id="active-now"
        ),
        pytest.param(
            StampState(active="westus2"),
            {"westus2"},
            Decision("failover", "westus2 is impaired", target="eastus2"),
            id="away-from-the-active-region",
        ),
    ],
)
def test_decisions_word_for_word(state: StampState, impaired: set[str], expected: Decision) -> None:
    loaded = three_regions()
    assert decide(loaded.stamps[0], loaded, state, impaired, NOW) == expected


def test_manual_failover_pages_with_its_target_until_approved() -> None:
    manual = policy(automatic={"failover": False, "failback": False})
    stamp = manual.stamps[0]
    assert decide(stamp, manual, StampState(), {"eastus2"}, NOW) == Decision(
        "page", "eastus2 is impaired; automatic failover is off, so a person must approve", target="westus2"
    )
    assert decide(stamp, manual, StampState(), {"eastus2"}, NOW, approved=True) == Decision(
        "failover", "eastus2 is impaired", target="westus2"
    )


def test_begin_failover_starts_a_new_transition() -> None:
    before = StampState(
        phase=Phase.NORMAL,
        done=("routing",),
        failovers=(NOW - timedelta(days=1), NOW - timedelta(hours=23)),
        online_checks=4,
        routing_attempts=2,
        routing_refused="409",
        saved_priorities={"e1": 1},
        note="old",
        generation=5,
    )
    after = begin_failover(before, home="eastus2", target="westus2", now=NOW)
    assert after == StampState(
        phase=Phase.FAILING_OVER,
        home="eastus2",
        active="westus2",
        done=(),
        failovers=(NOW - timedelta(hours=23), NOW),
        online_checks=0,
        routing_attempts=0,
        routing_refused=None,
        saved_priorities={"e1": 1},
        note=None,
        updated=NOW,
        generation=6,
    )


# -- failback readiness ----------------------------------------------------------------------

STABLE = timedelta(minutes=15)


def ready(
    *,
    health: RegionHealth | None = None,
    resource_health_since: Any = NOW - STABLE,
    probes: bool = True,
    synthetic: bool = True,
    checks: int = 1,
) -> tuple[int, list[str]]:
    return failback_ready(
        health=health or RegionHealth("eastus2", {}, healthy_since=NOW - STABLE),
        resource_health_since=resource_health_since,
        probes_online=probes,
        synthetic_ok=synthetic,
        state=StampState(online_checks=checks),
        stable_for=STABLE,
        online_checks=2,
        now=NOW,
    )


def test_failback_is_ready_exactly_at_the_stable_period() -> None:
    assert ready() == (2, [])


def test_every_blocking_reason_word_for_word() -> None:
    impaired, _ = apply_signal(RegionHealth("eastus2"), signal(True, -60, detail="ACR degraded"))
    assert ready(health=impaired, resource_health_since=None, probes=False, synthetic=False) == (
        0,
        [
            "eastus2 is still impaired (servicehealth:T1: ACR degraded)",
            "Resource Health is not Available",
            "health probes are not Online",
            "the synthetic check failed",
            "0 of 2 consecutive checks passed",
        ],
    )


def test_an_instant_short_of_the_stable_period_blocks() -> None:
    short = NOW - STABLE + timedelta(microseconds=1)
    recent = RegionHealth("eastus2", {}, healthy_since=short)
    assert ready(health=recent, resource_health_since=short) == (
        2,
        [
            "the incident resolved 0:14:59.999999 ago, less than 0:15:00",
            "Resource Health Available for 0:14:59.999999, less than 0:15:00",
        ],
    )


def test_a_region_never_impaired_needs_no_resolution_time() -> None:
    assert ready(health=RegionHealth("eastus2")) == (2, [])


@pytest.mark.parametrize(("probes", "synthetic"), [(True, False), (False, True)])
def test_a_failed_check_resets_the_count(probes: bool, synthetic: bool) -> None:
    checks, blocking = ready(probes=probes, synthetic=synthetic, checks=5)
    assert checks == 0
    assert blocking[-1] == "0 of 2 consecutive checks passed"


# -- step plans -------------------------------------------------------------------------------


def shown(plan: Plan) -> dict[str, list[Any]]:
    for action in plan.actions:
        assert action.key == make_key(action.kind, action.target, {**action.params, "transition": TRANSITION})
    return {
        "actions": [(a.kind, a.target, a.reason, a.service, dict(a.params)) for a in plan.actions],
        "protected": [(g.target, g.reason) for g in plan.protected],
        "skipped": [(g.target, g.reason) for g in plan.skipped],
    }


POINTER = "https://appcs.azconfig.io/kv/ci/push-endpoint?label="


def test_the_pointer_moves_with_its_etag() -> None:
    plan = plan_pointer(
        STAMP,
        PointerValue("contosopay.eastus2.geo.azurecr.io", '"e7"'),
        to_region="westus2",
        transition=TRANSITION,
    )
    assert plan.capability == "failover"
    assert shown(plan) == {
        "actions": [
            (
                "set_pointer",
                POINTER,
                "pointer: CI pushes to westus2 (contosopay.westus2.geo.azurecr.io), was contosopay.eastus2.geo.azurecr.io",
                "appconfig",
                {
                    "store": "https://appcs.azconfig.io",
                    "key": "ci/push-endpoint",
                    "label": None,
                    "value": "contosopay.westus2.geo.azurecr.io",
                    "etag": '"e7"',
                },
            )
        ],
        "protected": [],
        "skipped": [],
    }


def test_a_pointer_already_right_is_skipped() -> None:
    plan = plan_pointer(
        STAMP,
        PointerValue("contosopay.westus2.geo.azurecr.io", '"e7"'),
        to_region="westus2",
        transition=TRANSITION,
    )
    assert plan.capability == "failover"
    assert shown(plan) == {
        "actions": [],
        "protected": [],
        "skipped": [(POINTER, "skipped: already contosopay.westus2.geo.azurecr.io")],
    }


def origins(east: bool, west: bool) -> dict[str, Origin]:
    return {"eastus2": Origin("o1", "eus2", east, 1), "westus2": Origin("o2", "wus2", west, 2)}


def endpoints(east: int, west: int, *, west_enabled: bool = True) -> dict[str, Endpoint]:
    return {
        "eastus2": Endpoint("e1", "eus2", True, east, "Online"),
        "westus2": Endpoint("e2", "wus2", west_enabled, west, "Online"),
    }


IMPAIRED = "traffic: eastus2 is impaired"
BACK = "traffic: back to eastus2"
LAST_ORIGIN = ("o1", "protected: last enabled origin in a healthy region")
LAST_ENDPOINT = ("e1", "protected: last enabled endpoint in a healthy region")


@pytest.mark.parametrize(
    ("observed", "impaired", "failing_over", "saved", "expected"),
    [
        pytest.param(
            (origins(True, True), endpoints(1, 2)),
            {"eastus2"},
            True,
            {},
            {
                "actions": [
                    ("set_origin_state", "o1", IMPAIRED, "arm", {"enabledState": "Disabled"}),
                    ("set_endpoint_priority", "e1", IMPAIRED, "arm", {"priority": 3, "original": 1}),
                ],
                "protected": [],
                "skipped": [],
            },
            id="failover-disables-and-demotes",
        ),
        pytest.param(
            (origins(False, True), endpoints(3, 2)),
            {"eastus2"},
            True,
            {},
            {
                "actions": [],
                "protected": [],
                "skipped": [
                    ("o1", "skipped: origin already disabled"),
                    ("e1", "skipped: endpoint already last in priority"),
                ],
            },
            id="failover-already-done",
        ),
        pytest.param(
            (origins(True, False), endpoints(1, 2, west_enabled=False)),
            {"eastus2"},
            True,
            {},
            {"actions": [], "protected": [LAST_ORIGIN, LAST_ENDPOINT], "skipped": []},
            id="the-last-enabled-ones",
        ),
        pytest.param(
            (origins(True, True), endpoints(1, 2)),
            {"eastus2", "westus2"},
            True,
            {},
            {"actions": [], "protected": [LAST_ORIGIN, LAST_ENDPOINT], "skipped": []},
            id="the-others-impaired-too",
        ),
        pytest.param(
            ({}, endpoints(1, 1000)),
            {"eastus2"},
            True,
            {},
            {
                "actions": [],
                "protected": [("e1", "protected: no priority left below the others (max 1000)")],
                "skipped": [],
            },
            id="no-priority-left",
        ),
        pytest.param(
            ({}, endpoints(1, 999)),
            {"eastus2"},
            True,
            {},
            {
                "actions": [
                    ("set_endpoint_priority", "e1", IMPAIRED, "arm", {"priority": 1000, "original": 1})
                ],
                "protected": [],
                "skipped": [],
            },
            id="the-last-priority",
        ),
        pytest.param(
            ({}, endpoints(2, 2)),
            {"eastus2"},
            True,
            {},
            {
                "actions": [("set_endpoint_priority", "e1", IMPAIRED, "arm", {"priority": 3, "original": 2})],
                "protected": [],
                "skipped": [],
            },
            id="a-tie-is-not-last",
        ),
        pytest.param(
            (origins(False, True), endpoints(3, 2)),
            set(),
            False,
            {"e1": 1},
            {
                "actions": [
                    ("set_origin_state", "o1", BACK, "arm", {"enabledState": "Enabled"}),
                    ("set_endpoint_priority", "e1", BACK, "arm", {"priority": 1}),
                ],
                "protected": [],
                "skipped": [],
            },
            id="failback-enables-and-restores",
        ),
        pytest.param(
            (origins(True, True), endpoints(1, 2)),
            set(),
            False,
            {"e1": 1},
            {
                "actions": [],
                "protected": [],
                "skipped": [
                    ("o1", "skipped: origin already enabled"),
                    ("e1", "skipped: endpoint priority already restored"),
                ],
            },
            id="failback-already-done",
        ),
        pytest.param(
            ({}, endpoints(3, 2)),
            set(),
            False,
            {},
            {
                "actions": [],
                "protected": [],
                "skipped": [("e1", "skipped: endpoint priority already restored")],
            },
            id="nothing-saved",
        ),
        pytest.param(
            ({}, endpoints(3, 1)),
            set(),
            False,
            {"e1": 1},
            {
                "actions": [],
                "protected": [("e1", "protected: priority 1 is now used by another endpoint")],
                "skipped": [],
            },
            id="the-priority-is-taken",
        ),
    ],
)
def test_traffic_plans_word_for_word(
    observed: tuple[dict[str, Origin], dict[str, Endpoint]],
    impaired: set[str],
    failing_over: bool,
    saved: dict[str, int],
    expected: dict[str, list[Any]],
) -> None:
    plan = plan_traffic(
        STAMP,
        observed[0],
        observed[1],
        away_from="eastus2",
        to_region="westus2" if failing_over else "eastus2",
        impaired=impaired,
        saved_priorities=saved,
        failing_over=failing_over,
        transition=TRANSITION,
    )
    assert plan.capability == "failover"
    assert shown(plan) == expected


REPLICAS = {"eastus2": Replica("r1", "eastus2", True), "westus2": Replica("r2", "westus2", True)}
REGISTRY = f"{SUB}/rg/providers/Microsoft.ContainerRegistry/registries/contosopay"


@pytest.mark.parametrize(
    ("replicas", "region", "impaired", "routed", "expected"),
    [
        pytest.param(
            REPLICAS,
            "eastus2",
            {"eastus2"},
            False,
            {
                "actions": [
                    (
                        "set_replication_routing",
                        "r1",
                        "routing: eastus2 is impaired",
                        "arm",
                        {"regionEndpointEnabled": False},
                    )
                ],
                "protected": [],
                "skipped": [],
            },
            id="out",
        ),
        pytest.param(
            REPLICAS,
            "eastus2",
            {"eastus2", "westus2"},
            False,
            {
                "actions": [],
                "protected": [("r1", "protected: last routed replica in a healthy region")],
                "skipped": [],
            },
            id="the-last-healthy-one",
        ),
        pytest.param(
            {**REPLICAS, "eastus2": Replica("r1", "eastus2", False)},
            "eastus2",
            set(),
            True,
            {
                "actions": [
                    (
                        "set_replication_routing",
                        "r1",
                        "routing: eastus2 is healthy again",
                        "arm",
                        {"regionEndpointEnabled": True},
                    )
                ],
                "protected": [],
                "skipped": [],
            },
            id="back",
        ),
        pytest.param(
            REPLICAS,
            "eastus2",
            set(),
            True,
            {
                "actions": [],
                "protected": [],
                "skipped": [("r1", "skipped: regionEndpointEnabled already True")],
            },
            id="already",
        ),
        pytest.param(
            REPLICAS,
            "centralus",
            set(),
            False,
            {
                "actions": [],
                "protected": [],
                "skipped": [(f"{REGISTRY}/replications/?", "skipped: no replica in centralus")],
            },
            id="no-replica",
        ),
    ],
)
def test_routing_plans_word_for_word(
    replicas: dict[str, Replica],
    region: str,
    impaired: set[str],
    routed: bool,
    expected: dict[str, list[Any]],
) -> None:
    plan = plan_routing(
        STAMP, replicas, region=region, impaired=impaired, routed=routed, transition=TRANSITION
    )
    assert plan.capability == "failover"
    assert shown(plan) == expected


def test_plans_combine_in_order_with_the_given_notes_first() -> None:
    one = Plan("failover", skipped=[Guard("a", "skipped: a")], notes=["from one"])
    two = Plan("failover", protected=[Guard("b", "protected: b")], notes=["from two"])
    moved = plan_pointer(STAMP, PointerValue("x", None), to_region="westus2", transition=TRANSITION)
    combined = combine([one, moved, two], notes=["first"])
    assert combined.capability == "failover"
    assert list(combined.actions) == list(moved.actions)
    assert [g.target for g in combined.skipped] == ["a"]
    assert [g.target for g in combined.protected] == ["b"]
    assert list(combined.notes) == ["first", "from one", "from two"]


def test_a_healthy_region_impaired_again_loses_its_healthy_since() -> None:
    healthy = RegionHealth("eastus2", {}, healthy_since=NOW - timedelta(hours=1))
    impaired, changed = apply_signal(healthy, signal(True, 0))
    assert changed and impaired.impaired and impaired.healthy_since is None


def test_a_source_stored_without_detail_reads_as_an_empty_detail() -> None:
    assert RegionHealth("eastus2", {"metric:a1": {"active": True, "at": NOW.isoformat()}}).reasons() == [
        "metric:a1: "
    ]


def test_every_active_reason_blocks_failback() -> None:
    health = RegionHealth("eastus2")
    for sig in (
        signal(True, -60, "servicehealth:T1", "ACR degraded"),
        signal(True, -50, "metric:a1", "origin 40%"),
    ):
        health, _ = apply_signal(health, sig)
    _, blocking = ready(health=health)
    assert blocking[0] == "eastus2 is still impaired (metric:a1: origin 40%; servicehealth:T1: ACR degraded)"
