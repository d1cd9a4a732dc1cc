"""Ad-hoc purge rules from command-line flags, in acr-cli's style, for one-off cleanups.

``ops purge --registry R --filter 'REPOSITORY:TAGS' --ago 30d --untagged --keep N``
builds the same policy document a file would hold, one rule per ``--filter``, and
loads it through :func:`ops.purge.policy.load_policy`: the same validation, the same
planner, the same floors (``minAge``) and caps. Only the field paths of its problems
are put back into the flags' terms, so that ``purge.rules[0].olderThan`` reads
``--ago``.

As in acr-cli, a filter is a repository regex and a tag regex separated by the first
colon; unlike acr-cli, both match the whole name (every regex in a policy does). An
empty tag regex (``'team/api:'``) deletes no tagged manifest, which with ``--untagged``
means "only untagged manifests".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ops.errors import ConfigError
from ops.purge.policy import PurgePolicy, load_policy

ORIGIN = "command line"
_FLAGS = {"olderThan": "--ago", "keep": "--keep", "registry": "--registry", "untagged": "--untagged"}
_RULE_PATH = re.compile(r"^purge\.rules\[(\d+)\](?:\.(\w+))?")


def build_adhoc_document(
    *, registry: str, filters: Sequence[str], ago: str, untagged: bool, keep: int
) -> dict[str, Any]:
    """The policy document the flags stand for: one rule per filter."""
    rules = []
    for text in filters:
        repository, _, tags = text.partition(":")
        rule: dict[str, Any] = {
            "name": f"--filter {text}",
            "registry": re.escape(registry),
            "repository": repository,
            "olderThan": ago,
            "untagged": untagged,
            "keep": keep,
        }
        if tags:
            rule["tags"] = tags
        rules.append(rule)
    return {"purge": {"rules": rules}}


def load_adhoc_policy(
    *, registry: str, filters: Sequence[str], ago: str, untagged: bool = False, keep: int = 0
) -> PurgePolicy:
    """The flags as a validated policy; ConfigError names each problem by its flag."""
    problems = [
        f"--filter {text!r}: expected REPOSITORY:TAGS (regexes, the tags part may be empty)"
        for text in filters
        if ":" not in text or not text.partition(":")[0]
    ]
    if problems:
        raise ConfigError(problems)
    document = build_adhoc_document(registry=registry, filters=filters, ago=ago, untagged=untagged, keep=keep)
    try:
        return load_policy(document, origin=ORIGIN)
    except ConfigError as exc:
        raise ConfigError([_in_flag_terms(problem, filters) for problem in exc.problems]) from None


def _in_flag_terms(problem: str, filters: Sequence[str]) -> str:
    match = _RULE_PATH.match(problem)
    if match is None:
        return problem
    field = match[2]
    flag = _FLAGS.get(field or "", f"--filter {filters[int(match[1])]!r}")
    if field is None and "selects nothing" in problem:
        return f"{flag}: selects nothing: give a tag regex after the colon, or --untagged"
    return flag + problem[match.end() :]
