"""Every regex a policy applies matches the whole name, never a prefix, suffix or part.

Cases, for each pattern a policy compiles: purge's registry, repository, tags, keepTags and
inUse.allowUnreadable; the gate's registry, repository and immutableTags. The name itself
matches; the name with something before it, after it, or a newline after it does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ops.gate.policy import load_policy as load_gate
from ops.purge.policy import load_policy as load_purge

PURGE = load_purge(
    """
purge:
  inUse:
    allowUnreadable: ['aks-dev']
  rules:
    - registry: reg
      repository: app
      tags: ci
      keepTags: ['keep']
"""
)
RULE = PURGE.rules[0]
GATE = load_gate(
    {"gate": {"rules": [{"name": "r", "registry": "reg", "repository": "app", "immutableTags": ["v1"]}]}}
)
GATE_RULE = GATE.rules[0]

CHECKS: list[tuple[str, str, Callable[[str], Any]]] = [
    ("purge registry", "reg", lambda name: RULE.covers(name, "app")),
    ("purge repository", "app", lambda name: RULE.covers("reg", name)),
    ("purge tags", "ci", RULE.selects_tag),
    ("purge keepTags", "keep", RULE.keeps_tag),
    ("purge allowUnreadable", "aks-dev", PURGE.unreadable_allowed),
    ("gate registry", "reg", lambda name: GATE_RULE.covers(name, "app")),
    ("gate repository", "app", lambda name: GATE_RULE.covers("reg", name)),
    ("gate immutableTags", "v1", GATE_RULE.immutable),
]


@pytest.mark.parametrize(("label", "name", "check"), CHECKS, ids=[c[0] for c in CHECKS])
def test_patterns_match_the_whole_name(label: str, name: str, check: Callable[[str], Any]) -> None:
    assert check(name)
    for lookalike in (f"x{name}", f"{name}x", f"{name}-2", f"{name}\n", f"my-{name}-evil"):
        assert not check(lookalike), f"{label}: {lookalike!r} matched {name!r}"
