"""Bounded JSON: every body from outside is measured before it is parsed, and checked after.

Every input function takes JSON from another system: Event Grid events, queue
messages, alert webhooks, runbook requests, and ``ops invoke --payload``. Each one
goes through :func:`load_json` (text or bytes) or :func:`check_json` (a value some
converter already decoded), so that no parser of ours ever sees:

- a body over its limit, counted in UTF-8 bytes whether it arrives as bytes, as text
  or already decoded (the Functions worker decodes Event Grid events itself, so a
  limit checked only on raw bytes would never apply to them);
- nesting deeper than ``MAX_DEPTH``: measured on the raw text *before* ``json.loads``
  (whose recursion would otherwise fail with ``RecursionError``), and on decoded
  values without recursion;
- lone surrogates (``"\\ud800"`` is valid JSON text, but no UTF-8 encoder accepts the
  string it decodes to: the store, a URL or a log line would fail later), NaN or
  Infinity, non-string keys, or anything that is not a JSON value.

Anything else raises :class:`ops.errors.InvalidInput` with the field path: the
trigger records it and acknowledges it. Nothing here raises anything else.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any, NoReturn

from ops.errors import InvalidInput

#: Deeper than any payload Azure sends; System.Text.Json, which the Functions host uses,
#: refuses more than 64 levels by default too.
MAX_DEPTH = 64
#: Values in one body: stops explosively shared or self-referencing decoded structures.
MAX_NODES = 1_000_000

Loc = tuple[str | int, ...]

_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON string, whole (possessive: a hostile body cannot make it backtrack).
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$-]+")


def format_path(loc: Sequence[str | int]) -> str:
    """``("data", "allOf", 0, "x")`` → ``data.allOf[0].x``; odd keys are quoted (ASCII only)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part)}]"
    return text


def fail(loc: Loc, expected: str, got: object = None) -> NoReturn:
    raise InvalidInput(format_path(loc), expected, got)


def load_json(body: object, *, limit: int, what: str = "a body") -> Any:
    """Decode ``body`` (bytes or text) or accept an already decoded value, then check it.

    ``limit`` is in UTF-8 bytes for every form. Bytes must be UTF-8 (a BOM is
    tolerated). InvalidInput is the only error.
    """
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        if len(raw) > limit:
            fail((), f"{what} of at most {limit} bytes", f"{len(raw)} bytes")
        try:
            body = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            fail((), "UTF-8 encoded JSON", f"a byte that is not UTF-8 at offset {error.start}")
    if not isinstance(body, str):
        check_json(body, limit=limit, what=what)
        return body
    # Characters first (cheap), then bytes: a character is at most 4 UTF-8 bytes.
    if len(body) > limit or len(body.encode("utf-8", "surrogatepass")) > limit:
        fail((), f"{what} of at most {limit} bytes", f"{len(body)} characters")
    text = body.removeprefix("\ufeff")
    check_depth(text)
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        fail((), "valid JSON", f"{error.msg} at line {error.lineno} column {error.colno}")
    except RecursionError:  # check_depth makes this unreachable; kept as a last line
        fail((), f"JSON nested at most {MAX_DEPTH} levels deep")
    except ValueError as error:  # NaN/Infinity, or an integer with too many digits
        fail((), "valid JSON", str(error)[:80])
    check_json(value)
    return value


def check_depth(text: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse JSON text nested deeper than ``max_depth``, without parsing it.

    Strings are cut out first (a bracket inside one does not nest), then brackets are
    counted; whether the text is valid JSON is the parser's business, after this.
    """
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    depth = 0
    for char in brackets:
        if char in "[{":
            depth += 1
            if depth > max_depth:
                fail((), f"JSON nested at most {max_depth} levels deep")
        else:
            depth -= 1


def check_json(value: Any, *, limit: int | None = None, what: str = "a body") -> None:
    """Refuse anything but plain, bounded JSON; with ``limit``, also a value whose compact
    JSON would be longer than ``limit`` UTF-8 bytes.

    Iterative, so depth is bounded here rather than by Python's recursion limit, and a
    node budget stops self-referencing or explosively shared Python structures.
    """
    stack: list[tuple[Any, Loc]] = [(value, ())]
    seen = 0
    size = 0
    while stack:
        node, loc = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            fail((), f"at most {MAX_NODES} JSON values")
        if len(loc) > MAX_DEPTH:
            fail(loc, f"JSON nested at most {MAX_DEPTH} levels deep")
        if node is None or isinstance(node, bool):
            size += 5
        elif isinstance(node, int):
            size += 2 + node.bit_length() * 3 // 10
        elif isinstance(node, float):
            if not math.isfinite(node):
                fail(loc, "a finite number", node)
            size += 8
        elif isinstance(node, str):
            if _SURROGATE.search(node):
                fail(loc, "text without unpaired surrogate characters")
            size += 3 + len(node.encode("utf-8"))
        elif isinstance(node, dict):
            size += 2
            for key, item in node.items():
                if not isinstance(key, str) or _SURROGATE.search(key):
                    fail(loc, "an object whose keys are valid strings", _safe_key(key))
                size += 3 + len(key.encode("utf-8"))
                stack.append((item, (*loc, key)))
        elif isinstance(node, list | tuple):
            size += 2
            stack.extend((item, (*loc, index)) for index, item in enumerate(node))
        else:
            fail(loc, "a JSON value (object, array, string, number, boolean or null)", type(node).__name__)
        if limit is not None and size > limit:
            fail((), f"{what} of at most {limit} bytes", f"more than {limit} bytes")


def show_body(body: object, *, limit: int = 2000) -> str:
    """``body`` as printable text of at most ``limit`` characters, for an audit record or a
    log: whatever it holds (deep nesting, lone surrogates, bytes that are not UTF-8)."""
    if isinstance(body, bytes | bytearray | memoryview):
        text = bytes(body)[: limit * 4].decode("utf-8", "replace")
    elif isinstance(body, str):
        text = body[: limit * 2]
    else:
        try:
            check_json(body)
            text = json.dumps(body, ensure_ascii=False, default=str)
        except (InvalidInput, TypeError, ValueError, RecursionError):
            text = f"<{type(body).__name__} that is not plain JSON>"
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_key(key: object) -> str:
    return key.encode("utf-8", "backslashreplace").decode("utf-8") if isinstance(key, str) else repr(key)


def _reject_constant(name: str) -> NoReturn:
    # json accepts NaN and Infinity, which are not JSON and poison arithmetic later.
    raise ValueError(f"{name} is not valid JSON")
