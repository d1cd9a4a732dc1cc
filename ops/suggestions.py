"""\"Did you mean …?\" for a name that names nothing: a cluster, a registry, a capability.

A misspelt name is the commonest mistake at a terminal, and the fix is usually one of
the names that do exist; saying which saves a listing command and a second try.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

CUTOFF = 0.6  # difflib's own default: below it, a name is a different word
MARGIN = 0.05  # names this close to the best are offered too; fleet names share long prefixes


def suggest(name: str, choices: Iterable[str], *, limit: int = 3) -> str:
    """``"; did you mean 'aks-dev'?"`` (the closest known names), or ``""`` when none is close.

    Matching ignores case, and the names are given back as they are spelt. Only the names
    about as close as the closest are offered: in a fleet named ``aks-*`` every name is
    somewhat close to every other."""
    wanted = name.strip().lower()
    scored = []
    for choice in dict.fromkeys(choices):
        score = SequenceMatcher(None, wanted, choice.lower()).ratio()
        if score >= CUTOFF:
            scored.append((score, choice))
    if not scored:
        return ""
    scored.sort(key=lambda item: -item[0])
    best = scored[0][0]
    close = [choice for score, choice in scored[:limit] if score >= best - MARGIN]
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"
