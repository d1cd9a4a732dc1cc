"""Weekly on-hours at their edges (ops.schedule.windows).

Cases:
- every syntax error's whole message, for a bad day at either end of a range, a bad start
  and a bad end; 07:59 is a time and 07:60 is not; aliases combine with days in either
  order (``Mon, weekends`` and ``weekends, Mon``); the stored text is the trimmed input;
- on_intervals keeps a window that overlaps ``[start, end)`` and drops one that ends at
  ``start`` or begins at ``end``; it includes windows on ``end``'s local day, in a zone
  whose date is ahead of UTC's; a window wholly inside a spring-forward gap is empty;
- local_to_instant puts every time inside the gap at the very second of the jump;
- desired_state with no on-hours in sight (every day a holiday) is off since nothing and
  until nothing; with on-hours behind but none ahead it is off since the last one's end;
- on_hours_between counts in the schedule's zone and skips holidays;
- none of this depends on the machine's own time zone (run again under TZ=Pacific/Chatham).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from ops.schedule.windows import (
    DesiredState,
    ScheduleSyntaxError,
    desired_state,
    local_to_instant,
    on_hours_between,
    on_intervals,
    parse_schedule,
)

BERLIN = ZoneInfo("Europe/Berlin")
AUCKLAND = ZoneInfo("Pacific/Auckland")
LIKE = "is not a schedule like 'Mon-Fri 07:30-19:00'"
DAYS = "(Mon, Tue, ... Sun, daily, weekdays or weekends)"


@pytest.fixture(params=["UTC", "Pacific/Chatham"])
def machine_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """The machine's own zone (TZ), which must never change an answer."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc, arg-type]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Mon-Fxx 07:00-08:00",
            f"'Mon-Fxx 07:00-08:00' {LIKE}: 'fxx' is not a day {DAYS}",
        ),
        (
            "Mxx-Fri 07:00-08:00",
            f"'Mxx-Fri 07:00-08:00' {LIKE}: 'mxx' is not a day {DAYS}",
        ),
        (
            "Mon 07:60-08:00",
            f"'Mon 07:60-08:00' {LIKE}: '07:60' is not a time of day (00:00-23:59, or 24:00 as an end)",
        ),
        (
            "Mon 07:00-24:01",
            f"'Mon 07:00-24:01' {LIKE}: '24:01' is not a time of day (00:00-23:59, or 24:00 as an end)",
        ),
    ],
)
def test_a_syntax_error_says_it_all(text: str, message: str) -> None:
    with pytest.raises(ScheduleSyntaxError) as info:
        parse_schedule(text)
    assert str(info.value) == message


def test_59_is_a_minute_and_60_is_not() -> None:
    (window,) = parse_schedule("Mon 07:59-08:59").windows
    assert (window.start, window.end) == (479, 539)
    with pytest.raises(ScheduleSyntaxError):
        parse_schedule("Mon 07:00-08:60")


@pytest.mark.parametrize("days", ["Mon, weekends", "weekends, Mon", "weekends,Mon"])
def test_aliases_combine_with_days_in_any_order(days: str) -> None:
    (window,) = parse_schedule(f"{days} 10:00-12:00").windows
    assert set(window.days) == {0, 5, 6}


def test_the_text_is_kept_trimmed() -> None:
    assert parse_schedule("  Mon 10:00-12:00 \n").text == "Mon 10:00-12:00"


MONDAY_WINDOW = (utc(2026, 11, 30, 6, 30), utc(2026, 11, 30, 18, 0))  # Mon 07:30-19:00 in Berlin


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(utc(2026, 11, 30, 18, 0), utc(2026, 12, 1, 0, 0), [], id="ends-at-start"),
        pytest.param(
            utc(2026, 11, 30, 17, 59), utc(2026, 12, 1, 0, 0), [MONDAY_WINDOW], id="ends-after-start"
        ),
        pytest.param(utc(2026, 11, 30, 0, 0), utc(2026, 11, 30, 6, 30), [], id="begins-at-end"),
        pytest.param(
            utc(2026, 11, 30, 0, 0), utc(2026, 11, 30, 6, 31), [MONDAY_WINDOW], id="begins-before-end"
        ),
    ],
)
def test_on_intervals_keep_only_overlapping_windows(
    start: datetime, end: datetime, expected: list[tuple[datetime, datetime]], machine_zone: str
) -> None:
    schedule = parse_schedule("Mon 07:30-19:00")
    assert on_intervals(schedule, BERLIN, start=start, end=end) == expected


def test_on_intervals_include_the_last_local_day_ahead_of_utc(machine_zone: str) -> None:
    # Tuesday 00:30-02:00 in Auckland (UTC+13) is Monday 11:30-13:00 UTC.
    schedule = parse_schedule("Tue 00:30-02:00")
    found = on_intervals(schedule, AUCKLAND, start=utc(2026, 11, 30, 10, 0), end=utc(2026, 11, 30, 12, 0))
    assert found == [(utc(2026, 11, 30, 11, 30), utc(2026, 11, 30, 13, 0))]


def test_a_window_inside_the_spring_forward_gap_is_empty(machine_zone: str) -> None:
    schedule = parse_schedule("Sun 02:10-02:50")  # Berlin skips 02:00-03:00 on 29 March 2026
    assert on_intervals(schedule, BERLIN, start=utc(2026, 3, 28, 12, 0), end=utc(2026, 3, 29, 12, 0)) == []


@pytest.mark.parametrize("minute", [0, 1, 7, 10, 17, 29, 30, 44, 59])
@pytest.mark.parametrize("second", [0, 1, 31])
def test_every_time_in_the_gap_is_the_second_of_the_jump(minute: int, second: int, machine_zone: str) -> None:
    instant = local_to_instant(datetime(2026, 3, 29, 2, minute, second), BERLIN)
    assert instant == utc(2026, 3, 29, 1, 0)
    assert instant.utcoffset() == timedelta(0)


def test_no_on_hours_in_sight_is_off_since_and_until_nothing(machine_zone: str) -> None:
    schedule = parse_schedule("Mon-Fri 07:30-19:00")
    state = desired_state(schedule, BERLIN, utc(2026, 11, 26, 12, 0), is_holiday=lambda day: True)
    assert state == DesiredState(on=False, since=None, until=None)


def test_on_hours_behind_but_none_ahead_is_off_since_the_last_end(machine_zone: str) -> None:
    schedule = parse_schedule("Mon-Fri 07:30-19:00")
    now = utc(2026, 11, 26, 20, 0)  # Thursday 21:00 in Berlin
    state = desired_state(schedule, BERLIN, now, is_holiday=lambda day: day > date(2026, 11, 26))
    assert state == DesiredState(on=False, since=utc(2026, 11, 26, 18, 0), until=None)


def test_on_hours_count_in_the_schedules_zone_and_skip_holidays(machine_zone: str) -> None:
    schedule = parse_schedule("Mon-Tue 07:30-19:00")
    start, end = utc(2026, 11, 30, 7, 0), utc(2026, 12, 1, 12, 0)  # Mon 08:00 to Tue 13:00 in Berlin
    assert on_hours_between(schedule, BERLIN, start=start, end=end) == 11 + 5.5
    tuesday_off = on_hours_between(
        schedule, BERLIN, start=start, end=end, is_holiday=lambda day: day == date(2026, 12, 1)
    )
    assert tuesday_off == 11
