"""``ops schedule preview`` as a pure function (ops.schedule.preview).

Cases: a weekday schedule over a week lists each start and stop in local time and
nothing at the weekend; the spring-forward and fall-back weeks in Berlin and New York
mark the clock change at its instant with the zones' abbreviations, and the next
morning's start stays at 07:30 local; a Bavarian holiday (Epiphany) is marked and has no
start or stop; a shutdown period (an ``off`` range) drops the windows it covers and
marks where it begins and ends; a snooze marks the stops it holds and when it ends; a
nodepools cluster scales instead of stopping; several clusters come by name, a protected
one and a misconfigured one as a single row saying so, an excluded one not at all.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ops.schedule.clusters import ObservedCluster
from ops.schedule.policy import load_policy, resolve_schedule
from ops.schedule.preview import preview_clusters, preview_transitions

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
POLICY = load_policy(None, protected_environments=["prod"])


def schedule_of(text: str, zone: str = "Europe/Berlin", **tags: str):  # type: ignore[no-untyped-def]
    found = resolve_schedule({"ops-schedule": text, "ops-timezone": zone, **tags}, POLICY)
    assert found is not None
    return found


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def span(schedule, start: datetime, *, days: int) -> list:  # type: ignore[no-untyped-def,type-arg]
    return preview_transitions(schedule, start=start, end=start + timedelta(days=days))


def shown(transitions: list, zone: ZoneInfo) -> list[tuple[str, str, str]]:  # type: ignore[type-arg]
    return [(t.at.astimezone(zone).strftime("%a %H:%M"), t.action, t.note) for t in transitions]


def test_a_working_week() -> None:
    start = at(BERLIN, 2026, 11, 23)  # a Monday
    week = preview_transitions(schedule_of("Mon-Fri 07:30-19:00"), start=start, end=start + timedelta(days=7))
    assert [t[:2] for t in shown(week, BERLIN)] == [
        (f"{day} {time}", action)
        for day in ("Mon", "Tue", "Wed", "Thu", "Fri")
        for time, action in (("07:30", "start"), ("19:00", "stop"))
    ]


def test_clock_changes_are_marked() -> None:
    start = at(BERLIN, 2026, 3, 28)  # the Saturday before the spring-forward Sunday
    spring = preview_transitions(
        schedule_of("Mon-Fri 07:30-19:00"), start=start, end=start + timedelta(days=3)
    )
    assert shown(spring, BERLIN) == [
        ("Sun 03:00", "clock change", "clocks change from CET to CEST"),
        ("Mon 07:30", "start", ""),
        ("Mon 19:00", "stop", ""),
    ]
    start = at(NEW_YORK, 2026, 10, 31)
    fall = preview_transitions(
        schedule_of("Mon-Fri 07:30-19:00", "America/New_York"), start=start, end=start + timedelta(days=3)
    )
    assert shown(fall, NEW_YORK)[0] == ("Sun 01:00", "clock change", "clocks change from EDT to EST")
    assert fall[1].at == at(NEW_YORK, 2026, 11, 2, 7, 30) and fall[1].action == "start"


def test_holidays_are_marked_and_open_nothing() -> None:
    start = at(BERLIN, 2027, 1, 5)  # Tuesday; Wednesday 6 January is Epiphany in Bavaria
    days = preview_transitions(
        schedule_of("Mon-Fri 07:30-19:00", **{"ops-holidays": "DE-BY"}),
        start=start,
        end=start + timedelta(days=3),
    )
    assert [t[:2] for t in shown(days, BERLIN)] == [
        ("Tue 07:30", "start"), ("Tue 19:00", "stop"), ("Wed 00:00", "holiday"),
        ("Thu 07:30", "start"), ("Thu 19:00", "stop"),
    ]  # fmt: skip
    assert "DE-BY" in days[2].note and "no window opens" in days[2].note


def test_a_shutdown_period() -> None:
    text = "Mon-Fri 07:30-19:00; off 2026-12-24T12:00/2027-01-04T07:30"
    start = at(BERLIN, 2026, 12, 23)
    days = preview_transitions(schedule_of(text), start=start, end=at(BERLIN, 2027, 1, 5))
    assert [(t.at.astimezone(BERLIN).strftime("%m-%d %H:%M"), t.action, t.note) for t in days] == [
        ("12-23 07:30", "start", ""),
        ("12-23 19:00", "stop", ""),
        ("12-24 07:30", "start", ""),
        ("12-24 12:00", "stop", "shutdown period begins"),
        ("01-04 07:30", "start", "shutdown period ends"),
        ("01-04 19:00", "stop", ""),
    ]


def test_a_snooze_holds_the_stops_before_it() -> None:
    schedule = schedule_of("Mon-Fri 07:30-19:00", **{"ops-snooze-until": "2026-11-24T21:00"})
    start = at(BERLIN, 2026, 11, 23)
    days = preview_transitions(schedule, start=start, end=start + timedelta(days=2))
    assert shown(days, BERLIN) == [
        ("Mon 07:30", "start", ""),
        ("Mon 19:00", "stop", "snoozed: stays on until 2026-11-24 21:00 CET (Europe/Berlin)"),
        ("Tue 07:30", "start", ""),
        ("Tue 19:00", "stop", "snoozed: stays on until 2026-11-24 21:00 CET (Europe/Berlin)"),
        ("Tue 21:00", "snooze ends", "the schedule applies again"),
    ]


def test_nodepools_clusters_scale() -> None:
    start = at(BERLIN, 2026, 11, 23)
    day = preview_transitions(
        schedule_of("Mon-Fri 07:30-19:00", **{"ops-schedule-mode": "nodepools"}),
        start=start,
        end=start + timedelta(days=1),
    )
    assert [t.action for t in day] == ["scale up", "scale down"]


def cluster(name: str, **tags: str) -> ObservedCluster:
    return ObservedCluster(
        id=f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}",
        name=name, subscription="s", resource_group="rg", location="westeurope", tags=tags,
    )  # fmt: skip


def test_clusters_by_name_with_protected_and_invalid_ones_said() -> None:
    weekly = {"ops-schedule": "Mon-Fri 07:30-19:00", "ops-timezone": "Europe/Berlin"}
    clusters = [
        cluster("aks-qa", **weekly),
        cluster("aks-dev", **weekly),
        cluster("aks-prod", environment="prod", **weekly),
        cluster("aks-broken", **{"ops-schedule": "Mon-Fri 7:30 to 19:00"}),
        cluster("aks-excluded", **{"ops-exclude": "true", **weekly}),
        cluster("aks-other"),
    ]
    start = at(BERLIN, 2026, 11, 23)
    rows = preview_clusters(clusters, POLICY, start=start, end=start + timedelta(days=1))
    assert [(r["cluster"], r["action"]) for r in rows] == [
        ("aks-broken", "none"), ("aks-dev", "start"), ("aks-dev", "stop"), ("aks-prod", "none"),
        ("aks-qa", "start"), ("aks-qa", "stop"),
    ]  # fmt: skip
    assert rows[0]["note"].startswith("invalid: tag ops-schedule")
    assert rows[3]["note"].startswith("protected: environment=prod")
    assert rows[1]["local"] == "2026-11-23 07:30 CET (Europe/Berlin)"
    assert rows[1]["at"] == "2026-11-23T07:30:00+01:00" and rows[1]["timezone"] == "Europe/Berlin"
