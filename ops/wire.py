"""Wire models and field types shared by every parser of outside input (events, alerts).

Pydantic does the validating; this module turns its first error into
:class:`ops.errors.InvalidInput` with the dotted field path and what was expected
(:func:`validate_model`), and holds the field types Azure's payloads need: ISO 8601
times that may lack an offset (UTC, as documented), numbers that are not booleans,
text or a code, and :class:`Wire` (camelCase, frozen, unknown fields ignored, because
Azure adds fields without notice) and :class:`Record` (exact) base models.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from ops.errors import InvalidInput
from ops.payloads import MAX_DEPTH, Loc, fail, format_path

ModelT = TypeVar("ModelT", bound=BaseModel)


# --------------------------------------------------------------------------- errors


# Expected-value wording for pydantic's own error types; our validators raise
# PydanticCustomError whose message already says what is expected.
_EXPECTED: Mapping[str, str] = {
    "missing": "a value (required field is missing)",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "an array",
    "tuple_type": "an array",
    "extra_forbidden": "no such field (unknown fields are rejected)",
    "datetime_type": "an ISO 8601 date-time",
    "datetime_parsing": "an ISO 8601 date-time",
    "datetime_from_date_parsing": "an ISO 8601 date-time",
}


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return f"a string matching {ctx.get('pattern')}"
    if kind == "string_too_short":
        return f"a string of at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"a string of at most {ctx.get('max_length')} characters"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} items"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return "a number " + str(error["msg"]).removeprefix("Input should be ")
    return _EXPECTED.get(kind) or str(error["msg"])


def invalid_from(error: ValidationError, prefix: Loc) -> InvalidInput:
    """The first of pydantic's errors, as InvalidInput; the rest are counted."""
    errors = error.errors(include_url=False)
    if not errors:  # pragma: no cover - pydantic always reports at least one
        return InvalidInput(format_path(prefix), "valid input")
    first = errors[0]
    expected = _describe(first)
    others = len(errors) - 1
    if others:
        expected += f" (and {others} more problem{'s' if others > 1 else ''} in this input)"
    got = None if first["type"] == "missing" else first.get("input")
    return InvalidInput(format_path((*prefix, *first["loc"])), expected, got)


def validate_model(model: type[ModelT], value: Any, prefix: Loc = ()) -> ModelT:
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise invalid_from(error, prefix) from error
    except RecursionError:  # pragma: no cover - _check_json bounds depth first
        fail(prefix, f"JSON nested at most {MAX_DEPTH} levels deep")


# ------------------------------------------------------------------- field types


def custom_error(kind: str, expected: str) -> PydanticCustomError:
    return PydanticCustomError(kind, expected)


_ISO_DATE_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}")


def _require_iso_text(value: Any) -> Any:
    # pydantic would read 1234567890 (or "1234567890") as a Unix time; Azure never sends one.
    if not isinstance(value, str) or not _ISO_DATE_PREFIX.match(value):
        raise custom_error("datetime_type", "an ISO 8601 date-time string")
    return value


def _assume_utc(value: datetime) -> datetime:
    # Some Azure samples omit the offset (firedDateTime of service-health alerts); the
    # documentation states these times are UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise custom_error("float_type", "a number")
    return value


def matching(pattern: str, expected: str, *, lower: bool = False) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        text = value.lower() if lower else value
        if not compiled.fullmatch(text):
            raise custom_error("pattern", expected)
        return text

    return AfterValidator(check)


def one_of(*types: type, expected: str) -> PlainValidator:
    """A type check for small JSON unions, without pydantic's per-member error paths."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) and bool not in types:
            raise custom_error("type", expected)
        if not isinstance(value, types):
            raise custom_error("type", expected)
        return value

    return PlainValidator(check)


def empty_to_none(value: Any) -> Any:
    return None if value == "" else value


Timestamp = Annotated[datetime, BeforeValidator(_require_iso_text), AfterValidator(_assume_utc)]
Number = Annotated[float, BeforeValidator(_reject_bool), AllowInfNan(False)]
Count = Annotated[int, Strict(), Field(ge=0)]
Text = Annotated[str, Field(min_length=1)]
TextOrCode = Annotated[str | int, one_of(str, int, expected="a string or an integer")]
TextOrObject = Annotated[str | dict[str, Any], one_of(str, dict, expected="a string or an object")]


class Wire(BaseModel):
    """A wire shape: camelCase keys, frozen, unknown fields ignored (Azure adds fields)."""

    model_config = ConfigDict(frozen=True, extra="ignore", alias_generator=to_camel)


class Record(BaseModel):
    """A normalized record built by this module: frozen, and exact."""

    model_config = ConfigDict(frozen=True, extra="forbid")
