"""What ``ops schedule`` shows, field for field: the report's rows and counts as stored and
printed, for one tick over clusters in every situation.

Cases: a cluster to stop (its schedule, zone, mode, environment, desired and current state,
the action, the reason naming the window, the next change in local time, node-hours saved);
a protected environment (desired on, no saving, the reason); an excluded cluster; a cluster
with an invalid tag (the error and the problems in the guard); a cluster out of scope
(counted, with a note); rows sorted by cluster id; looking a row up by name or id in any case;
unset schedule and environment shown empty; every out-of-scope cluster counted, and no note
when there is none; a holiday judged by the cluster's own date; a snooze kept in the store
holds until its instant, not at it.
"""

# ruff: noqa: E501  (ids and messages are compared whole)
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ops.schedule.planner import ScheduleReport, ScheduleState, plan_schedule
from ops.schedule.policy import load_policy
from tests.unit.test_schedule_engine import DEV_TAGS, THU_EVENING, cluster, plan

PREFIX = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/"
BAD_ZONE = "tag ops-timezone: 'Mars/Olympus' is not an IANA time zone like Europe/Berlin or America/New_York"
STOP = "stop: off-hours since 2026-11-26 19:00 CET (Mon-Fri 07:30-19:00 Europe/Berlin)"
PROTECTED = "protected: environment=prod is a protected environment; the schedule never stops it"


def row(name: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "cluster": name,
        "id": PREFIX + name,
        "schedule": "Mon-Fri 07:30-19:00",
        "timezone": "Europe/Berlin",
        "mode": "cluster",
        "environment": "dev",
        "desired": "",
        "current": "running",
        "action": "none",
        "reason": "",
        "nextChange": "",
        "nodeHoursSavedPerWeek": None,
        "error": None,
    }
    return {**base, **fields}


def report() -> ScheduleReport:
    return plan(
        cluster("aks-dev"),
        cluster("aks-prod", {**DEV_TAGS, "environment": "prod"}),
        cluster("aks-off", {**DEV_TAGS, "ops-exclude": "true"}),
        cluster("aks-bad", {**DEV_TAGS, "ops-timezone": "Mars/Olympus"}),
        cluster("aks-none", {}),
        now=THU_EVENING,
    )


def test_the_report_field_for_field() -> None:
    stored = report().to_dict()
    assert stored["now"] == "2026-11-26T19:00:00+00:00"
    assert stored["notInScope"] == 1
    assert stored["clusters"] == [
        row(
            "aks-bad",
            schedule="",
            timezone="",
            mode="",
            environment="",
            reason=f"invalid: {BAD_ZONE}",
            error=BAD_ZONE,
        ),
        row(
            "aks-dev",
            desired="off",
            action="stop_cluster",
            reason=STOP,
            nextChange="2026-11-27 07:30 CET",
            # 5 nodes, each off 168 - 5 * 11.5 = 110.5 hours a week
            nodeHoursSavedPerWeek=552.5,
        ),
        row("aks-off", reason="excluded: tag ops-exclude=true"),
        row("aks-prod", environment="prod", desired="on", reason=PROTECTED),
    ]
    assert stored["plan"]["notes"] == ["1 cluster(s) have no schedule tags and match no policy default"]
    assert stored["plan"]["skipped"] == [
        {"target": PREFIX + "aks-bad", "reason": f"invalid: {BAD_ZONE}", "detail": {"problems": [BAD_ZONE]}},
        {"target": PREFIX + "aks-off", "reason": "excluded: tag ops-exclude=true"},
    ]
    assert stored["plan"]["protected"] == [{"target": PREFIX + "aks-prod", "reason": PROTECTED}]
    assert [(a["kind"], a["target"], a["reason"]) for a in stored["plan"]["actions"]] == [
        ("stop_cluster", PREFIX + "aks-dev", STOP)
    ]


def test_a_row_is_found_by_name_or_id_in_any_case() -> None:
    found = report()
    assert found.row("AKS-Dev").cluster == "aks-dev"
    assert found.row((PREFIX + "aks-prod").upper()).cluster == "aks-prod"


def test_unset_fields_show_empty_and_the_out_of_scope_are_counted() -> None:
    report = plan(
        cluster("aks-x", {"ops-exclude": "true"}),
        cluster("aks-noenv", {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin"}),
        cluster("aks-none-1", {}),
        cluster("aks-none-2", {}),
        now=THU_EVENING,
    )
    stored = report.to_dict()
    rows = {r["cluster"]: r for r in stored["clusters"]}
    assert (rows["aks-x"]["schedule"], rows["aks-x"]["environment"], rows["aks-x"]["timezone"]) == (
        "",
        "",
        "UTC",
    )
    assert rows["aks-noenv"]["environment"] == ""
    assert stored["notInScope"] == 2
    assert stored["plan"]["notes"] == ["2 cluster(s) have no schedule tags and match no policy default"]
    assert stored["plan"]["capability"] == "schedule"


def test_no_note_when_every_cluster_is_in_scope() -> None:
    stored = plan(cluster("aks-dev"), now=THU_EVENING).to_dict()
    assert (stored["notInScope"], stored["plan"]["notes"]) == (0, [])


def test_a_holiday_is_judged_by_the_clusters_own_date() -> None:
    tags = {**DEV_TAGS, "ops-holidays": "DE-BY"}
    # 23:30 UTC on 24 December is already Christmas Day in Berlin (a holiday there), not in UTC.
    late = datetime(2026, 12, 24, 23, 30, tzinfo=UTC)
    assert "(today is a holiday)" in plan(cluster("aks-dev", tags), now=late).rows[0].reason


def test_a_snooze_kept_in_the_store_holds_until_its_instant() -> None:
    dev = cluster("aks-dev")
    until = THU_EVENING + timedelta(hours=2)
    held = plan_schedule(
        [dev],
        policy=load_policy(None),
        state=ScheduleState(snoozes={dev.key: until}),
        now=until - timedelta(seconds=1),
    )
    assert (held.rows[0].action, held.rows[0].desired, held.rows[0].next_change) == (
        "none",
        "on",
        "2026-11-26 22:00 CET",
    )
    assert held.rows[0].reason == "running as scheduled: snoozed until 2026-11-26 22:00 CET"
    over = plan_schedule(
        [dev], policy=load_policy(None), state=ScheduleState(snoozes={dev.key: until}), now=until
    )
    assert over.rows[0].action == "stop_cluster"
