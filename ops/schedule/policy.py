"""What a cluster's schedule is: its opt-in tags, over the policy's defaults by selector.

Clusters opt in with tags (see docs/schedule.md); a policy, given as a path or inline
YAML in ``OPS_SCHEDULE_POLICY``, can supply defaults for every cluster a selector
matches (say ``environment: dev``), so tagging each cluster is optional. Tags win over
defaults, field by field. Everything is validated when it is loaded: a bad policy
stops the tick with every problem named by field path, while a bad tag only takes its
own cluster out of the run, with an error that names the tag. The setting is read, and
the problems phrased, as for every capability's policy (:mod:`ops.policies`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ops.errors import ConfigError
from ops.policies import describe_validation_errors, parse_duration, publish_schema, read_policy_source
from ops.schedule.windows import EXAMPLE, ScheduleSyntaxError, WeeklySchedule, parse_schedule

TAG_SCHEDULE = "ops-schedule"
TAG_TIMEZONE = "ops-timezone"
TAG_HOLIDAYS = "ops-holidays"
TAG_MODE = "ops-schedule-mode"
TAG_SNOOZE = "ops-snooze-until"
TAG_EXCLUDE = "ops-exclude"
OPT_IN_TAGS = (TAG_SCHEDULE, TAG_TIMEZONE, TAG_HOLIDAYS, TAG_MODE, TAG_SNOOZE, TAG_EXCLUDE)
#: Tags that name the cluster's environment (names compared trimmed and case-insensitively).
#: The first present is shown; a cluster is protected if ANY of them names a protected one.
ENVIRONMENT_TAGS = ("environment", "env")
DEFAULT_PROTECTED = ("prod", "production")
SETTING = "OPS_SCHEDULE_POLICY"


class Mode(StrEnum):
    """How a cluster is turned off: stop it whole, or scale its user pools to zero."""

    CLUSTER = "cluster"
    NODEPOOLS = "nodepools"


# -- single values ---------------------------------------------------------------------


def parse_timezone(text: str) -> ZoneInfo:
    name = text.strip()
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{text!r} is not an IANA time zone like Europe/Berlin or America/New_York"
        ) from None


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Public holidays of a country, or of one subdivision of it (``DE-BY``), from the
    ``holidays`` library. Holidays are off days: windows that start on them do not open."""

    country: str
    subdivision: str | None = None

    @property
    def code(self) -> str:
        return self.country if self.subdivision is None else f"{self.country}-{self.subdivision}"

    def is_holiday(self, day: date) -> bool:
        return day in _holiday_table(self.country, self.subdivision)

    def holiday_name(self, day: date) -> str | None:
        """The holiday's name on ``day`` (None on an ordinary day)."""
        name = _holiday_table(self.country, self.subdivision).get(day)
        return None if name is None else str(name)


_HOLIDAY_TABLES: dict[tuple[str, str | None], Any] = {}


def _holiday_table(country: str, subdivision: str | None) -> Any:
    """One ``holidays`` object per calendar per process; it fills in years as asked."""
    key = (country, subdivision)
    if key not in _HOLIDAY_TABLES:
        import holidays

        _HOLIDAY_TABLES[key] = holidays.country_holidays(country, subdiv=subdivision)
    return _HOLIDAY_TABLES[key]


def parse_holidays(text: str) -> HolidayCalendar:
    """``DE``, ``DE-BY``, ``US-NY``: an ISO 3166 country, optionally with its subdivision."""
    code = text.strip()
    country, _, subdivision = code.partition("-")
    if not re.fullmatch(r"[A-Za-z]{2,3}", country):
        raise ValueError(f"{text!r} is not a holiday calendar like DE, DE-BY or US-NY")
    calendar = HolidayCalendar(country.upper(), subdivision.upper() or None)
    try:
        _holiday_table(calendar.country, calendar.subdivision)
    except NotImplementedError as exc:
        raise ValueError(f"{text!r} is not a known holiday calendar ({exc})") from None
    return calendar


def parse_mode(text: str) -> Mode:
    try:
        return Mode(text.strip().lower())
    except ValueError:
        raise ValueError(f"{text!r} is not a mode: expected cluster or nodepools") from None


def parse_flag(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0", ""):
        return False
    raise ValueError(f"{text!r} is not true or false")


def parse_instant(text: str, zone: tzinfo) -> datetime:
    """An ISO 8601 time; without an offset it is read in the cluster's time zone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time like 2026-11-26T22:00+01:00") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def format_local(moment: datetime, zone: tzinfo) -> str:
    """A time as people in ``zone`` read it: ``2026-11-26 23:00 CET (Europe/Berlin)``, to the
    minute (seconds are noise in a schedule, and the tick works to the minute)."""
    local = moment.astimezone(zone)
    abbreviation = local.tzname() or ""
    name = str(zone)
    shown = f"{local:%Y-%m-%d %H:%M} {abbreviation}"
    return shown if name in ("UTC", abbreviation) else f"{shown} ({name})"


def parse_snooze_until(text: str, *, now: datetime, zone: tzinfo) -> datetime:
    """A snooze end: a duration from ``now`` (``3h``, ``+90m``) or an ISO time (read in
    ``zone`` when it has no offset)."""
    value = text.strip().removeprefix("+")
    try:
        return now + parse_duration(value)
    except ValueError:
        return parse_instant(value, zone)


# -- the policy ----------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class DefaultRule(_Model):
    """Defaults for every cluster whose tags match ``selector`` (all keys, any listed value)."""

    selector: dict[str, list[str]]
    schedule: str | None = None
    timezone: str | None = None
    holidays: str | None = None
    mode: str | None = None

    @field_validator("selector", mode="before")
    @classmethod
    def _listify(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in value.items()
            }
        return value

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            parse_schedule(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str | None) -> str | None:
        if value is not None:
            parse_timezone(value)
        return value

    @field_validator("holidays")
    @classmethod
    def _check_holidays(cls, value: str | None) -> str | None:
        if value is not None:
            parse_holidays(value)
        return value

    @field_validator("mode")
    @classmethod
    def _check_mode(cls, value: str | None) -> str | None:
        if value is not None:
            parse_mode(value)
        return value

    def matches(self, tags: Mapping[str, str]) -> bool:
        return all(
            (tags.get(key.lower()) or "").lower() in {v.lower() for v in values}
            for key, values in self.selector.items()
        )


class RetryPolicy(_Model):
    """How failed stops and starts are retried, and when to fall back."""

    backoff: timedelta = Field(timedelta(minutes=5))
    max_backoff: timedelta = Field(timedelta(hours=1), alias="maxBackoff")
    fallback_after: int = Field(3, ge=1, alias="fallbackAfter")
    give_up_after: int = Field(6, ge=1, alias="giveUpAfter")
    operation_timeout: timedelta = Field(timedelta(hours=2), alias="operationTimeout")

    @field_validator("backoff", "max_backoff", "operation_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    def delay(self, failures: int) -> timedelta:
        """Exponential backoff after the ``failures``-th failure in a row."""
        return min(self.max_backoff, self.backoff * 2 ** max(0, failures - 1))


class SchedulePolicy(_Model):
    """The whole schedule policy: defaults by selector, retries, protected environments, and
    the grace period after a manual start."""

    defaults: tuple[DefaultRule, ...] = ()
    retry: RetryPolicy = RetryPolicy.model_validate({})
    protected_environments: tuple[str, ...] = Field(DEFAULT_PROTECTED, alias="protectedEnvironments")
    grace_period: timedelta = Field(
        timedelta(hours=1),
        alias="gracePeriod",
        description=(
            "A cluster someone started in its off-hours, after the schedule had stopped it, "
            "stays up this long before the schedule stops it again (0s: at the next tick)."
        ),
    )

    @field_validator("grace_period", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("protected_environments")
    @classmethod
    def _never_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(v.strip() for v in value)
        if not names or not all(names):
            # "protect nothing" is never what an empty list means: refuse it.
            raise ValueError("expected one or more environment names; an empty protected set is refused")
        return names

    def is_protected(self, environment: str | None) -> bool:
        """Whether ``environment`` is protected, compared trimmed and case-folded."""
        return environment is not None and _fold(environment) in {
            _fold(e) for e in self.protected_environments
        }

    def protected_environment(self, tags: Mapping[str, str] | None) -> str | None:
        """The first environment tag value (trimmed) that names a protected environment.

        Every environment-like tag counts, not only the first: a cluster tagged
        ``env=prod`` is protected even if an older ``environment=dev`` tag is still on it.
        """
        return next((value for value in environments_of(tags) if self.is_protected(value)), None)


class PolicyDocument(_Model):
    """A schedule policy file: the policy under ``schedule`` (a file may leave the key out;
    :func:`load_policy` puts it back, so every problem's path starts at ``schedule``)."""

    schedule: SchedulePolicy


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from the models (docs/schemas)."""
    return publish_schema(PolicyDocument, name="schedule-policy")


def load_policy(source: str | None, *, protected_environments: Sequence[str] | None = None) -> SchedulePolicy:
    """The policy from ``source`` (the ``OPS_SCHEDULE_POLICY`` value: a path to YAML, inline
    YAML, or empty for none).

    Protected environments are the union of ``protected_environments`` (the
    ``OPS_SCHEDULE_PROTECTED_ENVIRONMENTS`` setting) and the policy's own
    ``protectedEnvironments``, so that protection can only grow: a policy cannot unprotect
    what the setting protects, nor the setting what the policy does. A policy without the
    list takes the setting's alone. Raises ConfigError listing every problem as
    ``schedule.<field path>: <what is wrong>``.
    """
    section = _section_of(read_policy_source(SETTING, source))
    document = {"schedule": section}
    try:
        policy = PolicyDocument.model_validate(document).schedule
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_errors(exc, document, root="schedule", model=PolicyDocument)
        ) from None
    if protected_environments is None:
        return policy
    own = policy.protected_environments if "protectedEnvironments" in section else ()
    union = tuple(dict.fromkeys([*(e.strip() for e in protected_environments), *own]))
    return policy.model_copy(update={"protected_environments": union})


def _section_of(data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    if isinstance(data, dict) and set(data) == {"schedule"}:
        data = data["schedule"]  # the policy may be nested under its capability's name
    if not isinstance(data, dict):
        raise ConfigError(f"{SETTING}: expected a mapping with defaults, retry, protectedEnvironments")
    return dict(data)


# -- one cluster -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClusterSchedule:
    """Everything the engine needs to know about one cluster's opt-in.

    ``schedule`` is None only for a cluster that is excluded (which needs no schedule).
    ``source`` says where the schedule came from, for the plan's reasons.
    """

    schedule: WeeklySchedule | None
    zone: ZoneInfo
    holidays: HolidayCalendar | None
    mode: Mode
    snooze_until: datetime | None
    exclude: bool
    environment: str | None
    source: str
    problems: tuple[str, ...] = field(default=())


class ScheduleTagError(ValueError):
    """One cluster's opt-in tags are invalid; ``problems`` names each bad tag."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


def lower_tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    """Tag names are case-insensitive in Azure: compare them in lower case."""
    return {str(k).lower(): str(v) for k, v in (tags or {}).items()}


def environments_of(tags: Mapping[str, str] | None) -> tuple[str, ...]:
    """Every non-empty environment tag value (trimmed), ``environment`` before ``env``.

    Reads the tags as given, not lower-cased first, so that two tags differing only in
    case (``Environment`` and ``environment``, as an inventory may report) both count.
    """
    found: list[tuple[int, str]] = []
    for name, value in (tags or {}).items():
        folded = _fold(str(name))
        if folded in ENVIRONMENT_TAGS and str(value).strip():
            found.append((ENVIRONMENT_TAGS.index(folded), str(value).strip()))
    return tuple(value for _, value in sorted(found, key=lambda item: item[0]))


def environment_of(tags: Mapping[str, str] | None) -> str | None:
    """The environment shown for a cluster: the first of :func:`environments_of`."""
    return next(iter(environments_of(tags)), None)


def _fold(text: str) -> str:
    return text.strip().casefold()


def resolve_schedule(tags: Mapping[str, str], policy: SchedulePolicy) -> ClusterSchedule | None:
    """The cluster's schedule from its (lower-cased) tags and the policy's defaults.

    None means the cluster is not in scope: no opt-in tag and no matching default.
    Raises ScheduleTagError when it is in scope but something is invalid or missing.
    """
    rule_index, rule = next(((i, r) for i, r in enumerate(policy.defaults) if r.matches(tags)), (None, None))
    tagged = [name for name in OPT_IN_TAGS if name in tags]
    if not tagged and rule is None:
        return None
    problems: list[str] = []

    def pick(tag: str, default: str | None, parse: Any, fallback: Any) -> Any:
        raw = tags.get(tag)
        where = f"tag {tag}"
        if raw is None:
            raw, where = default, f"defaults[{rule_index}]"
        if raw is None:
            return fallback
        try:
            return parse(raw)
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            return fallback

    exclude = pick(TAG_EXCLUDE, None, parse_flag, False)
    zone = pick(TAG_TIMEZONE, rule.timezone if rule else None, parse_timezone, ZoneInfo("UTC"))
    schedule = pick(TAG_SCHEDULE, rule.schedule if rule else None, _parse_schedule_value, None)
    holidays = pick(TAG_HOLIDAYS, rule.holidays if rule else None, parse_holidays, None)
    mode = pick(TAG_MODE, rule.mode if rule else None, parse_mode, Mode.CLUSTER)
    snooze = pick(TAG_SNOOZE, None, lambda text: parse_instant(text, zone), None)
    if schedule is None and not exclude and not any(p.startswith(f"tag {TAG_SCHEDULE}") for p in problems):
        problems.append(
            f"tag {TAG_SCHEDULE}: missing; opt-in tags ({', '.join(tagged)}) need a schedule "
            f"like {EXAMPLE!r}, from the tag or from a policy default"
        )
    if problems and not exclude:
        raise ScheduleTagError(problems)
    sources = []
    if any(name in tags for name in (TAG_SCHEDULE, TAG_TIMEZONE, TAG_HOLIDAYS, TAG_MODE)):
        sources.append("tags")
    if rule is not None:
        sources.append(f"defaults[{rule_index}]")
    return ClusterSchedule(
        schedule=schedule,
        zone=zone,
        holidays=holidays,
        mode=mode,
        snooze_until=snooze,
        exclude=exclude,
        environment=environment_of(tags),
        source="+".join(sources) or "tags",
        problems=tuple(problems),
    )


def _parse_schedule_value(text: str) -> WeeklySchedule:
    try:
        return parse_schedule(text)
    except ScheduleSyntaxError as exc:
        raise ValueError(str(exc)) from None
