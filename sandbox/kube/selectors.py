"""Label and field selectors, with the apiserver's grammar and its errors.

Label selectors: ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k`` (exists), ``!k`` (does not exist), joined by commas. Field selectors:
``path=v``, ``path==v``, ``path!=v`` on the field labels a kind registers; any other
label is refused with 400 exactly like the apiserver, rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.kube.status import bad_request

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_TOKEN = re.compile(r"\s*(\(|\)|,|!=|==|=|!|[^\s(),!=]+)")
_KEY_RE = re.compile(_KEY + r"$")
_VALUE_RE = re.compile(_VALUE + r"$")


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    key: str
    op: str  # "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op == "in":
            return self.key in labels and labels[self.key] in self.values
        # notin (and !=) match objects without the label too, as in Kubernetes.
        return self.key not in labels or labels[self.key] not in self.values


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = _TOKEN.match(text, pos)
        if match is None:  # pragma: no cover - the pattern accepts any non-space run
            raise bad_request(f"unable to parse requirement: {text!r}")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _check_key(key: str) -> str:
    if not _KEY_RE.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise bad_request(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return key


def _check_value(value: str) -> str:
    if not _VALUE_RE.match(value) or len(value) > 63:
        raise bad_request(
            f'unable to parse requirement: invalid label value: "{value}": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )
    return value


def parse_label_selector(text: str | None) -> list[LabelRequirement]:
    """Requirements of a label selector; an empty selector matches everything."""
    if not text or not text.strip():
        return []
    tokens = _tokenize(text)
    requirements: list[LabelRequirement] = []
    i = 0

    def expect(kind: str) -> str:
        nonlocal i
        if i >= len(tokens):
            raise bad_request(f"unable to parse requirement: found '', expected: {kind}")
        token = tokens[i]
        i += 1
        return token

    while i < len(tokens):
        token = expect("identifier")
        if token == "!":
            requirements.append(LabelRequirement(_check_key(expect("identifier")), "!exists"))
        else:
            key = _check_key(token)
            if i >= len(tokens) or tokens[i] == ",":
                requirements.append(LabelRequirement(key, "exists"))
            else:
                op = expect("operator")
                if op in ("=", "=="):
                    requirements.append(
                        LabelRequirement(key, "in", frozenset({_check_value(expect("value"))}))
                    )
                elif op == "!=":
                    requirements.append(
                        LabelRequirement(key, "notin", frozenset({_check_value(expect("value"))}))
                    )
                elif op in ("in", "notin"):
                    if expect("'('") != "(":
                        raise bad_request("unable to parse requirement: found '', expected: '('")
                    values: set[str] = set()
                    while True:
                        value = expect("identifier or ')'")
                        if value == ")":
                            break
                        if value == ",":
                            continue
                        values.add(_check_value(value))
                    requirements.append(LabelRequirement(key, op, frozenset(values)))
                else:
                    raise bad_request(
                        f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                    )
        if i < len(tokens):
            if tokens[i] != ",":
                raise bad_request(
                    f"unable to parse requirement: found '{tokens[i]}', expected: ',' or 'end of string'"
                )
            i += 1
    return requirements


def match_labels(requirements: list[LabelRequirement], obj: dict[str, Any]) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    return all(r.matches(labels) for r in requirements)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    path: str
    value: str
    negate: bool


def parse_field_selector(
    text: str | None, *, allowed: frozenset[str], resource: str, label_selector: str | None
) -> list[FieldRequirement]:
    """Requirements of a field selector; unknown field labels are a 400 as in the apiserver."""
    if not text or not text.strip():
        return []
    requirements: list[FieldRequirement] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"([^=!]+?)\s*(==|!=|=)\s*(.*)", part)
        if match is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        path, op, value = match.groups()
        if path not in allowed:
            raise bad_request(
                f'Unable to find "{resource}" that match label selector "{label_selector or ""}", '
                f'field selector "{text}": field label not supported: {path}'
            )
        requirements.append(FieldRequirement(path, value, op == "!="))
    return requirements


def _field_value(obj: dict[str, Any], path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict):
            return ""
        node = node.get(part)
    if node is None:
        return ""
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, dict):  # e.g. an event's "source": the apiserver matches its component
        return str(node.get("component", ""))
    return str(node)


def match_fields(requirements: list[FieldRequirement], obj: dict[str, Any]) -> bool:
    return all((_field_value(obj, r.path) == r.value) != r.negate for r in requirements)


def compile_filter(
    labels: list[LabelRequirement], fields: list[FieldRequirement]
) -> Callable[[dict[str, Any]], bool] | None:
    """One predicate for a list request, or None when nothing is filtered."""
    if not labels and not fields:
        return None
    return lambda obj: match_labels(labels, obj) and match_fields(fields, obj)
