"""The purge policy: declarative retention rules, validated when they are loaded.

A policy is YAML with one root key, ``purge``. It is loaded from a file or from
inline YAML in the ``OPS_PURGE_POLICY`` setting, and validated in full before
anything is listed or deleted: an invalid regex, an invalid duration or an unknown
key is a :class:`~ops.errors.ConfigError` whose message names the field path and
the rule, such as ``purge.rules[2].olderThan: "30 dayz" is not a duration like 30d
or 12h``.

Regexes are compiled with RE2 (``google-re2``), which matches in linear time: a
pattern such as ``(a+)+$`` cannot stall a run, and constructs that need
backtracking (lookarounds, backreferences) are refused at load time instead.
Every regex must match the whole name (it is anchored at both ends).

The pydantic models below are the schema (``docs/schemas/purge-policy.schema.json``
is generated from :class:`PolicyDocument`); :class:`PurgePolicy` and
:class:`Rule` are the compiled, frozen form the planner uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import re2
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from ops.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is reported as a ConfigError, not on stderr
_RE2_OPTIONS.max_mem = 8 << 20  # bounds the compiled program; huge repetitions are refused


class _PolicyValueError(ValueError):
    """A value error whose message is already phrased for the operator."""


def parse_duration(value: Any) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s`` or ``2w`` → timedelta; anything else is refused."""
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise _PolicyValueError(f"{json.dumps(value, default=str)} is not a duration like 30d or 12h")
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
        raise _PolicyValueError(f"{json.dumps(pattern, default=str)} is not a regular expression (a string)")
    try:
        # Unanchored here: callers use fullmatch, so a top-level "a|b" stays one alternative.
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise _PolicyValueError(
            f'"{pattern}" is not a valid regular expression ({detail}); patterns use RE2 syntax, '
            "which has no lookarounds or backreferences"
        ) from None


def _check_regex(value: Any) -> Any:
    compile_regex(value)
    return value


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _check_duration(value: Any) -> Any:
    parse_duration(value)
    return value


Regex = Annotated[str, BeforeValidator(_check_regex)]
RegexList = Annotated[list[Regex], BeforeValidator(_as_list)]
Duration = Annotated[
    str,
    BeforeValidator(_check_duration),
    Field(json_schema_extra={"pattern": r"^\s*\d+\s*[smhdw]\s*$", "examples": ["30d", "12h"]}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, strict=False)


class RuleModel(_Strict):
    """One retention rule. Every regex matches the whole name."""

    name: str | None = Field(None, description="A label for plans and errors; defaults to rules[i].")
    registry: Regex = Field(".*", description="Registry names this rule covers (regex).")
    repository: Regex = Field(".*", description="Repository names this rule covers (regex).")
    tags: Regex | None = Field(
        None,
        description="Tags this rule may delete (regex). Without it the rule deletes no tagged manifest.",
    )
    older_than: Duration | None = Field(
        None,
        alias="olderThan",
        description="Only what was last updated longer ago than this (30d, 12h, ...).",
    )
    untagged: bool = Field(
        False, description="Also delete untagged manifests (never index children or referrers)."
    )
    keep: int = Field(
        0,
        ge=0,
        description="Keep this many of each repository's most recently updated manifests the rule covers.",
    )
    keep_tags: RegexList = Field(
        default_factory=list,
        alias="keepTags",
        description="Tag patterns that are never deleted (a manifest carrying one is kept).",
    )
    unlock: bool = Field(
        False, description="Unlock locked manifests and tags this rule selects, then delete them."
    )
    allow_suspicious: bool = Field(
        False,
        alias="allowSuspicious",
        description="Allow deleting more than suspiciousRatio of a repository's manifests.",
    )


class InUseModel(_Strict):
    """How the in-use protection treats clusters."""

    allow_unreadable: RegexList = Field(
        default_factory=list,
        alias="allowUnreadable",
        description=(
            "Clusters (name regexes) whose API may be unreadable without stopping deletions. "
            "By default any unreadable cluster in scope stops deletions."
        ),
    )


class PurgeModel(_Strict):
    """The ``purge`` section: global floors and caps, and the rules."""

    min_age: Duration = Field(
        "1d", alias="minAge", description="Nothing last updated more recently than this is ever deleted."
    )
    max_deletes_per_run: int | None = Field(
        None,
        alias="maxDeletesPerRun",
        ge=1,
        description="Manifest deletes per run; the rest wait (default: OPS_MAX_ACTIONS_PER_RUN).",
    )
    suspicious_ratio: float = Field(
        0.9,
        alias="suspiciousRatio",
        gt=0,
        le=1,
        description="A repository losing more than this fraction of its manifests is skipped as suspicious.",
    )
    in_use: InUseModel = Field(default_factory=InUseModel, alias="inUse")
    rules: list[RuleModel] = Field(..., min_length=1)


class PolicyDocument(_Strict):
    """A purge policy file."""

    purge: PurgeModel


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule: the planner's view of :class:`RuleModel`."""

    index: int
    name: str
    registry: Any
    repository: Any
    tags: Any | None
    older_than: timedelta
    untagged: bool
    keep: int
    keep_tags: tuple[Any, ...]
    unlock: bool
    allow_suspicious: bool

    def covers(self, registry: str, repository: str) -> bool:
        return bool(self.registry.fullmatch(registry)) and bool(self.repository.fullmatch(repository))

    def selects_tag(self, tag: str) -> bool:
        return self.tags is not None and bool(self.tags.fullmatch(tag))

    def keeps_tag(self, tag: str) -> Any | None:
        """The keep-list pattern that protects ``tag``, if any."""
        return next((p for p in self.keep_tags if p.fullmatch(tag)), None)


@dataclass(frozen=True, slots=True)
class PurgePolicy:
    """A validated, compiled policy. ``document`` is its canonical JSON form."""

    rules: tuple[Rule, ...]
    min_age: timedelta
    max_deletes_per_run: int | None
    suspicious_ratio: float
    allow_unreadable: tuple[Any, ...]
    document: Mapping[str, Any]

    def rules_for(self, registry: str, repository: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.covers(registry, repository))

    def covers_registry(self, registry: str) -> bool:
        return any(r.registry.fullmatch(registry) for r in self.rules)

    def unreadable_allowed(self, cluster: str) -> bool:
        return any(p.fullmatch(cluster) for p in self.allow_unreadable)


def load_policy(source: str | Mapping[str, Any], *, origin: str = "policy") -> PurgePolicy:
    """Parse and validate a policy from YAML text or an already-parsed mapping.

    Raises ConfigError listing every problem, each with its field path.
    """
    if isinstance(source, str):
        try:
            data = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise ConfigError(f"{origin}: not valid YAML ({_yaml_problem(exc)})") from None
    else:
        data = source
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with a 'purge' key, got {type(data).__name__}")
    try:
        document = PolicyDocument.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, data)) from None
    return compile_policy(document)


def read_policy_setting(value: str) -> PurgePolicy:
    """The policy named by the ``OPS_PURGE_POLICY`` setting: a file path, or inline YAML.

    The value is inline YAML when it spans lines or starts like a YAML mapping
    (``purge:`` or ``{``); otherwise it is a path.
    """
    text = value.strip()
    if not text:
        raise ConfigError("OPS_PURGE_POLICY: no purge policy is configured")
    if "\n" in text or text.startswith(("purge:", "{")):
        return load_policy(text, origin="OPS_PURGE_POLICY")
    path = Path(text).expanduser()
    if not path.is_file():
        raise ConfigError(f"OPS_PURGE_POLICY: {text} is not a file (give a path or inline YAML)")
    return load_policy(path.read_text(), origin=str(path))


def compile_policy(document: PolicyDocument) -> PurgePolicy:
    section = document.purge
    rules = tuple(
        Rule(
            index=index,
            name=model.name or f"rules[{index}]",
            registry=compile_regex(model.registry),
            repository=compile_regex(model.repository),
            tags=compile_regex(model.tags) if model.tags is not None else None,
            older_than=parse_duration(model.older_than) if model.older_than else timedelta(0),
            untagged=model.untagged,
            keep=model.keep,
            keep_tags=tuple(compile_regex(p) for p in model.keep_tags),
            unlock=model.unlock,
            allow_suspicious=model.allow_suspicious,
        )
        for index, model in enumerate(section.rules)
    )
    return PurgePolicy(
        rules=rules,
        min_age=parse_duration(section.min_age),
        max_deletes_per_run=section.max_deletes_per_run,
        suspicious_ratio=section.suspicious_ratio,
        allow_unreadable=tuple(compile_regex(p) for p in section.in_use.allow_unreadable),
        document=document.model_dump(mode="json", by_alias=True, exclude_none=True),
    )


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from the models (docs/schemas)."""
    schema = PolicyDocument.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "acr-aks-ops purge policy"
    return schema


def describe_errors(exc: ValidationError, data: Any) -> list[str]:
    """Operator-facing messages: ``purge.rules[2].olderThan: ... (rule "name")``."""
    problems = []
    for error in exc.errors():
        loc = list(error["loc"])
        if error["type"] == "extra_forbidden":
            parent = loc[:-1]
            message = f"unknown key (expected one of {', '.join(_known_keys(parent))})"
        elif error["type"] == "missing":
            message = "is required"
        else:
            message = _message(error)
        path = _format_loc(loc)
        rule = _rule_label(loc, data)
        problems.append(f"{path}: {message}{rule}")
    return problems


def _message(error: Mapping[str, Any]) -> str:
    context = error.get("ctx") or {}
    cause = context.get("error")
    if isinstance(cause, _PolicyValueError):
        return str(cause)
    text = str(error["msg"]).removeprefix("Value error, ")
    shown = error.get("input")
    if shown is not None and not isinstance(shown, dict | list):
        text = f"{text} (got {json.dumps(shown, default=str)})"
    return text


def _format_loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<policy>"


def _rule_label(loc: Sequence[Any], data: Any) -> str:
    """`` (rule "name")`` when the problem is inside a named rule."""
    if len(loc) >= 3 and loc[0] == "purge" and loc[1] == "rules" and isinstance(loc[2], int):
        try:
            name = data["purge"]["rules"][loc[2]].get("name")
        except (KeyError, IndexError, TypeError, AttributeError):
            return ""
        if isinstance(name, str) and name:
            return f' (rule "{name}")'
    return ""


def _known_keys(parent: Sequence[Any]) -> list[str]:
    model: type[BaseModel] = PolicyDocument
    for part in parent:
        if isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            break
        inner = _model_of(field.annotation)
        if inner is None:
            break
        model = inner
    return sorted(f.alias or n for n, f in model.model_fields.items())


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if mark is not None:
        return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
    return str(problem)
