"""KQL value semantics over JSON-shaped data: conversions, comparison and ordering.

Rows hold Python values: ``str``, ``int``, ``float``, ``bool``, ``None`` (a null
dynamic), ``dict``/``list`` (dynamic bags and arrays), ``datetime`` and ``timedelta``.
Strings are never null in KQL; a missing dynamic property is ``None`` and behaves as
an empty string where a string is expected.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any


def to_text(value: Any) -> str:
    """``tostring()``: how KQL renders any value as a string."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    return json.dumps(value, separators=(",", ":"))


def format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def format_timespan(value: timedelta) -> str:
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    head = f"{int(days)}." if days else ""
    return f"{sign}{head}{int(hours):02d}:{int(minutes):02d}:{seconds:09.6f}".rstrip("0").rstrip(".")


def parse_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    # Python accepts at most 6 fractional digits; .NET timestamps carry 7.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = "".join(c for c in tail if c.isdigit())
        zone = tail[len(digits) :]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_int(value: Any) -> int | None:
    if is_number(value):
        return int(value)
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value)) if value.strip() else None
        except ValueError:
            return None
    return None


def to_float(value: Any) -> float | None:
    if is_number(value) or isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else None
        except ValueError:
            return None
    return None


def to_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if is_number(value):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
    return None


def equal(left: Any, right: Any, *, ignore_case: bool = False) -> bool:
    """KQL ``==`` (or ``=~``) between values of possibly different dynamic types."""
    if ignore_case:
        return to_text(left).casefold() == to_text(right).casefold()
    if left is None or right is None:
        if isinstance(left, str) or isinstance(right, str):
            return to_text(left) == to_text(right)
        return left is None and right is None
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, datetime) or isinstance(right, datetime):
        return parse_datetime(left) == parse_datetime(right)
    if isinstance(left, str) or isinstance(right, str):
        return to_text(left) == to_text(right)
    return bool(left == right)


def compare(left: Any, right: Any) -> int | None:
    """-1/0/1 for ``<``-style operators, or None when the values do not order."""
    if left is None or right is None:
        return None
    if is_number(left) and is_number(right):
        return (left > right) - (left < right)
    if isinstance(left, datetime | timedelta) or isinstance(right, datetime | timedelta):
        if isinstance(left, timedelta) and isinstance(right, timedelta):
            return (left > right) - (left < right)
        a, b = parse_datetime(left), parse_datetime(right)
        if a is None or b is None:
            return None
        return (a > b) - (a < b)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    a_num, b_num = to_float(left), to_float(right)
    if a_num is not None and b_num is not None:
        return (a_num > b_num) - (a_num < b_num)
    return None


_RANKS = {int: 0, float: 0, str: 1, bool: 2}


def sort_key(value: Any) -> tuple[int, Any]:
    """A total order over mixed values for ``order by``: numbers, strings, bools, others."""
    if value is None:
        return (9, 0)
    if isinstance(value, datetime):
        return (3, parse_datetime(value))
    if isinstance(value, timedelta):
        return (4, value)
    rank = _RANKS.get(type(value))
    if rank is None:
        return (5, to_text(value))
    return (rank, value)


def to_json(value: Any) -> Any:
    """A value as it appears in a response body."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, timedelta):
        return format_timespan(value)
    return value
