"""Weekly on-hours: what ``Mon-Fri 07:30-19:00`` means, as absolute instants.

People write schedules in local wall-clock time, but wall clocks jump twice a year,
so the engine turns every window into a pair of UTC instants and decides in absolute
time. The rules, chosen so that a schedule never flaps and never silently loses a
window:

- a window belongs to the local date it starts on; an end before its start means the
  next day (``Fri 22:00-02:00`` ends on Saturday); a window that starts and ends at
  the same time is refused (it could mean nothing or a whole day: ``00:00-24:00`` says
  the latter);
- a holiday cancels the windows that *start* on it (a window that began the evening
  before runs to its end);
- a boundary at a local time that does not exist (the spring-forward gap) happens at
  the first instant after the gap, the moment the clock jumps past it;
- a boundary at a local time that occurs twice (fall-back) happens at its first
  occurrence, so a window never reopens when the clock repeats an hour;
- windows that overlap or touch merge, so ``Mon 07:00-24:00; Tue 00:00-19:00`` is one
  stretch of on-hours.

Beside the weekly rules, as kube-downscaler allows, a schedule may hold absolute ranges
(ISO 8601 intervals, local time unless they carry an offset): ``2026-12-28T08:00/
2026-12-28T18:00`` is extra on-hours, and ``off 2026-12-24T18:00/2027-01-04T07:00`` is
a shutdown period that no weekly rule or on-range overrides (the year-end break).
``never`` is a schedule without on-hours (the cluster stays off, unless an on-range or a
snooze says otherwise). On-hours are the weekly windows and the on-ranges, less the off-ranges;
holidays cancel weekly windows only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_ALIASES = {
    "daily": frozenset(range(7)),
    "weekdays": frozenset(range(5)),
    "weekends": frozenset({5, 6}),
}
_RULE = re.compile(
    r"^(?P<days>[A-Za-z][A-Za-z,\s-]*?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
_MINUTES_PER_DAY = 24 * 60

#: How far back to look for the transition that began the current state, and how far
#: ahead for the next one. Three weeks back survives a weekly schedule whose windows
#: fall on two holidays in a row.
LOOKBACK = timedelta(days=22)
LOOKAHEAD = timedelta(days=8)

EXAMPLE = "Mon-Fri 07:30-19:00"


class ScheduleSyntaxError(ValueError):
    """A schedule text that does not parse; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Window:
    """On-hours starting on ``days`` (0 = Monday) at ``start`` minutes after local
    midnight and lasting until ``end`` minutes after that same midnight (``end`` may
    exceed one day for a window that spans midnight)."""

    days: frozenset[int]
    start: int
    end: int


#: An absolute range as written: naive ends are local to the cluster's zone.
Range = tuple[datetime, datetime]


@dataclass(frozen=True, slots=True)
class WeeklySchedule:
    """A parsed schedule; ``text`` is what the user wrote, for display. ``on_ranges`` and
    ``off_ranges`` are absolute periods of extra on-hours and of shutdown."""

    text: str
    windows: tuple[Window, ...]
    on_ranges: tuple[Range, ...] = ()
    off_ranges: tuple[Range, ...] = ()


def parse_schedule(text: str) -> WeeklySchedule:
    """Parse rules separated by ``;``, each ``<days> <HH:MM>-<HH:MM>``, an absolute range
    ``<ISO time>/<ISO time>`` (extra on-hours), ``off <ISO time>/<ISO time>`` (a shutdown
    period) or ``never`` (no weekly on-hours).

    Days are names or ranges (``Mon-Fri``, ``Sat,Sun``, ``Fri-Mon``) or ``daily``,
    ``weekdays``, ``weekends``. ``24:00`` is allowed as an end.
    """
    rules = [part.strip() for part in text.split(";")]
    if not text.strip() or not all(rules):
        raise ScheduleSyntaxError(f"{text!r} is not a schedule like {EXAMPLE!r}: a rule is empty")
    windows = []
    on_ranges: list[Range] = []
    off_ranges: list[Range] = []
    never = False
    for rule in rules:
        if rule.lower() == "never":
            never = True
            continue
        if rule.lower().startswith("off ") or "/" in rule:
            off = rule.lower().startswith("off ")
            (off_ranges if off else on_ranges).append(_parse_range(rule[4:] if off else rule, text))
            continue
        match = _RULE.match(rule)
        if match is None:
            raise ScheduleSyntaxError(
                f"{text!r} is not a schedule like {EXAMPLE!r}: cannot read {rule!r} as <days> <HH:MM>-<HH:MM>"
            )
        days = _parse_days(match["days"], text)
        start = _parse_minutes(match["start"], text, allow_midnight_end=False)
        end = _parse_minutes(match["end"], text, allow_midnight_end=True)
        if start == end:
            raise ScheduleSyntaxError(
                f"{text!r} is not a schedule like {EXAMPLE!r}: {rule!r} starts and ends at the same time"
            )
        windows.append(Window(days=days, start=start, end=end if end > start else end + _MINUTES_PER_DAY))
    if never and windows:
        raise ScheduleSyntaxError(
            f"{text!r}: 'never' means no weekly on-hours, so it cannot stand beside weekly rules"
        )
    if not (never or windows or on_ranges):
        raise ScheduleSyntaxError(
            f"{text!r} has no on-hours: give weekly rules like {EXAMPLE!r}, an on-range, or 'never'"
        )
    return WeeklySchedule(
        text=text.strip(), windows=tuple(windows), on_ranges=tuple(on_ranges), off_ranges=tuple(off_ranges)
    )


def _parse_range(rule: str, text: str) -> Range:
    """``<ISO time>/<ISO time>``: both local (no offset) or both with an offset."""
    begin_text, slash, end_text = rule.strip().partition("/")
    expected = f"{text!r}: {rule.strip()!r} is not a range like '2026-12-24T18:00/2027-01-04T07:00'"
    if not slash:
        raise ScheduleSyntaxError(expected)
    try:
        begin, end = datetime.fromisoformat(begin_text.strip()), datetime.fromisoformat(end_text.strip())
    except ValueError:
        raise ScheduleSyntaxError(f"{expected}: each end is an ISO 8601 time") from None
    if (begin.tzinfo is None) != (end.tzinfo is None):
        raise ScheduleSyntaxError(f"{expected}: give an offset on both ends or on neither")
    if end <= begin:
        raise ScheduleSyntaxError(f"{expected}: it must end after it starts")
    return begin, end


def _parse_days(spec: str, text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (p.strip().lower() for p in spec.split(",")):
        if part in _DAY_ALIASES:
            days |= _DAY_ALIASES[part]
            continue
        first, _, last = (p.strip() for p in part.partition("-"))
        begin = _day_index(first, text)
        finish = _day_index(last, text) if last else begin
        # A range may wrap the week: Fri-Mon is Fri, Sat, Sun, Mon.
        days.update((begin + offset) % 7 for offset in range((finish - begin) % 7 + 1))
    return frozenset(days)


def _day_index(name: str, text: str) -> int:
    if name in DAY_NAMES:
        return DAY_NAMES.index(name)
    if name in _FULL_DAY_NAMES:
        return _FULL_DAY_NAMES.index(name)
    raise ScheduleSyntaxError(
        f"{text!r} is not a schedule like {EXAMPLE!r}: {name!r} is not a day (Mon, Tue, ... Sun, "
        "daily, weekdays or weekends)"
    )


def _parse_minutes(value: str, text: str, *, allow_midnight_end: bool) -> int:
    hours, minutes = (int(p) for p in value.split(":"))
    total = hours * 60 + minutes
    if minutes > 59 or total > _MINUTES_PER_DAY or (total == _MINUTES_PER_DAY and not allow_midnight_end):
        raise ScheduleSyntaxError(
            f"{text!r} is not a schedule like {EXAMPLE!r}: {value!r} is not a time of day (00:00-23:59, "
            "or 24:00 as an end)"
        )
    return total


def local_to_instant(local: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the wall clock in ``zone`` first reads ``local`` (naive).

    A doubled time gives its first occurrence; a time inside a spring-forward gap gives
    the instant the clock jumps past it.
    """
    instant = local.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier of two
    if _wall(instant, zone) == local:
        return instant
    # In a gap, fold=1 applies the offset after the jump: an instant before the gap.
    low = int(local.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(instant.timestamp())
    while high - low > 1:  # transitions fall on whole seconds: find the first one past it
        middle = (low + high) // 2
        if _wall(datetime.fromtimestamp(middle, UTC), zone) >= local:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


Interval = tuple[datetime, datetime]


def on_intervals(
    schedule: WeeklySchedule,
    zone: ZoneInfo,
    *,
    start: datetime,
    end: datetime,
    is_holiday: Callable[[date], bool] | None = None,
) -> list[Interval]:
    """Merged on-hours as UTC ``[from, to)`` pairs, for every window that overlaps
    ``[start, end)``; intervals are not clipped, so a stretch that began before
    ``start`` keeps its true beginning (at most one day earlier per window)."""
    first = start.astimezone(zone).date() - timedelta(days=2)
    last = end.astimezone(zone).date()
    weekly = list(_window_instants(schedule, zone, first, last, is_holiday))
    extra = [_range_instants(r, zone) for r in schedule.on_ranges]
    # Ranges are not clipped either: a long on-range keeps its true beginning.
    merged = _merge(sorted(i for i in (*weekly, *extra) if i[0] < i[1] and i[1] > start and i[0] < end))
    off = sorted(_range_instants(r, zone) for r in schedule.off_ranges)
    return [i for i in _subtract(merged, off) if i[1] > start and i[0] < end]


def _range_instants(period: Range, zone: ZoneInfo) -> Interval:
    begin, end = period
    if begin.tzinfo is not None:
        return begin.astimezone(UTC), end.astimezone(UTC)
    return local_to_instant(begin, zone), local_to_instant(end, zone)


def _subtract(intervals: list[Interval], off: list[Interval]) -> list[Interval]:
    """``intervals`` with every ``off`` period cut out of them."""
    out: list[Interval] = []
    for begin, finish in intervals:
        pieces = [(begin, finish)]
        for off_begin, off_end in off:
            pieces = [
                piece
                for b, f in pieces
                for piece in ((b, min(f, off_begin)), (max(b, off_end), f))
                if piece[0] < piece[1]
            ]
        out.extend(pieces)
    return out


def _window_instants(
    schedule: WeeklySchedule,
    zone: ZoneInfo,
    first: date,
    last: date,
    is_holiday: Callable[[date], bool] | None,
) -> Iterator[Interval]:
    day = first
    while day <= last:
        if is_holiday is None or not is_holiday(day):
            midnight = datetime(day.year, day.month, day.day)
            weekday = day.weekday()
            for window in schedule.windows:
                if weekday in window.days:
                    yield (
                        local_to_instant(midnight + timedelta(minutes=window.start), zone),
                        local_to_instant(midnight + timedelta(minutes=window.end), zone),
                    )
        day += timedelta(days=1)


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for begin, finish in intervals:
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Whether the schedule wants the cluster on at an instant, since when, and until when.

    ``since`` is the transition that began this state: it names the window, so that the
    same stop on the same evening is one action and next week's stop is another.
    """

    on: bool
    since: datetime | None
    until: datetime | None


def desired_state(
    schedule: WeeklySchedule,
    zone: ZoneInfo,
    now: datetime,
    *,
    is_holiday: Callable[[date], bool] | None = None,
) -> DesiredState:
    """The schedule's state at ``now`` (an aware datetime)."""
    intervals = on_intervals(schedule, zone, start=now - LOOKBACK, end=now + LOOKAHEAD, is_holiday=is_holiday)
    previous_end: datetime | None = None
    for begin, finish in intervals:
        if begin <= now < finish:
            return DesiredState(on=True, since=begin, until=finish)
        if finish <= now:
            previous_end = finish
        else:
            return DesiredState(on=False, since=previous_end, until=begin)
    return DesiredState(on=False, since=previous_end, until=None)


def on_hours_between(
    schedule: WeeklySchedule,
    zone: ZoneInfo,
    *,
    start: datetime,
    end: datetime,
    is_holiday: Callable[[date], bool] | None = None,
) -> float:
    """Hours of on-time in ``[start, end)``, in real elapsed hours (a DST night is 23 or 25)."""
    total = timedelta()
    for begin, finish in on_intervals(schedule, zone, start=start, end=end, is_holiday=is_holiday):
        total += min(finish, end) - max(begin, start)
    return total / timedelta(hours=1)
