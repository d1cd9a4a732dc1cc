"""Hypothesis strategies for hostile input: JSON of any shape, strings known to break
parsers and URLs, deep nesting, oversized bodies, and mutations of valid payloads.

A mutation starts from a payload the app accepts and changes one to three places in it:
a value replaced by any JSON (or a hostile string), a key deleted, a key added. So most
cases are *almost* valid, which is where validation holes are.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

#: Strings that have broken parsers, URLs, stores or logs somewhere.
HOSTILE_TEXT: list[str] = [
    "",
    " ",
    "../../v2/_catalog",
    "..%2F..%2Fv2%2F_catalog",
    "x" * 40_000,
    "\ud800",
    "a\udfffb",
    "a\x00b",
    "127.0.0.1:1",
    "localhost",
    "UPPER/Case",
    "a//b",
    "-leading",
    "sha256:" + "0" * 64,
    "sha256:" + "g" * 64,
    "\u202eevil",
    "😀",
    "null",
    "[" * 70,
    "{" * 70,
    "https://example.invalid/x?y=z#w",
    "1e999",
    "NaN",
    "contosotest.azurecr.io.evil.example",
    "CONTOSOTEST.westeurope.geo.azurecr.io",
    "%",
    "\\",
    '"',
]

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_TEXT)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for index in range(depth):
        value = [value] if index % 2 else {"a": value}
    return value


# Deep enough to be refused, shallow enough for Python to copy (deep text goes to 200,000).
deep_values = st.integers(min_value=65, max_value=200).map(nested)
deep_texts = st.integers(min_value=65, max_value=200_000).map(lambda n: "[" * n + "]" * n)
raw_bodies = (
    st.binary(max_size=200)
    | st.text(max_size=200)
    | deep_texts
    | st.sampled_from([b"\xff\xfe", b"\xef\xbb\xbf{}", "\ufeff[]", '{"a": NaN}', '{"a": 1e999}', "[1,]"])
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _set(root: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return root


def _delete(root: Any, path: tuple[Any, ...]) -> Any:
    if not path:
        return root
    parent = root
    for part in path[:-1]:
        parent = parent[part]
    del parent[path[-1]]
    return root


def mutations(base: Any, specials: st.SearchStrategy[Any] | None = None) -> st.SearchStrategy[Any]:
    """``base`` with one to three places changed (see the module docstring)."""
    replacement = json_values | deep_values | (specials if specials is not None else st.nothing())

    @st.composite
    def mutate(draw: Callable[..., Any]) -> Any:
        value = copy.deepcopy(base)
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            path = draw(st.sampled_from(_paths(value)[:64]))
            action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
            target: Any = value
            for part in path:
                target = target[part]
            if action == "delete" and path:
                value = _delete(value, path)
            elif action == "add" and isinstance(target, dict):
                target[draw(st.text(max_size=8))] = copy.deepcopy(draw(replacement))
            else:
                # A copy: sampled constants are shared between cases and must never change.
                value = _set(value, path, copy.deepcopy(draw(replacement)))
        return value

    return mutate()


def as_text(value: Any) -> str:
    return json.dumps(value)
