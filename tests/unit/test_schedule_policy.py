"""Loading the schedule policy and reading opt-in values (ops.schedule.policy).

Cases: the policy from inline YAML, from a file, nested under ``schedule:`` or not, and
empty; every problem reported at once with its field path; a one-line value that is
neither a file nor YAML; protected environments are the union of the setting and the
policy's list (protection only grows; without a list in the policy, the setting alone),
and an empty or blank list in the policy is refused with its path; retry backoff
doubles up to its maximum; snooze times as durations, local times and times with
offsets; holiday calendars by country and subdivision.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ops.errors import ConfigError
from ops.schedule.policy import load_policy, parse_holidays, parse_snooze_until

POLICY = """
schedule:
  defaults:
    - selector: {environment: dev}
      schedule: Mon-Fri 07:30-19:00
      timezone: Europe/Berlin
  retry: {backoff: 2m, maxBackoff: 10m, giveUpAfter: 4}
  protectedEnvironments: [prod, live]
"""


def test_inline_and_file_policies_are_the_same(tmp_path: Path) -> None:
    path = tmp_path / "schedule.yaml"
    path.write_text(POLICY)
    inline, from_file = load_policy(POLICY), load_policy(str(path))
    assert inline == from_file
    assert inline.defaults[0].selector == {"environment": ["dev"]}
    assert inline.retry.give_up_after == 4
    assert inline.protected_environments == ("prod", "live")


def test_the_capability_key_is_optional_and_empty_means_defaults() -> None:
    assert load_policy("defaults: []").defaults == ()
    empty = load_policy("")
    assert empty.defaults == () and empty.protected_environments == ("prod", "production")


def test_every_problem_is_reported_with_its_path() -> None:
    with pytest.raises(ConfigError) as info:
        load_policy(
            "schedule:\n"
            "  defaults:\n"
            "    - selector: {environment: dev}\n"
            "      schedule: Mon-Fri 7-19\n"
            "      timezne: Europe/Berlin\n"
            "  retry: {backoff: soon, fallbackAfter: 0}\n"
        )
    assert sorted(p.split(":")[0] for p in info.value.problems) == [
        "schedule.defaults[0].schedule",
        "schedule.defaults[0].timezne",
        "schedule.retry.backoff",
        "schedule.retry.fallbackAfter",
    ]


def test_a_line_that_is_neither_a_file_nor_yaml() -> None:
    with pytest.raises(ConfigError, match="neither a file nor inline YAML"):
        load_policy("/etc/ops/missing-schedule.yaml")


def test_protected_environments_are_the_union_of_setting_and_policy() -> None:
    assert load_policy(POLICY, protected_environments=["qa"]).protected_environments == ("qa", "prod", "live")
    both = load_policy(POLICY, protected_environments=["prod", "production"]).protected_environments
    assert both == ("prod", "production", "live")
    assert load_policy(None, protected_environments=["prod", "uat"]).protected_environments == ("prod", "uat")
    adds_staging = "schedule:\n  protectedEnvironments: [staging]\n"
    staging = load_policy(adds_staging, protected_environments=["prod", "production"])
    assert staging.is_protected("Staging") and staging.is_protected("production")


@pytest.mark.parametrize("listed", ["[]", "['  ']", "[prod, '']"])
def test_an_empty_protected_list_in_the_policy_is_refused(listed: str) -> None:
    with pytest.raises(
        ConfigError, match=r"schedule.protectedEnvironments: .*an empty protected set is refused"
    ):
        load_policy(f"schedule:\n  protectedEnvironments: {listed}\n", protected_environments=["prod"])


def test_backoff_doubles_up_to_its_maximum() -> None:
    retry = load_policy(POLICY).retry
    assert [retry.delay(n) for n in (1, 2, 3, 4, 5)] == [
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(minutes=8),
        timedelta(minutes=10),
        timedelta(minutes=10),
    ]


NOW = datetime(2026, 11, 26, 18, 5, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3h", NOW + timedelta(hours=3)),
        ("+90m", NOW + timedelta(minutes=90)),
        ("2026-11-26T23:00", datetime(2026, 11, 26, 23, 0, tzinfo=BERLIN)),
        ("2026-11-26T23:00:00-05:00", datetime(2026, 11, 27, 4, 0, tzinfo=UTC)),
    ],
)
def test_snooze_times(text: str, expected: datetime) -> None:
    assert parse_snooze_until(text, now=NOW, zone=BERLIN) == expected


@pytest.mark.parametrize(
    ("code", "country", "subdivision"), [("DE", "DE", None), ("de-by", "DE", "BY"), ("US-NY", "US", "NY")]
)
def test_holiday_calendars(code: str, country: str, subdivision: str | None) -> None:
    calendar = parse_holidays(code)
    assert (calendar.country, calendar.subdivision) == (country, subdivision)


@pytest.mark.parametrize("code", ["DE-XX", "Germany", "ZZ"])
def test_unknown_holiday_calendars(code: str) -> None:
    with pytest.raises(ValueError, match="holiday calendar"):
        parse_holidays(code)
