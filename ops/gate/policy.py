"""The gate policy: which pushed images are gated, how they are blocked, and what makes them pass.

A policy is YAML with one root key, ``gate``, holding a list of ``rules``. Each rule is
scoped by a registry and a repository regex (RE2, matching the whole name; registry
names are matched in lower case), and the first rule that covers a pushed image governs
it; an image no rule covers is not gated. The policy is loaded from a file or from inline
YAML in ``OPS_GATE_POLICY`` and validated in full when it is loaded: a problem is a
:class:`~ops.errors.ConfigError` naming the field path and the rule, such as
``gate.rules[0].maxSize: "2 gigs" is not a size like 500MiB or 2GB (rule "payments")``.

Some combinations are refused because they could never pass: ``mode: quarantine`` with
``requireScan: true`` (Defender does not scan quarantined images, Azure/acr#499), and a
CVE that is both on the deny list and excepted. ``docs/gate.md`` is the reference and
``docs/schemas/gate-policy.schema.json`` is generated from :class:`PolicyDocument`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ops.errors import ConfigError
from ops.policies import (
    DURATION_PATTERN,
    Regex,
    compile_regex,
    describe_validation_errors,
    format_duration,
    parse_duration,
    parse_policy_yaml,
    publish_schema,
    read_policy_source,
    validate_with,
)

SETTING = "OPS_GATE_POLICY"

#: Severities in increasing order, as Defender spells them.
SEVERITIES = ("Low", "Medium", "High", "Critical")

#: Short names for the artifact types of signatures and SBOMs (OCI 1.1 ``artifactType``).
ARTIFACT_ALIASES: Mapping[str, str] = {
    "notation": "application/vnd.cncf.notary.signature",
    "cosign": "application/vnd.dev.cosign.artifact.sig.v1+json",
    "spdx": "application/spdx+json",
    "cyclonedx": "application/vnd.cyclonedx+json",
}

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {
    "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip
_CVE = re.compile(r"^[A-Za-z][\w.-]*-\d{4}-\d+$")


class Mode(StrEnum):
    """How a gated image is kept from being pulled until it passes."""

    LOCK_TAGS = "lock-tags"  # readEnabled=false on the image's tags; the digest stays readable
    LOCK = "lock"  # readEnabled=false on the manifest: no pull at all, by tag or by digest
    QUARANTINE = "quarantine"  # ACR quarantineState, where the registry's quarantine policy is on
    AUDIT = "audit"  # nothing is blocked: verdicts are only recorded and published


def parse_size(value: Any) -> int:
    """``500MiB``, ``2GB``, ``1.5GiB`` or a number of bytes → bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{json.dumps(value, default=str)} is not a size like 500MiB or 2GB")
    amount, unit = match.groups()
    return int(float(amount) * _SIZE_UNITS[(unit or "B").lower()])


def parse_severity(value: Any) -> str:
    """``high`` → ``High``; ``none`` (no finding allowed at all) → ``None``."""
    text = str(value).strip().capitalize() if isinstance(value, str) else None
    if text == "None" or text in SEVERITIES:
        return text
    raise ValueError(f"{json.dumps(value, default=str)} is not a severity: none, {', '.join(SEVERITIES)}")


def artifact_type(value: Any) -> str:
    """An alias (``notation``, ``cosign``, ``spdx``, ``cyclonedx``) or a media type, as a media type."""
    if isinstance(value, str) and value.strip().lower() in ARTIFACT_ALIASES:
        return ARTIFACT_ALIASES[value.strip().lower()]
    if isinstance(value, str) and _MEDIA_TYPE.match(value.strip()):
        return value.strip()
    raise ValueError(
        f"{json.dumps(value, default=str)} is not an artifact type: give a media type such as "
        f"application/vnd.cncf.notary.signature, or one of {', '.join(ARTIFACT_ALIASES)}"
    )


def _check_cve(value: Any) -> Any:
    if not isinstance(value, str) or not _CVE.match(value.strip()):
        raise ValueError(f"{json.dumps(value, default=str)} is not a vulnerability id like CVE-2024-3094")
    return value.strip().upper()


Duration = Annotated[
    str,
    validate_with(parse_duration),
    Field(json_schema_extra={"pattern": DURATION_PATTERN, "examples": ["30m", "2h"]}),
]
Size = Annotated[
    int | str,
    validate_with(parse_size),
    Field(json_schema_extra={"examples": ["500MiB", "2GB", 1073741824]}),
]
Severity = Annotated[
    str,
    validate_with(parse_severity),
    Field(json_schema_extra={"enum": ["none", "low", "medium", "high", "critical"]}),
]
Cve = Annotated[str, BeforeValidator(_check_cve), Field(json_schema_extra={"examples": ["CVE-2024-3094"]})]
ArtifactType = Annotated[
    str,
    validate_with(artifact_type),
    Field(json_schema_extra={"examples": [*ARTIFACT_ALIASES, "application/vnd.cncf.notary.signature"]}),
]
#: Required annotations or labels: a list of keys (any value), or key → value regex.
RequirementMap = list[str] | dict[str, Regex]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ReferrerRequirement(_Strict):
    """Referrers (signatures or SBOMs) the image must have, by artifact type."""

    any_of: list[ArtifactType] | None = Field(
        None, alias="anyOf", min_length=1, description="At least one referrer of one of these types."
    )
    all_of: list[ArtifactType] | None = Field(
        None, alias="allOf", min_length=1, description="A referrer of each of these types."
    )

    @model_validator(mode="after")
    def _one_form(self) -> ReferrerRequirement:
        if (self.any_of is None) == (self.all_of is None):
            raise ValueError("give either anyOf or allOf (a plain list means anyOf)")
        return self


class CveException(_Strict):
    """A finding that is allowed until a date, for a stated reason."""

    cve: Cve
    expires: date | datetime = Field(
        description="Last day (UTC) the exception applies, or an exact time with an offset."
    )
    reason: str = Field(min_length=3, description="Why the finding is accepted; shown in every verdict.")


#: Required referrers: a list of artifact types (any one of them), or {anyOf|allOf: [...]}.
ReferrerSpec = list[ArtifactType] | ReferrerRequirement


class RuleModel(_Strict):
    """One gate rule. The first rule covering an image governs it."""

    name: str | None = Field(None, description="A label for verdicts and errors; defaults to rules[i].")
    registry: Regex = Field(".*", description="Registry names (lower case) this rule covers (regex).")
    repository: Regex = Field(".*", description="Repository names this rule covers (regex).")
    mode: Mode = Field(
        Mode.LOCK_TAGS,
        description="lock-tags (lock the image's tags; signers and Defender read the digest), lock (the "
        "manifest), quarantine or audit.",
    )
    require_scan: bool = Field(
        True, alias="requireScan", description="Wait for Defender's vulnerability scan before passing."
    )
    max_severity: Severity = Field(
        "medium",
        alias="maxSeverity",
        description="Highest finding severity allowed (none: no finding at all).",
    )
    deny_cves: list[Cve] = Field(
        default_factory=list, alias="denyCves", description="Findings that deny whatever their severity."
    )
    cve_exceptions: list[CveException] = Field(
        default_factory=list, alias="cveExceptions", description="Findings allowed until their expiry."
    )
    ignore_unfixed: bool = Field(
        False,
        alias="ignoreUnfixed",
        description="Ignore findings without a fix (NoFixAvailable, WontFix, Scheduled).",
    )
    signatures: ReferrerSpec | None = Field(
        None, description="Required signatures: a list (any of) or {anyOf|allOf: [...]}."
    )
    sbom: ReferrerSpec | None = Field(None, description="Required SBOMs: a list (any of) or {anyOf|allOf}.")
    annotations: RequirementMap = Field(
        default_factory=dict,
        description="Required manifest annotations: a list of keys, or key → value regex.",
    )
    labels: RequirementMap = Field(
        default_factory=dict,
        description="Required image config labels: a list of keys, or key → value regex.",
    )
    max_size: Size | None = Field(
        None, alias="maxSize", description="Largest image (config and layers) allowed, e.g. 2GiB."
    )
    immutable_tags: list[Regex] = Field(
        default_factory=list,
        alias="immutableTags",
        description="Tags (regexes) that may never move to another digest once pushed.",
    )
    settle_timeout: Duration = Field(
        "30m", alias="settleTimeout", description="How long after the push evidence may still arrive."
    )
    on_timeout: Literal["deny", "pass"] = Field(
        "deny", alias="onTimeout", description="The verdict when evidence is still missing at the timeout."
    )
    untag_on_deny: bool = Field(
        False, alias="untagOnDeny", description="Remove the tags of a denied image (the digest stays)."
    )

    @field_validator("signatures", "sbom")
    @classmethod
    def _referrer_form(cls, value: ReferrerSpec | None) -> ReferrerSpec | None:
        if isinstance(value, list):
            if not value:
                raise ValueError("list at least one artifact type")
            return ReferrerRequirement.model_validate({"anyOf": value})
        return value

    @field_validator("annotations", "labels")
    @classmethod
    def _map_form(cls, value: RequirementMap) -> RequirementMap:
        return {key: ".*" for key in value} if isinstance(value, list) else value

    @model_validator(mode="after")
    def _consistent(self) -> RuleModel:
        if self.mode is Mode.QUARANTINE and self.require_scan:
            raise ValueError(
                "mode quarantine with requireScan: true can never pass: Defender does not scan "
                "quarantined images (Azure/acr#499). Use mode lock, or requireScan: false when the "
                "quarantine is released on other evidence"
            )
        both = sorted(set(self.deny_cves) & {e.cve for e in self.cve_exceptions})
        if both:
            raise ValueError(f"{', '.join(both)} is both in denyCves and in cveExceptions")
        return self


class GateModel(_Strict):
    """The ``gate`` section."""

    rules: list[RuleModel] = Field(..., min_length=1)


class PolicyDocument(_Strict):
    """A gate policy file."""

    gate: GateModel


@dataclass(frozen=True, slots=True)
class Requirement:
    """Referrer artifact types, and whether all of them or any one is needed."""

    types: tuple[str, ...]
    require_all: bool

    def describe(self) -> str:
        return f"{'all of' if self.require_all else 'one of'} {', '.join(self.types)}"


@dataclass(frozen=True, slots=True)
class Waiver:
    """A compiled ``cveExceptions`` entry: the finding is allowed while ``now < until``."""

    cve: str
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class GateRule:
    """A compiled rule: what the planner reads."""

    index: int
    name: str
    registry: Any
    repository: Any
    mode: Mode
    require_scan: bool
    max_severity: str  # "None" or one of SEVERITIES
    deny_cves: frozenset[str]
    exceptions: tuple[Waiver, ...]
    ignore_unfixed: bool
    signatures: Requirement | None
    sbom: Requirement | None
    annotations: tuple[tuple[str, Any], ...]
    labels: tuple[tuple[str, Any], ...]
    max_size: int | None
    immutable_tags: tuple[Any, ...]
    settle_timeout: timedelta
    on_timeout: str
    untag_on_deny: bool

    def covers(self, registry: str, repository: str) -> bool:
        return bool(self.registry.fullmatch(registry.lower())) and bool(self.repository.fullmatch(repository))

    def immutable(self, tag: str) -> Any | None:
        """The immutable-tag pattern ``tag`` matches, if any."""
        return next((p for p in self.immutable_tags if p.fullmatch(tag)), None)

    @property
    def needs_referrers(self) -> bool:
        return self.signatures is not None or self.sbom is not None

    def summary(self) -> dict[str, Any]:
        """What the rule requires, for verdicts and ``ops gate check``."""
        return {
            "name": self.name,
            "mode": str(self.mode),
            "requireScan": self.require_scan,
            "maxSeverity": self.max_severity.lower(),
            "settleTimeout": format_duration(self.settle_timeout),
            "onTimeout": self.on_timeout,
        }


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """A validated, compiled policy; ``document`` is its canonical JSON form."""

    rules: tuple[GateRule, ...]
    document: Mapping[str, Any]

    def rule_for(self, registry: str, repository: str) -> GateRule | None:
        return next((r for r in self.rules if r.covers(registry, repository)), None)

    def rule_named(self, name: str) -> GateRule | None:
        return next((r for r in self.rules if r.name == name), None)


def load_policy(source: str | Mapping[str, Any], *, origin: str = "policy") -> GatePolicy:
    """Parse and validate a policy from YAML text or a mapping; ConfigError lists every problem."""
    data = parse_policy_yaml(source, origin=origin) if isinstance(source, str) else source
    return _validate_policy(data, origin=origin)


def read_policy_setting(value: str | None) -> GatePolicy | None:
    """The policy ``OPS_GATE_POLICY`` names (a file path or inline YAML, as
    :func:`ops.policies.read_policy_source` reads it); None when it is empty."""
    data = read_policy_source(SETTING, value)
    return None if data is None else _validate_policy(data, origin=SETTING)


def _validate_policy(data: Any, *, origin: str) -> GatePolicy:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{origin}: expected a mapping with a 'gate' key, got {type(data).__name__}")
    try:
        document = PolicyDocument.model_validate(dict(data))
    except ValidationError as exc:
        problems = describe_validation_errors(exc, data, root="gate", model=PolicyDocument)
        raise ConfigError([f"{origin}: {p}" for p in problems]) from None
    return compile_policy(document)


def compile_policy(document: PolicyDocument) -> GatePolicy:
    rules = tuple(_compile_rule(index, model) for index, model in enumerate(document.gate.rules))
    return GatePolicy(
        rules=rules, document=document.model_dump(mode="json", by_alias=True, exclude_none=True)
    )


def _compile_rule(index: int, model: RuleModel) -> GateRule:
    return GateRule(
        index=index,
        name=model.name or f"rules[{index}]",
        registry=compile_regex(model.registry),
        repository=compile_regex(model.repository),
        mode=model.mode,
        require_scan=model.require_scan,
        max_severity=parse_severity(model.max_severity),
        deny_cves=frozenset(model.deny_cves),
        exceptions=tuple(
            Waiver(cve=e.cve, until=_exception_end(e.expires), reason=e.reason) for e in model.cve_exceptions
        ),
        ignore_unfixed=model.ignore_unfixed,
        signatures=_requirement(model.signatures),
        sbom=_requirement(model.sbom),
        annotations=_pairs(model.annotations),
        labels=_pairs(model.labels),
        max_size=parse_size(model.max_size) if model.max_size is not None else None,
        immutable_tags=tuple(compile_regex(p) for p in model.immutable_tags),
        settle_timeout=parse_duration(model.settle_timeout),
        on_timeout=model.on_timeout,
        untag_on_deny=model.untag_on_deny,
    )


def _requirement(model: ReferrerSpec | None) -> Requirement | None:
    if model is None:
        return None
    if isinstance(model, list):  # normalized by the validator; kept for type checkers
        model = ReferrerRequirement.model_validate({"anyOf": model})
    types = model.all_of if model.all_of is not None else model.any_of or []
    return Requirement(
        types=tuple(dict.fromkeys(artifact_type(t) for t in types)), require_all=model.all_of is not None
    )


def _pairs(value: RequirementMap) -> tuple[tuple[str, Any], ...]:
    mapping = {key: ".*" for key in value} if isinstance(value, list) else value
    return tuple((key, compile_regex(pattern)) for key, pattern in sorted(mapping.items()))


def _exception_end(expires: date | datetime) -> datetime:
    """A date covers that whole day in UTC; a time without an offset is UTC."""
    if isinstance(expires, datetime):
        return expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    return datetime.combine(expires + timedelta(days=1), time(0), tzinfo=UTC)


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema of a policy file, generated from the models (docs/schemas)."""
    return publish_schema(PolicyDocument, name="gate-policy")
