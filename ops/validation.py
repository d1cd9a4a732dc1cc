"""Offline validation of any file the product reads: the five policies and the estate.

``ops validate FILE…`` (and a pre-commit hook or CI step) needs three things a policy
loader does not give: the kind of file, detected from its one top-level key (``gate``,
``purge``, ``schedule``, ``remediate``, ``failover``) or from the estate's sections; every
problem at once, each with its field path; and where in the file it is. The line and
column come from the YAML parser's marks: the document is composed into nodes, and a
problem's location (the keys and indices of the field path) is walked down that tree to
the deepest node that exists, so a missing key points at the mapping that lacks it.

Structure is checked with the capability's pydantic document model, which gives each
problem its location; a document that passes is then loaded by the capability's own
loader, whose checks across fields (a rule that selects nothing, a duplicate name) are
reported at the capability's key. Nothing here reads settings or touches the network.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ops.errors import ConfigError
from ops.policies import Problem, validation_problems

ESTATE = "estate"
_ESTATE_KEYS = frozenset({"subscriptions", "registries", "clusters", "settings", "identity", "generate"})
_PATH_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Located:
    """A problem and where it is in its file (1-based line and column; 0 when unknown)."""

    path: str
    message: str
    line: int
    column: int

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "column": self.column, "message": self.message}


@dataclass(slots=True)
class FileReport:
    """What ``ops validate`` says of one file."""

    file: str
    kind: str | None
    problems: list[Located] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "kind": self.kind,
            "valid": self.valid,
            "problems": [p.as_dict() for p in self.problems],
        }


@dataclass(frozen=True, slots=True)
class _Kind:
    document: Callable[[], type[BaseModel]]
    load: Callable[[Any], object]  # the capability's own loader, for checks across fields


def _policy_kinds() -> dict[str, _Kind]:
    """The capabilities' document models and loaders, imported when first needed."""

    def gate() -> _Kind:
        from ops.gate import policy

        return _Kind(lambda: policy.PolicyDocument, lambda data: policy.load_policy(data, origin="gate"))

    def purge() -> _Kind:
        from ops.purge import policy

        return _Kind(lambda: policy.PolicyDocument, lambda data: policy.load_policy(data, origin="purge"))

    def schedule() -> _Kind:
        import json

        from ops.schedule import policy

        return _Kind(lambda: policy.PolicyDocument, lambda data: policy.load_policy(json.dumps(data)))

    def remediate() -> _Kind:
        from ops.remediate import policy

        return _Kind(lambda: policy.PolicyDocument, lambda data: policy.load_policy(data, origin="remediate"))

    def failover() -> _Kind:
        from ops.failover import policy

        return _Kind(
            lambda: policy.PolicyDocument, lambda data: policy.validate_policy(data, origin="failover")
        )

    return {
        "gate": gate(),
        "purge": purge(),
        "schedule": schedule(),
        "remediate": remediate(),
        "failover": failover(),
    }


def detect_kind(data: Any) -> str | None:
    """The file's kind from its top-level keys; None when it is none of them."""
    if not isinstance(data, Mapping) or not data:
        return None
    keys = set(data)
    if len(keys) == 1:
        (key,) = keys
        if key in ("gate", "purge", "schedule", "remediate", "failover"):
            return str(key)
    if keys <= {"defaults", "retry", "protectedEnvironments"}:
        return "schedule"  # the schedule policy may leave out its capability's key
    if keys & _ESTATE_KEYS and "subscriptions" in keys:
        return ESTATE
    return None


def split_path(path: str) -> tuple[Any, ...]:
    """``purge.rules[2].olderThan`` → ``("purge", "rules", 2, "olderThan")``."""
    parts: list[Any] = []
    for match in _PATH_PART.finditer(path):
        parts.append(int(match.group(2)) if match.group(2) is not None else match.group(1))
    return tuple(parts)


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int, int]:
    """The 1-based (line, column) of the deepest node on ``loc``'s way; (1, 1) for the root."""
    node = root
    if node is None:
        return 1, 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    child = value
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node.start_mark.line + 1, node.start_mark.column + 1


def _located(problem: Problem, root: yaml.Node | None) -> Located:
    line, column = locate(root, problem.loc)
    return Located(problem.path, problem.message, line, column)


def _from_messages(messages: list[str], root: yaml.Node | None, default_path: str) -> list[Located]:
    """Problems a loader phrased as ``path: message`` lines, located where the path leads."""
    out = []
    for text in messages:
        path, sep, message = text.partition(": ")
        if not sep or " " in path:
            path, message = default_path, text
        line, column = locate(root, split_path(path))
        out.append(Located(path, message, line, column))
    return out


def _config_messages(exc: ConfigError) -> list[str]:
    problems = getattr(exc, "problems", None)
    if isinstance(problems, list | tuple) and problems:
        return [str(p) for p in problems]
    return [line.strip() for line in str(exc).split("; ") if line.strip()]


def validate_text(text: str, *, file: str = "<text>") -> FileReport:
    """Every problem of one document, located; the kind is detected from its keys."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        return FileReport(file, None, [Located("<document>", f"not valid YAML: {problem}", line, column)])
    kind = detect_kind(data)
    if kind is None:
        expected = "gate, purge, schedule, remediate or failover as the one top-level key, or an estate"
        return FileReport(
            file, None, [Located("<document>", f"unknown kind of file: expected {expected}", 1, 1)]
        )
    if kind == ESTATE:
        return FileReport(file, kind, _validate_estate(data, root))
    spec = _policy_kinds()[kind]
    model = spec.document()
    if kind not in data:  # a schedule policy written without its key: locate as written
        data, root = (
            {kind: data},
            yaml.MappingNode("tag:yaml.org,2002:map", [(yaml.ScalarNode("", kind), root)]),
        )
    try:
        model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(exc, data, root=kind, model=model)
        return FileReport(file, kind, [_located(p, root) for p in problems])
    try:
        spec.load(data)
    except ConfigError as exc:
        return FileReport(file, kind, _from_messages(_config_messages(exc), root, kind))
    return FileReport(file, kind)


def _validate_estate(data: Any, root: yaml.Node | None) -> list[Located]:
    from sandbox.estate import EstateError, load_estate

    try:
        load_estate(data)
    except EstateError as exc:
        return _from_messages(_config_messages(exc), root, "<estate>")
    return []


def validate_file(path: Path) -> FileReport:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return FileReport(str(path), None, [Located("<file>", f"cannot be read: {exc}", 0, 0)])
    return validate_text(text, file=str(path))
