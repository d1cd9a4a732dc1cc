"""What every capability's policy has in common: where it is read from, how its problems
are told, and the duration and regex values it is written with.

The purge, gate and schedule policies are each named by one setting
(``OPS_PURGE_POLICY``, ``OPS_GATE_POLICY``, ``OPS_SCHEDULE_POLICY``) and validated in full
with pydantic when they are loaded. Keeping those steps here means an operator meets the
same rules in all three: the setting is read the same way, and a problem is told the same
way, as a field path in the policy's own spelling
(``purge.rules[2].olderThan: "30 dayz" is not a duration like 30d or 12h (rule "nightly")``).

A setting is inline YAML when its value spans lines or starts like a YAML mapping
(``{``, or a plain key, ``:`` and a space, as in ``purge: {rules: [...]}``); any other
value is a path to a policy file. This is the strictest of the rules the capabilities
had, short of refusing ``defaults: []`` (the schedule policy may leave out its root key,
so the key cannot be the capability's name): the decision is made from the text alone,
never from whether some file exists, and a one-line value with a colon elsewhere
(``/etc/ops:x``) is a path. A path that is not a file, or a document that is empty, is a
ConfigError: a policy that is named but cannot be found or says nothing is a mistake to
report, never a reason to run with no policy or with defaults.

Regexes are compiled with RE2 (``google-re2``), which matches in linear time: a pattern
such as ``(a+)+$`` cannot stall a run, and constructs that need backtracking
(lookarounds, backreferences) are refused when the policy is loaded.

Everything here is pure (no adapters, executor or state): the policy modules and planners
of every capability import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import re2
import yaml
from pydantic import BaseModel, BeforeValidator, ValidationError

from ops.errors import ConfigError

#: The JSON Schema ``pattern`` of a duration, as the published policy schemas give it.
DURATION_PATTERN = r"^\s*\d+\s*[smhdw]\s*$"

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# "{", or a plain key, a colon and a space: a YAML mapping ("key:value" is one string in YAML).
_INLINE_YAML = re.compile(r"^(\{|[A-Za-z_][\w-]*:(\s|$))")
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported as a ConfigError, not on stderr
_RE2_OPTIONS.max_mem = 8 << 20  # bounds the compiled program; huge repetitions are refused
# Errors that only say the input had another shape than one member of a union expected.
_SHAPE_ERRORS = frozenset({"list_type", "dict_type", "model_type", "model_attributes_type"})


# -- reading a policy ----------------------------------------------------------------


def read_policy_source(setting_name: str, value: str | None) -> Any | None:
    """The parsed policy a setting names: the YAML in a file, or inline YAML (see above).

    None when the setting is empty; a missing file, unreadable YAML or an empty document
    is a ConfigError naming the setting (and, for YAML, the line and column).
    """
    text = (value or "").strip()
    if not text:
        return None
    if "\n" in text or _INLINE_YAML.match(text):
        origin, text = setting_name, value or ""  # as written, so YAML's line numbers are the user's
    else:
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"{setting_name}: {text} is not a file; the value is neither a file nor inline YAML "
                "(which spans lines, or starts with '{' or with 'key: ')"
            )
        origin = f"{setting_name} ({path})"
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{origin}: cannot read the policy file ({exc.strerror})") from None
    data = parse_policy_yaml(text, origin=origin)
    if data is None:
        raise ConfigError(f"{origin}: the policy is empty")
    return data


def parse_policy_yaml(text: str, *, origin: str) -> Any:
    """YAML text → data; a syntax error is a ConfigError with ``origin`` and the line and column."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML ({_yaml_problem(exc)})") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)


# -- telling its problems ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem in a policy: where (``loc``, the document's own keys and indices), the
    same as a field path (``path``), and what is wrong (``message``)."""

    loc: tuple[Any, ...]
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def validation_problems(
    exc: ValidationError, data: Any, *, root: str, model: type[BaseModel] | None = None
) -> list[Problem]:
    """One operator-facing problem per error, located in the document as the operator wrote it.

    ``data`` is the document that was validated (``model``, whose one key is ``root``).
    Paths use the keys as the document spells them, with list indices as ``[n]``; a problem
    inside ``<root>.rules[n]`` names that rule when it has a name. A ValueError raised by a
    validator is taken as already phrased for the operator (it names the value); other
    problems show the offending value when it is a scalar. With ``model``, an unknown key
    lists the keys expected where it stands.
    """
    errors = [(error, _user_loc(error, data)) for error in exc.errors()]
    # A union reports a "wrong shape" error for each member the input was not meant for;
    # keep those only where nothing better was said about the same field.
    said = {loc for error, loc in errors if error["type"] not in _SHAPE_ERRORS}
    problems: dict[str, Problem] = {}  # ordered, without the repeats union members make
    for error, loc in errors:
        in_union = len(loc) < len(error["loc"])
        if in_union and error["type"] in _SHAPE_ERRORS and any(s[: len(loc)] == loc for s in said):
            continue
        problem = Problem(
            loc, _format_loc(loc), f"{_message(error, loc, model)}{_rule_label(loc, data, root)}"
        )
        problems.setdefault(str(problem), problem)
    return list(problems.values())


def describe_validation_errors(
    exc: ValidationError, data: Any, *, root: str, model: type[BaseModel] | None = None
) -> list[str]:
    """:func:`validation_problems` as ``<field path>: <what is wrong>`` lines."""
    return [str(p) for p in validation_problems(exc, data, root=root, model=model)]


def publish_schema(model: type[BaseModel], *, name: str) -> dict[str, Any]:
    """The JSON Schema of a policy or file format, as docs/schemas publishes it.

    ``$id`` names it (``urn:acr-aks-ops:schema:<name>``) so editors and validators can tell
    the documents apart; titles are the models' names without the ``Model`` suffix, and
    fields keep only the descriptions their models give (pydantic's generated field titles,
    such as "Olderthan", say nothing an editor does not already show).
    """
    schema = model.model_json_schema(by_alias=True)
    _tidy_titles(schema)
    for name_, definition in schema.get("$defs", {}).items():
        definition["title"] = _model_title(name_)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:acr-aks-ops:schema:{name}"
    schema["title"] = f"acr-aks-ops {name.replace('-', ' ')}"
    return schema


def _model_title(name: str) -> str:
    base = name.removesuffix("Model") or name
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base)


def _tidy_titles(node: Any) -> None:
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for field in properties.values():
                if isinstance(field, dict):
                    field.pop("title", None)
        for value in node.values():
            _tidy_titles(value)
    elif isinstance(node, list):
        for value in node:
            _tidy_titles(value)


_LOST = object()  # where the walk through the document lost it (a validator reshaped the input)


def _user_loc(error: Mapping[str, Any], data: Any) -> tuple[Any, ...]:
    """The error's location without the names pydantic gives union members and validators.

    Walking the document tells them apart: a user's key is in the mapping at that point
    (or is a required key that is missing there); a member's name is not.
    """
    loc = tuple(error["loc"])
    kept: list[Any] = []
    node: Any = data
    for position, part in enumerate(loc):
        missing = error["type"] == "missing" and position == len(loc) - 1
        if isinstance(part, int):
            kept.append(part)
            node = node[part] if isinstance(node, list) and -len(node) <= part < len(node) else _LOST
        elif isinstance(node, Mapping) and part in node:
            kept.append(part)
            node = node[part]
        elif missing or (node is _LOST and not _looks_like_member(part)):
            kept.append(part)
    return tuple(kept)


def _looks_like_member(part: str) -> bool:
    # How pydantic names union members and function validators: list[...], function-after[...].
    return "[" in part or part.startswith("function-")


def _message(error: Mapping[str, Any], loc: Sequence[Any], model: type[BaseModel] | None) -> str:
    if error["type"] == "extra_forbidden":
        keys = _known_keys(model, loc[:-1]) if model is not None else None
        return f"unknown key (expected one of {', '.join(keys)})" if keys else "unknown key"
    if error["type"] == "missing":
        return "is required"
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    text = str(error["msg"])
    shown = error.get("input")
    if shown is not None and not isinstance(shown, dict | list):
        text += f" (got {json.dumps(shown, default=str)})"
    return text


def _format_loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<policy>"


def _rule_label(loc: Sequence[Any], data: Any, root: str) -> str:
    """`` (rule "name")`` when the problem is inside a named rule."""
    if len(loc) >= 3 and loc[0] == root and loc[1] == "rules" and isinstance(loc[2], int):
        try:
            name = data[root]["rules"][loc[2]].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            return ""
        if isinstance(name, str) and name:
            return f' (rule "{name}")'
    return ""


def _known_keys(model: type[BaseModel], parent: Sequence[Any]) -> list[str] | None:
    """The keys (by alias) of the model at ``parent``; None where no model stands there."""
    current: type[BaseModel] | None = model
    for part in parent:
        if isinstance(part, int) or current is None:
            continue
        field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
        current = _model_of(field.annotation) if field is not None else None
    if current is None:
        return None
    return sorted(f.alias or n for n, f in current.model_fields.items())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


# -- values policies are written with ------------------------------------------------


def parse_duration(value: Any) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` → timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{json.dumps(value, default=str)} is not a duration like 30d or 12h")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})


def format_duration(value: timedelta) -> str:
    """The shortest policy spelling of ``value`` (``30d``, ``12h``), for plans and records."""
    seconds = int(value.total_seconds())
    for suffix, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{suffix}"
    return f"{seconds}s"


def compile_regex(pattern: Any) -> Any:
    """A compiled RE2 pattern (callers fullmatch it); refuses what RE2 cannot match in linear time."""
    if not isinstance(pattern, str):
        raise ValueError(f"{json.dumps(pattern, default=str)} is not a regular expression (a string)")
    try:
        # Unanchored here: callers use fullmatch, so a top-level "a|b" stays one alternative.
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(
            f'"{pattern}" is not a valid regular expression ({detail}); patterns use RE2 syntax, '
            "which has no lookarounds or backreferences"
        ) from None


def validate_with(parse: Callable[[Any], object]) -> BeforeValidator:
    """A field validator that refuses what ``parse`` refuses and keeps the value as written.

    The validated document keeps the operator's spelling (``30d``, not a timedelta), so it
    can be recorded and shown as written; the compiled form is built from it afterwards.
    """

    def validate(value: Any) -> Any:
        parse(value)
        return value

    return BeforeValidator(validate)


#: A regex field: validated with RE2 when the policy is loaded, kept as the pattern text.
Regex = Annotated[str, validate_with(compile_regex)]
