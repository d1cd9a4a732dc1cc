"""Estate files: load (validated, with field paths), generate at scale, dump back.

An estate is a YAML (or JSON, or dict) description of subscriptions, registries,
findings, clusters and the app identity; docs/estate.md is the reference and
sandbox/estates/demo.yaml the example. ``load_estate`` returns a live
:class:`~sandbox.world.World` or raises :class:`EstateError` listing every problem as
``path: message``; ``dump_estate`` writes a World back in the same format::

    world = load_estate("sandbox/estates/demo.yaml")
    assert dump_estate(load_estate(dump_estate(world))) == dump_estate(world)
"""

from __future__ import annotations

import gc
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ops.errors import ConfigError
from sandbox.estate.dumping import dump_estate
from sandbox.estate.images import apply_login_servers, estate_image, parse_image_ref
from sandbox.estate.models import EstateModel
from sandbox.world import World

__all__ = [
    "EstateError",
    "apply_login_servers",
    "dump_estate",
    "estate_image",
    "load_estate",
    "parse_image_ref",
]

DEMO_ESTATE = Path(__file__).resolve().parents[1] / "estates" / "demo.yaml"


class EstateError(ConfigError):
    """The estate file is invalid; ``problems`` lists each one as ``path: message``."""


def load_estate(source: str | Path | dict[str, Any], *, now: datetime | None = None) -> World:
    """A World from an estate file path, YAML text, or an already-parsed dict.

    ``now`` is the reference time for relative ages (``age: 40d``); default: wall time.
    """
    data = _read(source)
    try:
        model = EstateModel.model_validate(data)
    except ValidationError as exc:
        raise EstateError(_format_errors(exc, data)) from None
    from sandbox.estate.building import Builder

    builder = Builder(model, now or datetime.now(UTC))
    # A generated estate is millions of small objects and no garbage cycles: collecting
    # while building would re-scan them again and again.
    enabled = gc.isenabled()
    gc.disable()
    try:
        world = builder.build()
    finally:
        if enabled:
            gc.enable()
    if builder.problems.items:
        raise EstateError(builder.problems.items)
    return world


def _read(source: str | Path | dict[str, Any]) -> Any:
    if isinstance(source, dict):
        return source
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml", ".json"))
    ):
        path = Path(source)
        try:
            text = path.read_text()
        except OSError as exc:
            raise EstateError([f"<file>: cannot read {path}: {exc.strerror}"]) from None
    else:
        text = source
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise EstateError([f"<file>: not valid YAML at {where}: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise EstateError([f"<root>: expected a mapping of estate sections (got {type(data).__name__})"])
    return data


def _format_errors(exc: ValidationError, data: Any) -> list[str]:
    """``path: message (got …)`` per error.

    pydantic reports a union (``tags: [str | {name, ...}]``) once per branch; only the
    branch that fits the input's shape (mapping or scalar) is kept.
    """
    out: list[str] = []
    for error in exc.errors(include_url=False):
        path = ""
        branch: tuple[str, bool] | None = None  # (path at the union, is the model branch)
        for item in error["loc"]:
            if isinstance(item, int):
                path += f"[{item}]"
            elif _is_branch_tag(item):
                if branch is None:
                    branch = (path, item[:1].isupper() or re.search(r"[A-Z]\w*\]$", item) is not None)
            else:
                path += ("." if path else "") + item
        if branch is not None and isinstance(_lookup(data, branch[0]), dict) != branch[1]:
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "field required"
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        got = error.get("input")
        if error["type"] not in ("missing", "extra_forbidden") and not isinstance(got, dict | list):
            message += f" (got {got!r})"
        line = f"{path or '<root>'}: {message}"
        if line not in out:
            out.append(line)
    return out


def _is_branch_tag(item: str) -> bool:
    """pydantic's names for union branches (``TagModel``, ``str``, ``constrained-str``, ...)."""
    return (
        item[:1].isupper()
        or item in ("str", "int", "float", "bool")
        or item.startswith(("constrained-", "function-", "lax-", "strict-", "json-", "tagged-union"))
    )


def _lookup(data: Any, path: str) -> Any:
    value = data
    for key, index in re.findall(r"\.?([^.\[\]]+)|\[(\d+)\]", path):
        try:
            value = value[int(index)] if index else value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value
