"""What each cluster's schedule will do over the coming days: ``ops schedule preview``.

A pure function of the schedule and a time span. It lists every start and stop the
schedule asks for (the tick makes them; a nodepools cluster scales its user pools
instead), in the cluster's local time, and marks what makes a week unlike the last: a
DST change (the hour the clock jumps, and the zone's new abbreviation), a public holiday
on which no window opens, a shutdown period, and a snooze that keeps the cluster up
through a stop. It shows the schedule's intent: a guard (protection, a snooze that is
still to be set, a failed start) is the tick's business, and the plan says it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ops.schedule.clusters import ObservedCluster
from ops.schedule.policy import (
    ClusterSchedule,
    Mode,
    SchedulePolicy,
    ScheduleTagError,
    format_local,
    lower_tags,
    resolve_schedule,
)
from ops.schedule.windows import local_to_instant, on_intervals

START = "start"
STOP = "stop"
SCALE_UP = "scale up"
SCALE_DOWN = "scale down"
DST = "clock change"
HOLIDAY = "holiday"
SNOOZE_ENDS = "snooze ends"


@dataclass(frozen=True, slots=True)
class Transition:
    """One thing that happens at ``at`` (UTC); ``note`` says why it is special, if it is."""

    at: datetime
    action: str
    note: str = ""

    def to_dict(self, zone: ZoneInfo) -> dict[str, str]:
        return {
            "at": self.at.astimezone(zone).isoformat(),
            "local": format_local(self.at, zone),
            "action": self.action,
            "note": self.note,
        }


def preview_clusters(
    clusters: Iterable[ObservedCluster], policy: SchedulePolicy, *, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """One row per transition of each cluster in scope, by cluster name then time; a
    protected or misconfigured cluster is one row saying so (an excluded one, none)."""
    rows: list[dict[str, Any]] = []
    for cluster in sorted(clusters, key=lambda c: (c.name, c.id)):
        base: dict[str, Any] = {"cluster": cluster.name, "id": cluster.id, "timezone": None, "at": None,
                                "local": "", "action": "none"}  # fmt: skip
        try:
            schedule = resolve_schedule(lower_tags(cluster.tags), policy)
        except ScheduleTagError as exc:
            rows.append({**base, "note": "invalid: " + "; ".join(exc.problems)})
            continue
        if schedule is None or schedule.exclude:
            continue
        base["timezone"] = schedule.zone.key
        protected = policy.protected_environment(cluster.tags)
        if protected is not None:
            note = f"protected: environment={protected}; the schedule never stops it"
            rows.append({**base, "note": note})
            continue
        for transition in preview_transitions(schedule, start=start, end=end):
            rows.append({**base, **transition.to_dict(schedule.zone)})
    return rows


def preview_transitions(schedule: ClusterSchedule, *, start: datetime, end: datetime) -> list[Transition]:
    """Every transition of ``schedule`` in ``[start, end)``, oldest first."""
    assert schedule.schedule is not None
    zone = schedule.zone
    is_holiday = schedule.holidays.is_holiday if schedule.holidays else None
    up, down = (SCALE_UP, SCALE_DOWN) if schedule.mode is Mode.NODEPOOLS else (START, STOP)
    snooze = schedule.snooze_until
    out: list[Transition] = []
    for begin, finish in on_intervals(schedule.schedule, zone, start=start, end=end, is_holiday=is_holiday):
        if start <= begin < end:
            out.append(Transition(begin, up, _shutdown_ends(schedule, begin)))
        if start <= finish < end:
            held = snooze is not None and finish < snooze
            note = f"snoozed: stays on until {format_local(snooze, zone)}" if held and snooze else ""
            out.append(Transition(finish, down, note or _shutdown_begins(schedule, finish)))
    if snooze is not None and start <= snooze < end:
        out.append(Transition(snooze, SNOOZE_ENDS, "the schedule applies again"))
    out.extend(_clock_changes(zone, start, end))
    if schedule.holidays is not None:
        out.extend(_holidays(schedule, start, end))
    return sorted(out, key=lambda t: (t.at, t.action))


def _shutdown_begins(schedule: ClusterSchedule, at: datetime) -> str:
    return "shutdown period begins" if any(b == at for b, _ in _off_ranges(schedule)) else ""


def _shutdown_ends(schedule: ClusterSchedule, at: datetime) -> str:
    return "shutdown period ends" if any(e == at for _, e in _off_ranges(schedule)) else ""


def _off_ranges(schedule: ClusterSchedule) -> Iterator[tuple[datetime, datetime]]:
    assert schedule.schedule is not None
    for begin, finish in schedule.schedule.off_ranges:
        if begin.tzinfo is not None:
            yield begin.astimezone(UTC), finish.astimezone(UTC)
        else:
            yield local_to_instant(begin, schedule.zone), local_to_instant(finish, schedule.zone)


def _days(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[date]:
    day = start.astimezone(zone).date()
    while day <= end.astimezone(zone).date():
        yield day
        day += timedelta(days=1)


def _clock_changes(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[Transition]:
    """Each instant in the span at which the zone's offset changes, found by bisection
    (offsets change on whole seconds)."""
    low = start
    for day in _days(zone, start, end):
        high = min(end, datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=1))
        if high <= low:
            continue
        if low.astimezone(zone).utcoffset() != high.astimezone(zone).utcoffset():
            a, b = int(low.timestamp()), int(high.timestamp())
            before = low.astimezone(zone)
            while b - a > 1:
                middle = (a + b) // 2
                if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == before.utcoffset():
                    a = middle
                else:
                    b = middle
            at = datetime.fromtimestamp(b, UTC)
            after = at.astimezone(zone)
            yield Transition(at, DST, f"clocks change from {before.tzname()} to {after.tzname()}")
        low = high


def _holidays(schedule: ClusterSchedule, start: datetime, end: datetime) -> Iterator[Transition]:
    """Holidays on which a weekly window would have opened."""
    assert schedule.schedule is not None and schedule.holidays is not None
    zone = schedule.zone
    for day in _days(zone, start, end):
        if not any(day.weekday() in w.days for w in schedule.schedule.windows):
            continue
        name = schedule.holidays.holiday_name(day)
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
        if name is not None and start <= midnight + timedelta(days=1) and midnight < end:
            note = f"{name} ({schedule.holidays.code}): no window opens"
            yield Transition(max(midnight, start), HOLIDAY, note)
