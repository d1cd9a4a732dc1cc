"""Scalar expressions: checked against the schema, then compiled to Python closures.

Compiling once per query (not per row) keeps a query over thousands of rows cheap,
and checking column names at compile time reproduces KQL's semantic errors: a query
naming a column that does not exist fails with 400 instead of matching nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import re2

from sandbox.graph import values as v
from sandbox.graph.errors import QueryError, invalid_argument, unknown_function, unresolved_name
from sandbox.graph.syntax import Binary, Call, ColumnRef, Expr, InList, Literal, Member, Negate

Row = dict[str, Any]
Evaluator = Callable[[Row], Any]

# Conversions whose result column keeps the name of their argument (KQL's naming rule).
_NAME_PRESERVING = frozenset(
    {
        "tostring",
        "toint",
        "tolong",
        "todouble",
        "toreal",
        "tobool",
        "toboolean",
        "todynamic",
        "parse_json",
        "todatetime",
    }
)
AGGREGATES = frozenset({"count", "countif", "dcount", "sum", "min", "max", "avg"})
# Aggregations KQL has and the subset leaves out; named in the error rather than "unknown".
UNSUPPORTED_FUNCTIONS = frozenset(
    {
        "arg_max",
        "arg_min",
        "make_set",
        "make_list",
        "make_bag",
        "make_set_if",
        "make_list_if",
        "percentile",
        "percentiles",
        "stdev",
        "variance",
        "any",
        "take_any",
        "sumif",
        "avgif",
        "dcountif",
        "minif",
        "maxif",
        "bin",
        "format_datetime",
        "parse_path",
        "pack",
        "bag_pack",
        "pack_array",
        "replace_string",
        "indexof",
        "datetime",
        "dynamic",
        "case",
        "has_any",
        "has_all",
        "bag_keys",
        "mv_expand",
        "startofday",
    }
)


@dataclass(frozen=True, slots=True)
class Schema:
    """The columns of a tabular result, in order, with their Resource Graph types."""

    columns: tuple[tuple[str, str], ...]

    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def type_of(self, name: str) -> str | None:
        return next((t for n, t in self.columns if n == name), None)


@dataclass(slots=True)
class Compiler:
    """Compiles expressions of one operator against the schema it receives."""

    schema: Schema
    operator: str
    now: datetime

    def compile(self, expr: Expr) -> tuple[Evaluator, str]:
        """(evaluator, result type); raises QueryError on unknown names or functions."""
        if isinstance(expr, Literal):
            value = expr.value
            return (lambda _row: value), expr.type
        if isinstance(expr, ColumnRef):
            column_type = self.schema.type_of(expr.name)
            if column_type is None:
                raise unresolved_name(self.operator, expr.name)
            name = expr.name
            return (lambda row: row.get(name)), column_type
        if isinstance(expr, Member):
            target, _ = self.compile(expr.target)
            key = expr.key
            if isinstance(key, int):
                return (lambda row: _index(target(row), key)), "object"
            return (lambda row: _property(target(row), key)), "object"
        if isinstance(expr, Negate):
            operand, operand_type = self.compile(expr.operand)
            return (lambda row: _negate(operand(row))), operand_type
        if isinstance(expr, InList):
            return self._in_list(expr), "boolean"
        if isinstance(expr, Binary):
            return self._binary(expr)
        return self._call(expr)

    def _in_list(self, expr: InList) -> Evaluator:
        left, _ = self.compile(expr.left)
        items = [self.compile(item)[0] for item in expr.items]
        ignore_case = expr.op.endswith("~")
        negate = expr.op.startswith("!")

        def evaluate(row: Row) -> bool:
            value = left(row)
            found = any(
                v.equal(value, candidate, ignore_case=ignore_case)
                for item in items
                for candidate in _flatten(item(row))
            )
            return found != negate

        return evaluate

    def _binary(self, expr: Binary) -> tuple[Evaluator, str]:
        left, left_type = self.compile(expr.left)
        right, right_type = self.compile(expr.right)
        op = expr.op
        if op == "and":
            return (lambda row: left(row) is True and right(row) is True), "boolean"
        if op == "or":
            return (lambda row: left(row) is True or right(row) is True), "boolean"
        if op in ("+", "-", "*", "/", "%"):
            result_type = (
                left_type
                if left_type == right_type and left_type in ("integer", "number")
                else ("datetime" if "datetime" in (left_type, right_type) and op in ("+", "-") else "number")
            )
            return (lambda row: _arithmetic(op, left(row), right(row))), result_type
        if op == "matches":
            pattern = self._constant_regex(expr.right)
            return (lambda row: pattern.search(v.to_text(left(row))) is not None), "boolean"
        test = _COMPARISONS.get(op)
        if test is None:  # pragma: no cover - the parser only produces known operators
            raise invalid_argument(f"operator {op} is not supported")
        return (lambda row: test(left(row), right(row))), "boolean"

    def _constant_regex(self, expr: Expr) -> Any:
        if not isinstance(expr, Literal) or not isinstance(expr.value, str):
            raise invalid_argument("the regular expression must be a constant string")
        try:
            re.compile(expr.value)  # rejects most bad patterns without RE2's log noise
            return re2.compile(expr.value)
        except (re.error, re2.error) as exc:
            raise invalid_argument(f"invalid regular expression '{expr.value}': {exc}") from exc

    def _call(self, expr: Call) -> tuple[Evaluator, str]:
        name = expr.name
        if name in AGGREGATES:
            raise invalid_argument(
                f"'{self.operator}' operator: aggregation function '{name}' is only allowed in summarize"
            )
        if name in UNSUPPORTED_FUNCTIONS:
            raise unsupported_function(name)
        spec = _FUNCTIONS.get(name)
        if spec is None:
            raise unknown_function(name)
        low, high, result_type, build = spec
        if not low <= len(expr.args) <= high:
            raise invalid_argument(
                f"'{name}': function expects {low if low == high else f'{low} to {high}'} argument(s), "
                f"got {len(expr.args)}"
            )
        if name == "extract":
            return self._extract(expr), "string"
        compiled = [self.compile(arg) for arg in expr.args]
        evaluators = [c[0] for c in compiled]
        if result_type == "":  # the type of the first value argument (iff, coalesce)
            result_type = compiled[1 if name in ("iff", "iif") else 0][1]
        return build(evaluators, self.now), result_type

    def _extract(self, expr: Call) -> Evaluator:
        pattern = self._constant_regex(expr.args[0])
        group_arg = expr.args[1]
        if not isinstance(group_arg, Literal) or not isinstance(group_arg.value, int):
            raise invalid_argument("extract(): the capture group must be a constant integer")
        group = group_arg.value
        if group > pattern.groups:
            raise invalid_argument(f"extract(): the regular expression has no capture group {group}")
        text, _ = self.compile(expr.args[2])

        def evaluate(row: Row) -> str:
            match = pattern.search(v.to_text(text(row)))
            if match is None:
                return ""
            return match.group(group) or ""

        return evaluate


def unsupported_function(name: str) -> QueryError:
    return QueryError(
        {
            "code": "UnknownFunction",
            "message": f"Function '{name}' is not supported by the sandbox's Resource Graph, which "
            "implements a KQL subset.",
        }
    )


def infer_name(expr: Expr) -> str | None:
    """The column name KQL gives an unnamed expression, or None (then ColumnN)."""
    if isinstance(expr, ColumnRef):
        return expr.name
    if isinstance(expr, Member):
        base = infer_name(expr.target)
        return None if base is None else f"{base}_{expr.key}"
    if isinstance(expr, Call) and expr.name in _NAME_PRESERVING and len(expr.args) == 1:
        return infer_name(expr.args[0])
    return None


def _flatten(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _property(value: Any, key: str) -> Any:
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:  # KQL parses a JSON string on member access of a dynamic value
            value = json.loads(value)
        except ValueError:
            return None
    return value.get(key) if isinstance(value, dict) else None


def _index(value: Any, index: int) -> Any:
    if isinstance(value, list) and -len(value) <= index < len(value):
        return value[index]
    return None


def _negate(value: Any) -> Any:
    return -value if v.is_number(value) or isinstance(value, timedelta) else None


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    if isinstance(left, str) and op in ("+", "-"):
        left = v.parse_datetime(left) or left
    try:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op == "/":
            if isinstance(left, int) and isinstance(right, int) and not isinstance(left, bool):
                return left // right if right else None
            return left / right if right else None
        return left % right if right else None
    except TypeError:
        return None


def _text_test(test: Callable[[str, str], bool], *, negate: bool, fold: bool) -> Callable[[Any, Any], bool]:
    def evaluate(left: Any, right: Any) -> bool:
        a, b = v.to_text(left), v.to_text(right)
        if fold:
            a, b = a.casefold(), b.casefold()
        return test(a, b) != negate

    return evaluate


def _has(text: str, term: str) -> bool:
    """KQL ``has``: ``term`` occurs as whole terms (bounded by non-alphanumerics)."""
    if term == "":
        return True
    start = text.find(term)
    while start != -1:
        end = start + len(term)
        before_ok = start == 0 or not text[start - 1].isalnum() or not term[0].isalnum()
        after_ok = end == len(text) or not text[end].isalnum() or not term[-1].isalnum()
        if before_ok and after_ok:
            return True
        start = text.find(term, start + 1)
    return False


def _has_prefix(text: str, prefix: str) -> bool:
    return any(_has(token[: len(prefix)], prefix) for token in re2.split(r"[^0-9A-Za-z]+", text) if token)


def _has_suffix(text: str, suffix: str) -> bool:
    return any(token.endswith(suffix) for token in re2.split(r"[^0-9A-Za-z]+", text) if token)


def _ordered(test: Callable[[int], bool]) -> Callable[[Any, Any], bool]:
    def evaluate(left: Any, right: Any) -> bool:
        result = v.compare(left, right)
        return result is not None and test(result)

    return evaluate


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: v.equal(a, b),
    "!=": lambda a, b: not v.equal(a, b),
    "=~": lambda a, b: v.equal(a, b, ignore_case=True),
    "!~": lambda a, b: not v.equal(a, b, ignore_case=True),
    "<": _ordered(lambda r: r < 0),
    ">": _ordered(lambda r: r > 0),
    "<=": _ordered(lambda r: r <= 0),
    ">=": _ordered(lambda r: r >= 0),
}
for _name, _test in {
    "has": _has,
    "contains": lambda a, b: b in a,
    "startswith": lambda a, b: a.startswith(b),
    "endswith": lambda a, b: a.endswith(b),
    "hasprefix": _has_prefix,
    "hassuffix": _has_suffix,
}.items():
    _COMPARISONS[_name] = _text_test(_test, negate=False, fold=True)
    _COMPARISONS[f"!{_name}"] = _text_test(_test, negate=True, fold=True)
    _COMPARISONS[f"{_name}_cs"] = _text_test(_test, negate=False, fold=False)
    _COMPARISONS[f"!{_name}_cs"] = _text_test(_test, negate=True, fold=False)


def _unary(convert: Callable[[Any], Any]) -> Callable[[list[Evaluator], datetime], Evaluator]:
    def build(args: list[Evaluator], now: datetime) -> Evaluator:
        (arg,) = args
        return lambda row: convert(arg(row))

    return build


def _parse_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


def _strcat(args: list[Evaluator], now: datetime) -> Evaluator:
    return lambda row: "".join(v.to_text(a(row)) for a in args)


def _substring(args: list[Evaluator], now: datetime) -> Evaluator:
    def evaluate(row: Row) -> str:
        text = v.to_text(args[0](row))
        start = v.to_int(args[1](row)) or 0
        if len(args) == 2:
            return text[max(start, 0) :]
        length = v.to_int(args[2](row)) or 0
        return text[max(start, 0) : max(start, 0) + max(length, 0)]

    return evaluate


def _split(args: list[Evaluator], now: datetime) -> Evaluator:
    def evaluate(row: Row) -> Any:
        parts = v.to_text(args[0](row)).split(v.to_text(args[1](row)))
        if len(args) == 3:
            index = v.to_int(args[2](row))
            return [parts[index]] if index is not None and -len(parts) <= index < len(parts) else []
        return parts

    return evaluate


def _iff(args: list[Evaluator], now: datetime) -> Evaluator:
    condition, then, otherwise = args
    return lambda row: then(row) if condition(row) is True else otherwise(row)


def _coalesce(args: list[Evaluator], now: datetime) -> Evaluator:
    def evaluate(row: Row) -> Any:
        for arg in args:
            value = arg(row)
            if value is not None and value != "":
                return value
        return None

    return evaluate


def _ago(args: list[Evaluator], now: datetime) -> Evaluator:
    (span,) = args
    return lambda row: now - span(row) if isinstance(span(row), timedelta) else None


def _now(args: list[Evaluator], now: datetime) -> Evaluator:
    if args:
        return lambda row: now + args[0](row) if isinstance(args[0](row), timedelta) else None
    return lambda row: now


def _not(value: Any) -> Any:
    return None if value is None else not v.to_bool(value)


# name → (min args, max args, result type or "" for "like an argument", builder)
_FUNCTIONS: dict[str, tuple[int, int, str, Callable[[list[Evaluator], datetime], Evaluator]]] = {
    "tostring": (1, 1, "string", _unary(v.to_text)),
    "tolower": (1, 1, "string", _unary(lambda x: v.to_text(x).lower())),
    "toupper": (1, 1, "string", _unary(lambda x: v.to_text(x).upper())),
    "toint": (1, 1, "integer", _unary(v.to_int)),
    "tolong": (1, 1, "integer", _unary(v.to_int)),
    "todouble": (1, 1, "number", _unary(v.to_float)),
    "toreal": (1, 1, "number", _unary(v.to_float)),
    "tobool": (1, 1, "boolean", _unary(v.to_bool)),
    "toboolean": (1, 1, "boolean", _unary(v.to_bool)),
    "todynamic": (1, 1, "object", _unary(_parse_json)),
    "parse_json": (1, 1, "object", _unary(_parse_json)),
    "todatetime": (1, 1, "datetime", _unary(v.parse_datetime)),
    "strlen": (1, 1, "integer", _unary(lambda x: len(v.to_text(x)))),
    "isempty": (1, 1, "boolean", _unary(lambda x: x is None or x == "")),
    "isnotempty": (1, 1, "boolean", _unary(lambda x: not (x is None or x == ""))),
    "isnull": (1, 1, "boolean", _unary(lambda x: x is None)),
    "isnotnull": (1, 1, "boolean", _unary(lambda x: x is not None)),
    "not": (1, 1, "boolean", _unary(_not)),
    "array_length": (1, 1, "integer", _unary(lambda x: len(x) if isinstance(x, list) else None)),
    "strcat": (1, 64, "string", _strcat),
    "substring": (2, 3, "string", _substring),
    "split": (2, 3, "object", _split),
    "extract": (3, 3, "string", _strcat),  # compiled specially (constant regex and group)
    "iff": (3, 3, "", _iff),
    "iif": (3, 3, "", _iff),
    "coalesce": (1, 64, "", _coalesce),
    "ago": (1, 1, "datetime", _ago),
    "now": (0, 1, "datetime", _now),
}
