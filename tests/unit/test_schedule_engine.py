"""The schedule engine (ops.schedule.planner.plan_schedule), as a pure function.

Cases: weekday stop and start, and no action when the cluster is already right;
idempotency keys name the window (same tick twice → same key, next week → new key);
a window spanning midnight; DST in both zones through the engine; holidays; snooze
(keeps running, wakes a stopped cluster, expires); exclude; protected environments
(default and configured) even when their tags say stop, by any environment-like tag
(environment or env, any case of the name, value trimmed and case-folded), not only
the first; a held cluster (re-read failed) loses its actions and is reported skipped; an invalid time zone or
schedule on one cluster is reported while the others proceed; policy defaults by
selector, overridden field by field by tags; clusters out of scope; node-pool mode
(user pools to zero one at a time, as AKS requires, with their scale saved; system
pools never; restore exactly; a pool already at zero keeps its earlier record; an
autoscaled pool back with its bounds is restored whatever count the autoscaler chose);
pending operations and busy clusters wait; failed starts back off, retry with a new
key and give up; the cluster-mode fallback starts system pools first with their last
known scale, then user pools, and stops once every pool is back even if the
autoscaler moved an autoscaled pool's count; estimated node-hours saved per week; the plan cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.schedule.clusters import ObservedCluster, ObservedPool, PoolScale
from ops.schedule.planner import ScheduleReport, ScheduleState, hold_clusters, plan_schedule
from ops.schedule.policy import SchedulePolicy, load_policy
from ops.schedule.records import Kind, Operation, OpStatus, Purpose, SavedPool
from ops.schedule.windows import local_to_instant
from tests.unit.schedule_builders import observed_cluster

BERLIN = ZoneInfo("Europe/Berlin")
DEV_TAGS = {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin", "environment": "dev"}


def at(*parts: int, zone: ZoneInfo = BERLIN) -> datetime:
    return local_to_instant(datetime(*parts), zone)  # type: ignore[misc]


THU_EVENING = at(2026, 11, 26, 20, 0)
THU_NOON = at(2026, 11, 26, 12, 0)
FRI_MORNING = at(2026, 11, 27, 8, 0)


def pool(name: str, count: int, *, mode: str = "User", auto: tuple[int, int] | None = None) -> ObservedPool:
    scale = PoolScale(count, auto is not None, auto[0] if auto else None, auto[1] if auto else None)
    return ObservedPool(name=name, mode=mode, scale=scale)


def cluster(
    name: str,
    tags: dict[str, str] | None = None,
    *,
    power: str = "Running",
    provisioning: str = "Succeeded",
    pools: tuple[ObservedPool, ...] | None = None,
) -> ObservedCluster:
    return observed_cluster(
        name,
        tags=DEV_TAGS if tags is None else tags,
        pools=pools if pools is not None else (pool("system", 2, mode="System"), pool("user", 3)),
        power_state=power,
        provisioning_state=provisioning,
    )


def plan(
    *clusters: ObservedCluster,
    now: datetime,
    policy: SchedulePolicy | None = None,
    state: ScheduleState | None = None,
    cap: int | None = None,
) -> ScheduleReport:
    return plan_schedule(
        clusters, policy=policy or load_policy(None), state=state or ScheduleState(), now=now, cap=cap
    )


def kinds(report: ScheduleReport) -> list[tuple[str, str]]:
    return [(a.kind, a.target.rsplit("/", 1)[-1]) for a in report.plan.actions]


# -- cluster mode -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "power", "now", "expected", "reason"),
    [
        (
            "running in the evening → stop",
            "Running",
            THU_EVENING,
            [("stop_cluster", "aks-dev")],
            "stop: off-hours",
        ),
        (
            "stopped in the morning → start",
            "Stopped",
            FRI_MORNING,
            [("start_cluster", "aks-dev")],
            "start: on-hours",
        ),
        ("running at noon → nothing", "Running", THU_NOON, [], "running as scheduled"),
        ("stopped in the evening → nothing", "Stopped", THU_EVENING, [], "stopped as scheduled"),
        ("stopped on saturday → nothing", "Stopped", at(2026, 11, 28, 12, 0), [], "stopped as scheduled"),
        (
            "running on saturday → stop",
            "Running",
            at(2026, 11, 28, 12, 0),
            [("stop_cluster", "aks-dev")],
            "stop",
        ),
    ],
)
def test_weekdays(case: str, power: str, now: datetime, expected: list[tuple[str, str]], reason: str) -> None:
    report = plan(cluster("aks-dev", power=power), now=now)
    assert kinds(report) == expected, case
    assert report.row("aks-dev").reason.startswith(reason), report.row("aks-dev").reason


def test_keys_name_the_window() -> None:
    one = plan(cluster("aks-dev"), now=THU_EVENING).plan.actions[0]
    later_same_evening = plan(cluster("aks-dev"), now=THU_EVENING + timedelta(hours=2)).plan.actions[0]
    next_week = plan(cluster("aks-dev"), now=THU_EVENING + timedelta(days=7)).plan.actions[0]
    assert one.key == later_same_evening.key
    assert next_week.key != one.key
    assert one.params["window"] == at(2026, 11, 26, 19, 0).isoformat()
    assert one.params["attempt"] == 1


def test_stop_records_the_pools_it_stops_with() -> None:
    action = plan(cluster("aks-dev"), now=THU_EVENING).plan.actions[0]
    assert action.params["pools"] == [
        {"name": "system", "mode": "System", "scale": PoolScale(2).to_dict()},
        {"name": "user", "mode": "User", "scale": PoolScale(3).to_dict()},
    ]


def test_window_spanning_midnight() -> None:
    tags = {**DEV_TAGS, "ops-schedule": "Mon-Sun 18:00-02:00"}
    assert kinds(plan(cluster("night", tags, power="Stopped"), now=at(2026, 11, 27, 1, 0))) == [
        ("start_cluster", "night")
    ]
    assert kinds(plan(cluster("night", tags), now=at(2026, 11, 27, 2, 30))) == [("stop_cluster", "night")]


@pytest.mark.parametrize(
    ("zone", "schedule", "now", "expected"),
    [
        # Berlin, Sun 29 Mar 2026: 02:30 does not exist, so the window opens at the 03:00 jump
        ("Europe/Berlin", "Sun 02:30-06:00", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "start_cluster"),
        ("Europe/Berlin", "Sun 02:30-06:00", datetime(2026, 3, 29, 0, 59, tzinfo=UTC), None),
        # Berlin, Sun 25 Oct 2026: 02:30 happens twice; the window closes at the first one
        ("Europe/Berlin", "Sun 00:00-02:30", datetime(2026, 10, 25, 1, 15, tzinfo=UTC), None),
        # New York, Sun 8 Mar 2026: 02:15 does not exist
        ("America/New_York", "Sun 02:15-08:00", datetime(2026, 3, 8, 7, 0, tzinfo=UTC), "start_cluster"),
        # New York, Sun 1 Nov 2026: 01:30 happens twice; the window opens at the first one
        ("America/New_York", "Sun 01:30-09:00", datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "start_cluster"),
        ("America/New_York", "Sun 01:30-09:00", datetime(2026, 11, 1, 5, 29, tzinfo=UTC), None),
    ],
)
def test_dst_through_the_engine(zone: str, schedule: str, now: datetime, expected: str | None) -> None:
    tags = {"ops-schedule": schedule, "ops-timezone": zone}
    report = plan(cluster("c", tags, power="Stopped"), now=now)
    assert [a.kind for a in report.plan.actions] == ([expected] if expected else [])


def test_holidays_stop_a_cluster_on_a_weekday() -> None:
    tags = {**DEV_TAGS, "ops-holidays": "DE-BY"}
    easter_monday = at(2026, 4, 6, 10, 0)
    report = plan(cluster("aks-dev", tags), now=easter_monday)
    assert kinds(report) == [("stop_cluster", "aks-dev")]
    assert "today is a holiday" in report.row("aks-dev").reason
    assert kinds(plan(cluster("aks-dev"), now=easter_monday)) == []  # no calendar, a normal Monday


@pytest.mark.parametrize(
    ("case", "power", "until", "expected"),
    [
        ("snoozed: keeps running", "Running", "2026-11-26T23:00:00+01:00", []),
        ("snoozed: wakes a stopped cluster", "Stopped", "2026-11-26T23:00:00+01:00", ["start_cluster"]),
        ("local time without offset is read in the cluster's zone", "Running", "2026-11-26T23:00", []),
        ("expired snooze: back to the schedule", "Running", "2026-11-26T19:30:00+01:00", ["stop_cluster"]),
    ],
)
def test_snooze(case: str, power: str, until: str, expected: list[str]) -> None:
    report = plan(cluster("aks-dev", {**DEV_TAGS, "ops-snooze-until": until}, power=power), now=THU_EVENING)
    assert [a.kind for a in report.plan.actions] == expected, case
    if not expected or power == "Stopped":
        assert "snoozed until 2026-11-26 23:00" in report.row("aks-dev").reason


def test_snooze_wake_up_has_its_own_window() -> None:
    tags = {**DEV_TAGS, "ops-snooze-until": "2026-11-26T23:00:00+01:00"}
    action = plan(cluster("aks-dev", tags, power="Stopped"), now=THU_EVENING).plan.actions[0]
    assert action.params["window"] == "snooze:2026-11-26T23:00:00+01:00"


def test_exclude() -> None:
    report = plan(cluster("aks-dev", {**DEV_TAGS, "ops-exclude": "true"}), now=THU_EVENING)
    assert report.plan.actions == ()
    assert [g.reason for g in report.plan.skipped] == ["excluded: tag ops-exclude=true"]


@pytest.mark.parametrize("environment", ["prod", "Production", "PROD"])
def test_protected_environments_are_never_stopped(environment: str) -> None:
    report = plan(cluster("aks-prod", {**DEV_TAGS, "environment": environment}), now=THU_EVENING)
    assert report.plan.actions == ()
    (guard,) = report.plan.protected
    assert guard.reason.startswith(f"protected: environment={environment} is a protected environment")
    assert report.row("aks-prod").reason == guard.reason


def test_protected_environments_come_from_settings() -> None:
    policy = load_policy(None, protected_environments=["qa"])
    report = plan(
        cluster(
            "aks-qa", {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin", "env": "qa"}
        ),
        cluster("aks-prod", {**DEV_TAGS, "environment": "prod"}),
        now=THU_EVENING,
        policy=policy,
    )
    assert kinds(report) == [("stop_cluster", "aks-prod")]
    assert [g.target.rsplit("/", 1)[-1] for g in report.plan.protected] == ["aks-qa"]


@pytest.mark.parametrize(
    ("environment_tags", "shown"),
    [
        ({"environment": "dev", "env": "prod"}, "prod"),  # the second tag protects too
        ({"env": "dev", "Environment": "Production"}, "Production"),
        ({"Environment": " Prod "}, "Prod"),  # key in any case, value trimmed
        ({"ENV": "prod\t"}, "prod"),
        ({"environment": "", "env": " PRODUCTION"}, "PRODUCTION"),
    ],
)
def test_any_environment_tag_naming_a_protected_environment_protects(
    environment_tags: dict[str, str], shown: str
) -> None:
    schedule = {k: v for k, v in DEV_TAGS.items() if k != "environment"}
    report = plan(cluster("aks-x", {**schedule, **environment_tags}), now=THU_EVENING)
    assert report.plan.actions == ()
    (guard,) = report.plan.protected
    assert guard.reason.startswith(f"protected: environment={shown} is a protected environment")
    assert report.row("aks-x").environment == shown


def test_only_protected_values_protect() -> None:
    tags = {**DEV_TAGS, "env": "development", "Environment-owner": "prod"}
    assert kinds(plan(cluster("aks-dev", tags), now=THU_EVENING)) == [("stop_cluster", "aks-dev")]


def test_held_clusters_lose_their_actions_and_are_reported() -> None:
    report = plan(cluster("a"), cluster("b"), now=THU_EVENING)
    held = hold_clusters(report, {cluster("a").id.upper(): "could not re-read the cluster (boom)"})
    assert kinds(held) == [("stop_cluster", "b")]
    (guard,) = held.plan.skipped
    assert guard.target == cluster("a").id
    assert guard.reason == "skipped: could not re-read the cluster (boom); retry next tick"
    assert held.row("a").action == "none" and held.row("a").reason.startswith(guard.reason)
    assert held.row("b") == report.row("b")
    assert hold_clusters(report, {}) is report


@pytest.mark.parametrize(
    ("tags", "error"),
    [
        (
            {**DEV_TAGS, "ops-timezone": "Europe/Berlinn"},
            "tag ops-timezone: 'Europe/Berlinn' is not an IANA time zone",
        ),
        (
            {**DEV_TAGS, "ops-schedule": "Mon-Fri 7:30 to 19:00"},
            "tag ops-schedule: 'Mon-Fri 7:30 to 19:00' is not a",
        ),
        ({**DEV_TAGS, "ops-holidays": "ZZ"}, "tag ops-holidays: 'ZZ' is not a known holiday calendar"),
        ({**DEV_TAGS, "ops-schedule-mode": "sleep"}, "tag ops-schedule-mode: 'sleep' is not a mode"),
        (
            {**DEV_TAGS, "ops-snooze-until": "tomorrow"},
            "tag ops-snooze-until: 'tomorrow' is not an ISO 8601 time",
        ),
        ({"ops-timezone": "Europe/Berlin"}, "tag ops-schedule: missing"),
    ],
)
def test_an_invalid_cluster_is_reported_and_the_others_proceed(tags: dict[str, str], error: str) -> None:
    report = plan(cluster("broken", tags), cluster("aks-dev"), now=THU_EVENING)
    assert kinds(report) == [("stop_cluster", "aks-dev")]
    row = report.row("broken")
    assert row.error is not None and error in row.error, row.error
    assert row.action == "none"
    (guard,) = report.plan.skipped
    assert guard.reason.startswith("invalid: ") and error in guard.reason


POLICY = """
defaults:
  - selector: {environment: dev}
    schedule: Mon-Fri 07:30-19:00
    timezone: Europe/Berlin
  - selector: {environment: [staging, qa]}
    schedule: Mon-Fri 06:00-22:00
    timezone: America/New_York
    mode: nodepools
"""


def test_defaults_by_selector_make_tags_optional() -> None:
    policy = load_policy(POLICY)
    report = plan(
        cluster("aks-dev", {"environment": "dev"}),
        cluster("aks-stg", {"Environment": "Staging"}),
        cluster("aks-other", {"environment": "sandbox"}),
        now=THU_EVENING,  # 14:00 in New York: staging is within its hours
        policy=policy,
    )
    assert kinds(report) == [("stop_cluster", "aks-dev")]
    assert report.row("aks-stg").mode == "nodepools"
    assert report.row("aks-stg").timezone == "America/New_York"
    assert report.not_in_scope == 1
    assert [r.cluster for r in report.rows] == ["aks-dev", "aks-stg"]


def test_tags_override_defaults_field_by_field() -> None:
    policy = load_policy(POLICY)
    tags = {"environment": "dev", "ops-timezone": "America/New_York"}
    report = plan(cluster("aks-dev", tags), now=THU_EVENING, policy=policy)
    assert kinds(report) == []  # 14:00 in New York
    row = report.row("aks-dev")
    assert (row.schedule, row.timezone) == ("Mon-Fri 07:30-19:00", "America/New_York")


def test_clusters_without_tags_are_out_of_scope() -> None:
    report = plan(cluster("plain", {"environment": "dev"}), now=THU_EVENING)
    assert report.rows == () and report.not_in_scope == 1
    assert report.plan.notes == ("1 cluster(s) have no schedule tags and match no policy default",)


# -- node-pool mode -----------------------------------------------------------------

POOLS_TAGS = {**DEV_TAGS, "environment": "staging", "ops-schedule-mode": "nodepools"}
STAGING_POOLS = (
    pool("system", 2, mode="System"),
    pool("apps", 3, auto=(2, 6)),
    pool("batch", 4),
)


def staging(pools: tuple[ObservedPool, ...] = STAGING_POOLS) -> ObservedCluster:
    return cluster("aks-staging", POOLS_TAGS, pools=pools)


def saved(c: ObservedCluster, name: str, scale: PoolScale, purpose: Purpose = Purpose.RESTORE) -> SavedPool:
    mode = "System" if name == "system" else "User"
    return SavedPool(c.pool_id(name), c.id, name, mode, purpose, scale, THU_EVENING)


def test_user_pools_scale_to_zero_one_at_a_time_with_their_scale_saved() -> None:
    report = plan(staging(), now=THU_EVENING)
    (apps,) = report.plan.actions  # AKS runs one agent-pool operation per cluster at a time
    assert (apps.kind, apps.params["pool"]) == ("scale_pool_to_zero", "apps")
    assert apps.params["save"]["scale"] == PoolScale(3, True, 2, 6).to_dict()
    assert "1 more pool(s) wait their turn" in report.row("aks-staging").reason
    apps_down = staging((pool("system", 2, mode="System"), pool("apps", 0), pool("batch", 4)))
    (batch,) = plan(apps_down, now=THU_EVENING).plan.actions
    assert (batch.kind, batch.params["pool"]) == ("scale_pool_to_zero", "batch")
    assert batch.params["save"]["scale"] == PoolScale(4).to_dict()
    all_down = staging((pool("system", 2, mode="System"), pool("apps", 0), pool("batch", 0)))
    report = plan(all_down, now=THU_EVENING)
    assert report.plan.actions == ()  # the system pool is never scaled to zero
    assert report.row("aks-staging").reason.startswith("user pools at 0 as scheduled")


def test_pools_are_restored_exactly_in_the_morning() -> None:
    down = staging((pool("system", 2, mode="System"), pool("apps", 0), pool("batch", 0)))
    records = {
        s.key: s for s in (saved(down, "apps", PoolScale(3, True, 2, 6)), saved(down, "batch", PoolScale(4)))
    }
    state = ScheduleState(saved_pools=records)
    assert kinds(plan(down, now=FRI_MORNING, state=state)) == [("restore_pool", "apps")]
    assert (
        plan(down, now=FRI_MORNING, state=state).plan.actions[0].params["scale"]
        == PoolScale(3, True, 2, 6).to_dict()
    )
    apps_up = staging((pool("system", 2, mode="System"), pool("apps", 3, auto=(2, 6)), pool("batch", 0)))
    (batch,) = plan(apps_up, now=FRI_MORNING, state=state).plan.actions
    assert (batch.kind, batch.params["scale"]) == ("restore_pool", PoolScale(4).to_dict())
    restored = staging((pool("system", 2, mode="System"), pool("apps", 3, auto=(2, 6)), pool("batch", 4)))
    assert kinds(plan(restored, now=FRI_MORNING, state=state)) == []


@pytest.mark.parametrize(
    ("observed", "restore"),
    [
        (pool("apps", 5, auto=(2, 6)), False),  # the autoscaler's count is its own business
        (pool("apps", 2, auto=(2, 6)), False),
        (pool("apps", 3, auto=(1, 6)), True),  # bounds differ
        (pool("apps", 3), True),  # autoscaler off
        (pool("apps", 0), True),
    ],
)
def test_an_autoscaled_pool_is_restored_by_its_bounds_not_its_count(
    observed: ObservedPool, restore: bool
) -> None:
    c = staging((pool("system", 2, mode="System"), observed))
    state = ScheduleState(saved_pools={s.key: s for s in (saved(c, "apps", PoolScale(3, True, 2, 6)),)})
    assert kinds(plan(c, now=FRI_MORNING, state=state)) == ([("restore_pool", "apps")] if restore else [])


def test_a_pool_already_at_zero_keeps_its_earlier_record() -> None:
    half = staging((pool("system", 2, mode="System"), pool("apps", 0, auto=(0, 6)), pool("batch", 0)))
    records = {s.key: s for s in (saved(half, "apps", PoolScale(3, True, 2, 6)),)}
    report = plan(half, now=THU_EVENING, state=ScheduleState(saved_pools=records))
    (action,) = report.plan.actions
    assert action.params["save"]["scale"] == PoolScale(3, True, 2, 6).to_dict()


def test_a_stopped_cluster_in_nodepool_mode_is_started_in_on_hours() -> None:
    stopped = cluster("aks-staging", POOLS_TAGS, power="Stopped", pools=STAGING_POOLS)
    assert kinds(plan(stopped, now=FRI_MORNING)) == [("start_cluster", "aks-staging")]
    assert kinds(plan(stopped, now=THU_EVENING)) == []


# -- operations in flight, retries, fallback ------------------------------------------


def operation(
    c: ObservedCluster,
    kind: Kind,
    status: OpStatus,
    *,
    window: str,
    attempt: int = 1,
    retry_at: datetime | None = None,
    target: str | None = None,
) -> Operation:
    return Operation(
        target=target or c.id,
        cluster=c.id,
        kind=kind,
        window=window,
        attempt=attempt,
        status=status,
        started=THU_EVENING - timedelta(minutes=10),
        error="OverconstrainedAllocationRequest" if status is OpStatus.FAILED else None,
        retry_at=retry_at,
    )


def state_of(*operations: Operation, pools: tuple[SavedPool, ...] = ()) -> ScheduleState:
    return ScheduleState({op.key: op for op in operations}, {s.key: s for s in pools})


MORNING_WINDOW = at(2026, 11, 27, 7, 30).isoformat()


def test_a_pending_operation_means_wait() -> None:
    c = cluster("aks-dev")
    pending = operation(c, Kind.STOP, OpStatus.PENDING, window=at(2026, 11, 26, 19, 0).isoformat())
    report = plan(c, now=THU_EVENING, state=state_of(pending))
    assert report.plan.actions == ()
    assert report.row("aks-dev").reason.startswith("waiting: stop_cluster")


def test_a_busy_cluster_waits() -> None:
    report = plan(cluster("aks-dev", provisioning="Updating"), now=THU_EVENING)
    assert report.plan.actions == ()
    assert report.row("aks-dev").reason == "busy: provisioningState=Updating; acting later"


def test_a_failed_start_backs_off_then_retries_with_a_new_key() -> None:
    c = cluster("aks-dev", power="Stopped")
    first = plan(c, now=FRI_MORNING).plan.actions[0]
    failed = operation(
        c, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, retry_at=FRI_MORNING + timedelta(minutes=5)
    )
    waiting = plan(c, now=FRI_MORNING, state=state_of(failed))
    assert waiting.plan.actions == ()
    assert waiting.row("aks-dev").reason.startswith("backing off: start_cluster attempt 1 failed")
    retry = plan(c, now=FRI_MORNING + timedelta(minutes=5), state=state_of(failed)).plan.actions[0]
    assert (retry.kind, retry.params["attempt"]) == ("start_cluster", 2)
    assert retry.key != first.key
    assert "OverconstrainedAllocationRequest" in retry.reason


def test_a_start_that_keeps_failing_is_given_up_for_the_window_and_reported() -> None:
    c = cluster("aks-dev", power="Stopped")
    failed = operation(c, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=6)
    report = plan(c, now=FRI_MORNING + timedelta(hours=3), state=state_of(failed))
    assert report.plan.actions == ()
    (guard,) = report.plan.skipped
    assert guard.reason.startswith("failed: start_cluster failed 6 times this window")


def test_fallback_starts_system_pools_first_with_their_last_known_scale() -> None:
    half = cluster(
        "aks-dev",
        power="Running",
        provisioning="Failed",
        pools=(
            ObservedPool(
                "system", "System", PoolScale(0), power_state="Stopped", provisioning_state="Failed"
            ),
            ObservedPool("user", "User", PoolScale(0), power_state="Stopped", provisioning_state="Failed"),
        ),
    )
    failed = operation(half, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=3)
    known = (
        saved(half, "system", PoolScale(2), Purpose.LAST_KNOWN),
        saved(half, "user", PoolScale(3, True, 1, 5), Purpose.LAST_KNOWN),
    )
    report = plan(half, now=FRI_MORNING + timedelta(hours=1), state=state_of(failed, pools=known))
    assert kinds(report) == [("restore_pool", "system")]
    (action,) = report.plan.actions
    assert action.params["scale"] == PoolScale(2).to_dict() and action.params["start"] is True
    assert action.reason.startswith("fallback: start failed 3 times")
    system_up = cluster(
        "aks-dev",
        provisioning="Failed",
        pools=(
            pool("system", 2, mode="System"),
            ObservedPool("user", "User", PoolScale(0), power_state="Stopped", provisioning_state="Failed"),
        ),
    )
    report = plan(system_up, now=FRI_MORNING + timedelta(hours=1), state=state_of(failed, pools=known))
    assert kinds(report) == [("restore_pool", "user")]
    assert report.plan.actions[0].params["scale"] == PoolScale(3, True, 1, 5).to_dict()
    # Both back; the autoscaler has since moved the user pool to 4 nodes within its bounds:
    # the fallback is done, not re-issued every tick against the autoscaler.
    all_up = cluster("aks-dev", pools=(pool("system", 2, mode="System"), pool("user", 4, auto=(1, 5))))
    report = plan(all_up, now=FRI_MORNING + timedelta(hours=2), state=state_of(failed, pools=known))
    assert report.plan.actions == ()
    assert report.row("aks-dev").reason.startswith("running after fallback: every pool is back")


def test_before_the_fallback_threshold_a_failed_start_is_started_again() -> None:
    half = cluster("aks-dev", power="Running", provisioning="Failed")
    failed = operation(half, Kind.START, OpStatus.FAILED, window=MORNING_WINDOW, attempt=2)
    report = plan(half, now=FRI_MORNING + timedelta(hours=1), state=state_of(failed))
    assert [(a.kind, a.params["attempt"]) for a in report.plan.actions] == [("start_cluster", 3)]


# -- estimates and caps ---------------------------------------------------------------


def test_node_hours_saved_per_week() -> None:
    report = plan(
        cluster("aks-dev"), staging(), cluster("aks-prod", {**DEV_TAGS, "environment": "prod"}), now=THU_NOON
    )
    off_hours = 168 - 57.5
    assert report.row("aks-dev").node_hours_saved_per_week == (2 + 3) * off_hours
    assert report.row("aks-staging").node_hours_saved_per_week == (3 + 4) * off_hours  # user pools only
    assert report.row("aks-prod").node_hours_saved_per_week is None


def test_the_cap_is_carried_into_the_plan() -> None:
    report = plan(cluster("a"), cluster("b"), now=THU_EVENING, cap=1)
    assert report.plan.over_cap
