"""What a runbook call carries: the route's name, the JSON body of a POST, the query of a GET.

A POST body is ``{"params": {...}, "planDigest": "<sha256>", "reason": "..."}``:
``params`` are the runbook's parameters (checked twice: here for shape and size, then
against the runbook's own model, so that every error names its field path, such as
``params.registry``); ``planDigest`` is the digest of the plan the caller reviewed
(optional: without it, whatever the plan is now is applied); ``reason`` goes into the
audit record. Who is calling comes from the token, never from the body. Unknown
fields are refused, so that a typo fails loudly instead of being ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from ops.errors import InvalidInput
from ops.payloads import Loc, fail, format_path, load_json

MAX_RUNBOOK_BODY_BYTES: Final = 64 * 1024
MAX_RUNBOOK_PARAMS: Final = 64
MAX_PARAM_TEXT: Final = 4096
MAX_PARAM_ITEMS: Final = 256
NAME_PATTERN: Final = r"^[a-z][a-z0-9-]{1,62}$"
DIGEST_PATTERN: Final = r"^[0-9a-f]{64}$"
_PARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")

Scalar = str | int | float | bool
ParamValue = Scalar | list[Scalar]
_PARAM_EXPECTED = (
    f"a string (at most {MAX_PARAM_TEXT} characters), number, boolean, "
    f"or a list of at most {MAX_PARAM_ITEMS} of those"
)

ModelT = TypeVar("ModelT", bound=BaseModel)


def _is_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= MAX_PARAM_TEXT
    return isinstance(value, bool | int | float)


def _check_param(value: Any) -> ParamValue:
    if _is_scalar(value):
        return value
    if isinstance(value, list) and len(value) <= MAX_PARAM_ITEMS and all(map(_is_scalar, value)):
        return list(value)
    raise PydanticCustomError("param", _PARAM_EXPECTED)


def _check_params(value: dict[str, ParamValue]) -> dict[str, ParamValue]:
    if len(value) > MAX_RUNBOOK_PARAMS:
        raise PydanticCustomError("params", f"at most {MAX_RUNBOOK_PARAMS} parameters")
    for key in value:
        if not _PARAM_KEY.fullmatch(key):
            expected = f"parameter names like [A-Za-z_][A-Za-z0-9_.-]*, not {key!r}"
            raise PydanticCustomError("param_name", expected)
    return value


Param = Annotated[ParamValue, PlainValidator(_check_param)]
Params = Annotated[dict[str, Param], AfterValidator(_check_params)]


class RunbookRequest(BaseModel):
    """A POST to ``runbooks/{name}``: apply the runbook with these parameters."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    params: Params = Field(default_factory=dict, description="The runbook's parameters.")
    plan_digest: Annotated[str, Field(pattern=DIGEST_PATTERN)] | None = Field(
        None,
        alias="planDigest",
        description="planDigest of the plan the caller reviewed (GET); another plan now is refused: 409.",
    )
    reason: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(
        None, description="Why: kept in the audit record."
    )


def parse_runbook_request(name: str, body: bytes | str | Mapping[str, Any] | None) -> RunbookRequest:
    """The request for runbook ``name`` from the HTTP body (empty: no parameters)."""
    if body is None or (isinstance(body, bytes | bytearray | str) and not body.strip()):
        value: Any = {}
    else:
        value = load_json(body, limit=MAX_RUNBOOK_BODY_BYTES)
    if not isinstance(value, dict):
        fail((), "a JSON object", value)
    if "name" in value and value["name"] != name:
        fail(("name",), f"the route's runbook name {name!r}, or no name in the body", value["name"])
    return validate_model(RunbookRequest, {**value, "name": name})


def validate_model(model: type[ModelT], value: Any, prefix: Loc = ()) -> ModelT:
    """``model`` from ``value``; InvalidInput naming the first problem's field path."""
    try:
        return model.model_validate(value)
    except ValidationError as error:
        raise invalid_from(error, prefix) from None


def invalid_from(error: ValidationError, prefix: Loc = ()) -> InvalidInput:
    """The first of pydantic's errors as InvalidInput (``params.until: expected …``)."""
    errors = error.errors(include_url=False)
    first = errors[0]
    kind = first["type"]
    if kind == "missing":
        expected = "a value (required field is missing)"
    elif kind == "extra_forbidden":
        expected = "no such field (unknown fields are rejected)"
    elif kind == "string_pattern_mismatch":
        expected = f"a string matching {first.get('ctx', {}).get('pattern')}"
    else:
        expected = str(first["msg"]).removeprefix("Value error, ").removeprefix("Input should be ")
    if len(errors) > 1:
        expected += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    got = None if kind == "missing" else first.get("input")
    return InvalidInput(format_path((*prefix, *first["loc"])), expected, got)
