"""Weekly on-hours as instants (ops.schedule.windows).

Cases: schedule grammar (day ranges, lists, week-wrapping ranges, aliases, 24:00,
windows spanning midnight) and its errors; desired state on weekdays, at the exact
edges, over weekends, for windows spanning midnight and for touching windows that
merge; DST spring-forward and fall-back in Europe/Berlin and America/New_York with
boundaries at non-existent and doubled local times; holidays as off days (DE-BY,
US-NY), including a window that began the evening before a holiday; on-hours over a
DST week. Absolute ranges: a shutdown period (``off A/B``) wins over weekly windows and
ends where a window opens; an on-range adds hours (local or with offsets) and merges with
a touching window; ``never`` has no on-hours; an off-range cuts an on-range in two;
holidays cancel weekly windows, not on-ranges; bad ranges (no ISO time, reversed, empty,
one offset, ``never`` beside weekly rules, no on-hours at all) and a window that starts
and ends at the same time are refused.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ops.schedule.policy import parse_holidays
from ops.schedule.windows import (
    DesiredState,
    ScheduleSyntaxError,
    desired_state,
    local_to_instant,
    on_hours_between,
    parse_schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def local(zone: ZoneInfo, *parts: int) -> datetime:
    return local_to_instant(datetime(*parts), zone)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "days", "start", "end"),
    [
        ("Mon-Fri 07:30-19:00", {0, 1, 2, 3, 4}, 450, 1140),
        ("mon,wed,FRI 7:00-9:30", {0, 2, 4}, 420, 570),
        ("Fri-Mon 10:00-12:00", {4, 5, 6, 0}, 600, 720),
        ("weekends 00:00-24:00", {5, 6}, 0, 1440),
        ("daily 22:00-02:00", set(range(7)), 1320, 1560),
        ("Saturday 23:00-00:00", {5}, 1380, 1440),
        ("weekdays 08:00-12:00", {0, 1, 2, 3, 4}, 480, 720),
    ],
)
def test_schedules_parse(text: str, days: set[int], start: int, end: int) -> None:
    (window,) = parse_schedule(text).windows
    assert (set(window.days), window.start, window.end) == (days, start, end)


def test_rules_separated_by_semicolons() -> None:
    schedule = parse_schedule("Mon-Fri 07:30-19:00; Sat 09:00-13:00")
    assert [sorted(w.days) for w in schedule.windows] == [[0, 1, 2, 3, 4], [5]]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "a rule is empty"),
        ("Mon-Fri 07:30-19:00;", "a rule is empty"),
        ("Mon-Fri 7:30", "cannot read 'Mon-Fri 7:30'"),
        ("Mun-Fri 07:30-19:00", "'mun' is not a day"),
        ("Mon-Fri 07:30-25:00", "'25:00' is not a time of day"),
        ("Mon-Fri 24:00-06:00", "'24:00' is not a time of day"),
        ("Mon-Fri 07:61-19:00", "'07:61' is not a time of day"),
        ("Mon 09:00-09:00", "starts and ends at the same time"),
    ],
)
def test_bad_schedules_say_what_was_expected(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleSyntaxError) as info:
        parse_schedule(text)
    assert fragment in str(info.value)
    assert "Mon-Fri 07:30-19:00" in str(info.value)


WEEKDAYS = "Mon-Fri 07:30-19:00"


@pytest.mark.parametrize(
    ("text", "zone", "now", "on", "since", "until"),
    [
        # weekdays; Thursday 26 Nov 2026, Berlin is UTC+1
        (WEEKDAYS, BERLIN, (2026, 11, 26, 10, 0), True, (2026, 11, 26, 7, 30), (2026, 11, 26, 19, 0)),
        (WEEKDAYS, BERLIN, (2026, 11, 26, 7, 30), True, (2026, 11, 26, 7, 30), (2026, 11, 26, 19, 0)),
        (WEEKDAYS, BERLIN, (2026, 11, 26, 19, 0), False, (2026, 11, 26, 19, 0), (2026, 11, 27, 7, 30)),
        (WEEKDAYS, BERLIN, (2026, 11, 26, 7, 29), False, (2026, 11, 25, 19, 0), (2026, 11, 26, 7, 30)),
        (WEEKDAYS, BERLIN, (2026, 11, 28, 12, 0), False, (2026, 11, 27, 19, 0), (2026, 11, 30, 7, 30)),
        # a window spanning midnight belongs to the day it starts on
        (
            "Fri-Sat 22:00-02:00",
            BERLIN,
            (2026, 11, 28, 1, 0),
            True,
            (2026, 11, 27, 22, 0),
            (2026, 11, 28, 2, 0),
        ),
        (
            "Fri-Sat 22:00-02:00",
            BERLIN,
            (2026, 11, 28, 2, 0),
            False,
            (2026, 11, 28, 2, 0),
            (2026, 11, 28, 22, 0),
        ),
        (
            "Fri-Sat 22:00-02:00",
            BERLIN,
            (2026, 11, 29, 1, 59),
            True,
            (2026, 11, 28, 22, 0),
            (2026, 11, 29, 2, 0),
        ),
        (
            "Fri-Sat 22:00-02:00",
            BERLIN,
            (2026, 11, 29, 3, 0),
            False,
            (2026, 11, 29, 2, 0),
            (2026, 12, 4, 22, 0),
        ),
        # touching windows merge into one stretch
        (
            "Mon 07:00-24:00; Tue 00:00-19:00",
            BERLIN,
            (2026, 11, 24, 0, 0),
            True,
            (2026, 11, 23, 7, 0),
            (2026, 11, 24, 19, 0),
        ),
    ],
)
def test_desired_state_in_local_time(
    text: str,
    zone: ZoneInfo,
    now: tuple[int, ...],
    on: bool,
    since: tuple[int, ...],
    until: tuple[int, ...],
) -> None:
    state = desired_state(parse_schedule(text), zone, local(zone, *now))
    assert (state.on, state.since, state.until) == (on, local(zone, *since), local(zone, *until))


@pytest.mark.parametrize(
    ("case", "text", "zone", "now", "on", "since", "until"),
    [
        # Berlin springs forward on Sun 29 Mar 2026 at 02:00 CET (01:00 UTC) to 03:00 CEST.
        (
            "berlin spring: start in the gap opens at the jump",
            "daily 02:30-06:00",
            BERLIN,
            utc(2026, 3, 29, 1, 0),
            True,
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 29, 4, 0),
        ),
        (
            "berlin spring: one second before the jump it is still closed",
            "daily 02:30-06:00",
            BERLIN,
            utc(2026, 3, 29, 0, 59, 59),
            False,
            utc(2026, 3, 28, 5, 0),
            utc(2026, 3, 29, 1, 0),
        ),
        (
            "berlin spring: end in the gap closes at the jump",
            "daily 01:00-02:30",
            BERLIN,
            utc(2026, 3, 29, 0, 59),
            True,
            utc(2026, 3, 29, 0, 0),
            utc(2026, 3, 29, 1, 0),
        ),
        # Berlin falls back on Sun 25 Oct 2026 at 03:00 CEST (01:00 UTC) to 02:00 CET.
        (
            "berlin fall: doubled start opens at its first occurrence",
            "daily 02:30-05:00",
            BERLIN,
            utc(2026, 10, 25, 0, 30),
            True,
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 4, 0),
        ),
        (
            "berlin fall: the repeated hour does not reopen a closed window",
            "daily 00:00-02:30",
            BERLIN,
            utc(2026, 10, 25, 1, 15),
            False,
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 25, 23, 0),
        ),
        # New York springs forward on Sun 8 Mar 2026 at 02:00 EST (07:00 UTC) to 03:00 EDT.
        (
            "new york spring: start in the gap opens at the jump",
            "daily 02:15-08:00",
            NEW_YORK,
            utc(2026, 3, 8, 7, 0),
            True,
            utc(2026, 3, 8, 7, 0),
            utc(2026, 3, 8, 12, 0),
        ),
        (
            "new york spring: the short night is an hour shorter",
            "daily 08:00-20:00",
            NEW_YORK,
            utc(2026, 3, 8, 6, 0),
            False,
            utc(2026, 3, 8, 1, 0),
            utc(2026, 3, 8, 12, 0),
        ),
        # New York falls back on Sun 1 Nov 2026 at 02:00 EDT (06:00 UTC) to 01:00 EST.
        (
            "new york fall: end at a doubled time closes at its first occurrence",
            "Sat 20:00-01:30",
            NEW_YORK,
            utc(2026, 11, 1, 6, 0),
            False,
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 8, 1, 0),
        ),
        (
            "new york fall: doubled start opens once, at the first 01:30",
            "Sun 01:30-09:00",
            NEW_YORK,
            utc(2026, 11, 1, 5, 30),
            True,
            utc(2026, 11, 1, 5, 30),
            utc(2026, 11, 1, 14, 0),
        ),
    ],
)
def test_desired_state_across_dst(
    case: str,
    text: str,
    zone: ZoneInfo,
    now: datetime,
    on: bool,
    since: datetime,
    until: datetime,
) -> None:
    state = desired_state(parse_schedule(text), zone, now)
    assert (state.on, state.since, state.until) == (on, since, until), case


@pytest.mark.parametrize(
    ("zone", "week_start", "hours"),
    [
        (BERLIN, (2026, 3, 23), 167.0),  # spring-forward week
        (BERLIN, (2026, 10, 19), 169.0),  # fall-back week
        (NEW_YORK, (2026, 3, 2), 167.0),
        (NEW_YORK, (2026, 10, 26), 169.0),
        (BERLIN, (2026, 11, 23), 168.0),
    ],
)
def test_on_hours_are_real_hours_in_dst_weeks(
    zone: ZoneInfo, week_start: tuple[int, int, int], hours: float
) -> None:
    start = local(zone, *week_start, 0, 0)
    monday = date(*week_start)
    following = date.fromordinal(monday.toordinal() + 7)
    end = local(zone, following.year, following.month, following.day, 0, 0)
    assert on_hours_between(parse_schedule("daily 00:00-24:00"), zone, start=start, end=end) == hours


def test_weekday_on_hours_per_week() -> None:
    start = local(BERLIN, 2026, 11, 23, 0, 0)
    end = local(BERLIN, 2026, 11, 30, 0, 0)
    assert on_hours_between(parse_schedule(WEEKDAYS), BERLIN, start=start, end=end) == 57.5


DE_BY = parse_holidays("DE-BY").is_holiday
US_NY = parse_holidays("US-NY").is_holiday


@pytest.mark.parametrize(
    ("case", "text", "zone", "is_holiday", "now", "on"),
    [
        ("easter monday is off", WEEKDAYS, BERLIN, DE_BY, (2026, 4, 6, 10, 0), False),
        ("the tuesday after is on", WEEKDAYS, BERLIN, DE_BY, (2026, 4, 7, 10, 0), True),
        ("without a calendar easter monday is on", WEEKDAYS, BERLIN, None, (2026, 4, 6, 10, 0), True),
        ("thanksgiving in new york is off", "Mon-Fri 08:00-18:00", NEW_YORK, US_NY,
         (2026, 11, 26, 12, 0), False),
        ("corpus christi in bavaria is off", WEEKDAYS, BERLIN, DE_BY, (2026, 6, 4, 12, 0), False),
        ("a night window begun before good friday runs on", "Mon-Fri 22:00-06:00", BERLIN, DE_BY,
         (2026, 4, 3, 5, 0), True),
        ("none starts on good friday itself", "Mon-Fri 22:00-06:00", BERLIN, DE_BY,
         (2026, 4, 3, 23, 0), False),
    ],
)  # fmt: skip
def test_holidays_are_off_days(
    case: str, text: str, zone: ZoneInfo, is_holiday: object, now: tuple[int, ...], on: bool
) -> None:
    state = desired_state(parse_schedule(text), zone, local(zone, *now), is_holiday=is_holiday)  # type: ignore[arg-type]
    assert state.on is on, case


def test_off_over_a_long_easter_weekend_names_the_last_evening() -> None:
    state = desired_state(
        parse_schedule(WEEKDAYS), BERLIN, local(BERLIN, 2026, 4, 5, 12, 0), is_holiday=DE_BY
    )
    assert state.since == local(BERLIN, 2026, 4, 2, 19, 0)  # Thursday before Good Friday
    assert state.until == local(BERLIN, 2026, 4, 7, 7, 30)  # Tuesday after Easter Monday


# -- absolute ranges and never ------------------------------------------------------------

YEAR_END = "Mon-Fri 07:30-19:00; off 2026-12-24T12:00/2027-01-04T07:30"


@pytest.mark.parametrize(
    ("text", "now", "on", "since", "until"),
    [
        # a shutdown period wins over the weekly rules: Christmas Eve from noon, all week
        (YEAR_END, local(BERLIN, 2026, 12, 24, 11, 0), True, local(BERLIN, 2026, 12, 24, 7, 30),
         local(BERLIN, 2026, 12, 24, 12, 0)),
        (YEAR_END, local(BERLIN, 2026, 12, 28, 10, 0), False, local(BERLIN, 2026, 12, 24, 12, 0),
         local(BERLIN, 2027, 1, 4, 7, 30)),
        # the first weekday after it opens at the range's end, which is the window's start
        (YEAR_END, local(BERLIN, 2027, 1, 4, 7, 30), True, local(BERLIN, 2027, 1, 4, 7, 30),
         local(BERLIN, 2027, 1, 4, 19, 0)),
        # an on-range adds hours: a Saturday release, local time
        ("Mon-Fri 07:30-19:00; 2026-12-05T09:00/2026-12-05T17:00", local(BERLIN, 2026, 12, 5, 10, 0), True,
         local(BERLIN, 2026, 12, 5, 9, 0), local(BERLIN, 2026, 12, 5, 17, 0)),
        # an on-range touching a weekly window merges with it
        ("Mon-Fri 07:30-19:00; 2026-12-04T19:00/2026-12-04T23:00", local(BERLIN, 2026, 12, 4, 20, 0), True,
         local(BERLIN, 2026, 12, 4, 7, 30), local(BERLIN, 2026, 12, 4, 23, 0)),
        # an on-range with offsets is read as written, whatever the zone
        ("never; 2026-12-05T08:00+00:00/2026-12-05T16:00+00:00", utc(2026, 12, 5, 8, 0), True,
         utc(2026, 12, 5, 8, 0), utc(2026, 12, 5, 16, 0)),
        ("never", local(BERLIN, 2026, 12, 2, 10, 0), False, None, None),
        # an off-range inside an on-range cuts it in two
        ("never; 2026-12-05T08:00/2026-12-05T18:00; off 2026-12-05T12:00/2026-12-05T13:00",
         local(BERLIN, 2026, 12, 5, 12, 30), False, local(BERLIN, 2026, 12, 5, 12, 0),
         local(BERLIN, 2026, 12, 5, 13, 0)),
    ],
)  # fmt: skip
def test_absolute_ranges_and_never(
    text: str, now: datetime, on: bool, since: datetime | None, until: datetime | None
) -> None:
    assert desired_state(parse_schedule(text), BERLIN, now) == DesiredState(on, since, until)


def test_a_shutdown_week_has_no_on_hours() -> None:
    schedule = parse_schedule(YEAR_END)
    week = on_hours_between(
        schedule, BERLIN, start=local(BERLIN, 2026, 12, 25), end=local(BERLIN, 2027, 1, 1)
    )
    assert week == 0
    assert on_hours_between(parse_schedule("never"), BERLIN, start=utc(2026, 1, 1), end=utc(2026, 2, 1)) == 0


def test_holidays_cancel_weekly_windows_not_on_ranges() -> None:
    schedule = parse_schedule("Mon-Fri 07:30-19:00; 2026-12-25T10:00/2026-12-25T12:00")  # a Friday holiday
    holidays = parse_holidays("DE-BY")
    now = local(BERLIN, 2026, 12, 25, 11, 0)
    assert desired_state(schedule, BERLIN, now, is_holiday=holidays.is_holiday).on is True
    later = local(BERLIN, 2026, 12, 25, 15, 0)
    assert desired_state(schedule, BERLIN, later, is_holiday=holidays.is_holiday).on is False


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("never; Mon-Fri 07:30-19:00", "cannot stand beside weekly rules"),
        ("off 2026-12-24T12:00/2027-01-04T07:30", "has no on-hours"),
        ("Mon-Fri 07:30-19:00; off 2026-12-24/", "each end is an ISO 8601 time"),
        ("Mon-Fri 07:30-19:00; off 2027-01-04T07:30/2026-12-24T12:00", "must end after it starts"),
        ("Mon-Fri 07:30-19:00; 2026-12-24T12:00/2026-12-24T12:00", "must end after it starts"),
        ("Mon-Fri 07:30-19:00; off 2026-12-24T12:00+01:00/2027-01-04T07:30", "on both ends or on neither"),
        ("Mon-Fri 07:00-07:00", "starts and ends at the same time"),
    ],
)
def test_bad_ranges_say_what_was_expected(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleSyntaxError, match=re.escape(fragment)):
        parse_schedule(text)
