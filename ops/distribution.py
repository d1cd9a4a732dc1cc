"""The OCI distribution spec's grammar for repository names and tags, in one place.

Repository names and tags end up in registry URLs (``/v2/<name>/manifests/<tag>``,
``/acr/v1/<name>/_tags``), in state keys and in audit records. Every input that
names one (an ImagePushed event, a purge batch message) is held to this grammar when
it is parsed, so that ``../../v2/_catalog``, a 40 KB name or a lone surrogate is
refused as bad input rather than escaped, or crashed on, later.

The name grammar is the spec's ``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*``;
its length limit is the reference implementation's 255 characters (ACR allows no more).
Tags are ``[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}``.
"""

from __future__ import annotations

import re
from typing import Final

_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN: Final = rf"{_COMPONENT}(?:/{_COMPONENT})*"
MAX_REPOSITORY_LENGTH: Final = 255
REPOSITORY_EXPECTED: Final = (
    f"a repository name of at most {MAX_REPOSITORY_LENGTH} characters: lowercase components "
    "[a-z0-9] joined by '.', '_', '__' or '-', separated by '/' (the OCI distribution grammar)"
)
TAG_PATTERN: Final = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
TAG_EXPECTED: Final = "a tag of at most 128 characters [A-Za-z0-9._-], not starting with '.' or '-'"

_REPOSITORY = re.compile(REPOSITORY_PATTERN)
_TAG = re.compile(TAG_PATTERN)


def is_repository_name(name: object) -> bool:
    """Whether ``name`` is a valid repository name (length first: a long one costs nothing)."""
    return isinstance(name, str) and len(name) <= MAX_REPOSITORY_LENGTH and bool(_REPOSITORY.fullmatch(name))


def is_tag(tag: object) -> bool:
    return isinstance(tag, str) and len(tag) <= 128 and bool(_TAG.fullmatch(tag))
