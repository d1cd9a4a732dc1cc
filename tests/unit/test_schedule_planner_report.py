"""What ``ops schedule`` shows, field for field: the report's rows and counts as stored and
printed, for one tick over clusters in every situation.

Cases: a cluster to stop (its schedule, zone, mode, environment, desired and current state,
the action, the reason naming the window, the next change in local time, node-hours saved);
a protected environment (desired on, no saving, the reason); an excluded cluster; a cluster
with an invalid tag (the error and the problems in the guard); a cluster out of scope
(counted, with a note); rows sorted by cluster id; looking a row up by name or id in any case.
"""

# ruff: noqa: E501  (ids and messages are compared whole)
from __future__ import annotations

from ops.schedule.planner import ScheduleReport
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
