"""The purge policy: declarative retention rules, validated when they are loaded.

A policy is YAML with one root key, ``purge``. It is loaded from a file or from
inline YAML in the ``OPS_PURGE_POLICY`` setting, and validated in full before
anything is listed or deleted: an invalid regex, an invalid duration or an unknown
key is a :class:`~ops.errors.ConfigError` whose message names the field path and
the rule, such as ``purge.rules[2].olderThan: "30 dayz" is not a duration like 30d
or 12h``.

Regexes are RE2, matched in linear time (see :mod:`ops.policies`, which also reads
the setting and phrases the problems for every capability's policy). Every regex must
match the whole name (it is anchored at both ends).

The pydantic models below are the schema (``docs/schemas/purge-policy.schema.json``
is generated from :class:`PolicyDocument`); :class:`PurgePolicy` and
:class:`Rule` are the compiled, frozen form the planner uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ops.errors import ConfigError
from ops.policies import (
    DURATION_PATTERN,
    Regex,
    compile_regex,
    describe_validation_errors,
    parse_duration,
    parse_policy_yaml,
    publish_schema,
    read_policy_source,
    validate_with,
)

SETTING = "OPS_PURGE_POLICY"


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


RegexList = Annotated[list[Regex], BeforeValidator(_as_list)]
Duration = Annotated[
    str,
    validate_with(parse_duration),
    Field(json_schema_extra={"pattern": DURATION_PATTERN, "examples": ["30d", "12h"]}),
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

    @model_validator(mode="after")
    def _selects_something(self) -> RuleModel:
        # A rule that neither selects (tags, untagged) nor protects (keepTags) does nothing,
        # and an operator who wrote olderThan: 30d alone expects deletes: refused, so the
        # mistake shows when the policy loads.
        if self.tags is None and not self.untagged and not self.keep_tags:
            raise ValueError(
                "selects nothing: give tags (a regex of the tags it may delete), untagged: true, "
                "or keepTags for a rule that only protects"
            )
        return self


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
    data = parse_policy_yaml(source, origin=origin) if isinstance(source, str) else source
    return _validate_policy(data, origin=origin)


def read_policy_setting(value: str) -> PurgePolicy:
    """The policy named by the ``OPS_PURGE_POLICY`` setting: a file path, or inline YAML
    (:func:`ops.policies.read_policy_source` says which)."""
    data = read_policy_source(SETTING, value)
    if data is None:
        raise ConfigError(f"{SETTING}: no purge policy is configured")
    return _validate_policy(data, origin=SETTING)


def _validate_policy(data: Any, *, origin: str) -> PurgePolicy:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with a 'purge' key, got {type(data).__name__}")
    try:
        document = PolicyDocument.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(describe_validation_errors(exc, data, root="purge", model=PolicyDocument)) from None
    return compile_policy(document)


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
    return publish_schema(PolicyDocument, name="purge-policy")
