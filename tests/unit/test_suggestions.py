"""``suggest``: the closest known names for a misspelt one.

Cases: a transposition and a dropped letter find the name; case is ignored and the
name comes back as it is spelt; in a fleet whose names share a prefix only the closest
is offered, and names equally close are all offered; nothing close offers nothing.
"""

from __future__ import annotations

import pytest

from ops.suggestions import suggest

NAMES = ["aks-dev", "aks-devtest", "aks-qa", "aks-prod", "contosoprod"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aks-dve", "; did you mean 'aks-dev'?"),
        ("aks-prd", "; did you mean 'aks-prod'?"),
        ("AKS-QA", "; did you mean 'aks-qa'?"),
        ("contosoprd", "; did you mean 'contosoprod'?"),
        ("aks-devtes", "; did you mean 'aks-devtest'?"),
        ("aks-dev1", "; did you mean 'aks-dev'?"),
        ("aks-qb", "; did you mean 'aks-qa'?"),
        ("contoso-prod", "; did you mean 'contosoprod'?"),
        ("westeurope", ""),
    ],
)
def test_suggestions(name: str, expected: str) -> None:
    assert suggest(name, NAMES) == expected


def test_names_are_given_back_as_spelt() -> None:
    assert suggest("aksdev", ["AKS-Dev"]) == "; did you mean 'AKS-Dev'?"


def test_equally_close_names_are_all_offered() -> None:
    offered = suggest("aks-dev", ["aks-dev1", "aks-dev2", "aks-prod"])
    assert offered == "; did you mean 'aks-dev1' or 'aks-dev2'?"
