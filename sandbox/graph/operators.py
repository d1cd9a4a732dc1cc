"""Tabular operators: each takes (schema, rows) and returns (schema, rows).

A query is compiled operator by operator, threading the schema through so that every
column reference is checked where it is used; the compiled stages then run over the
rows. Rows are dicts keyed by column name; the schema says which columns exist and in
what order they are returned.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.graph import values as v
from sandbox.graph.errors import invalid_argument, unresolved_name
from sandbox.graph.expressions import AGGREGATES, Compiler, Evaluator, Row, Schema, infer_name
from sandbox.graph.syntax import (
    Assignment,
    Call,
    Count,
    Distinct,
    Extend,
    MvExpand,
    Operator,
    OrderBy,
    Project,
    ProjectAway,
    Query,
    SortKey,
    Summarize,
    Take,
    Top,
    Where,
)

Stage = Callable[[list[Row]], list[Row]]


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    table: str
    schema: Schema  # of the result
    stages: tuple[Stage, ...]
    pageable: bool  # False when the query limits its own rows (limit/take): no $skipToken

    def run(self, rows: list[Row]) -> list[Row]:
        for stage in self.stages:
            rows = stage(rows)
        return rows


def _named(items: tuple[Assignment, ...], compiler: Compiler) -> list[tuple[str, Evaluator, str]]:
    """(name, evaluator, type) per item, naming unnamed ones as KQL does."""
    out: list[tuple[str, Evaluator, str]] = []
    unnamed = 0
    for item in items:
        evaluator, value_type = compiler.compile(item.expr)
        name = item.name or infer_name(item.expr)
        if name is None:
            unnamed += 1
            name = f"Column{unnamed}"
        out.append((name, evaluator, value_type))
    return out


def _unique(names: list[str], operator: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise invalid_argument(f"'{operator}' operator: duplicate column name '{name}'")
        seen.add(name)


def _where(op: Where, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    predicate, predicate_type = Compiler(schema, "where", now).compile(op.predicate)
    if predicate_type not in ("boolean", "object"):
        raise invalid_argument(f"'where' operator: the predicate must be boolean, not {predicate_type}")
    return schema, lambda rows: [row for row in rows if predicate(row) is True]


def _project(op: Project, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    items = _named(op.items, Compiler(schema, "project", now))
    _unique([name for name, _, _ in items], "project")
    out = Schema(tuple((name, value_type) for name, _, value_type in items))
    return out, lambda rows: [{name: fn(row) for name, fn, _ in items} for row in rows]


def _project_away(op: ProjectAway, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    drop: set[str] = set()
    for pattern in op.patterns:
        matched = [n for n in schema.names() if fnmatch.fnmatchcase(n, pattern)]
        if not matched and "*" not in pattern:
            raise unresolved_name("project-away", pattern)
        drop.update(matched)
    out = Schema(tuple(c for c in schema.columns if c[0] not in drop))
    keep = out.names()
    return out, lambda rows: [{name: row.get(name) for name in keep} for row in rows]


def _set_columns(schema: Schema, columns: list[tuple[str, str]]) -> Schema:
    """``schema`` with ``columns`` (name, type) replacing same-named ones in place, the rest appended."""
    out = list(schema.columns)
    for name, value_type in columns:
        at = next((i for i, (n, _) in enumerate(out) if n == name), None)
        if at is None:
            out.append((name, value_type))
        else:
            out[at] = (name, value_type)
    return Schema(tuple(out))


def _extend(op: Extend, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    items = _named(op.items, Compiler(schema, "extend", now))

    def stage(rows: list[Row]) -> list[Row]:
        out = []
        for row in rows:
            new = dict(row)
            for name, fn, _ in items:
                new[name] = fn(row)
            out.append(new)
        return out

    return _set_columns(schema, [(name, value_type) for name, _, value_type in items]), stage


def _expansion(value: Any) -> list[Any]:
    """The values one row expands into: KQL gives null one row and an empty array none."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return [{key: item} for key, item in value.items()]
    return [value]


def _mv_expand(op: MvExpand, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    items = _named(op.items, Compiler(schema, "mv-expand", now))
    limit = op.limit

    def stage(rows: list[Row]) -> list[Row]:
        out: list[Row] = []
        for row in rows:
            expansions = [(name, _expansion(fn(row))) for name, fn, _ in items]
            count = max(len(values) for _, values in expansions)
            if limit is not None:
                count = min(count, limit)
            for index in range(count):
                new = dict(row)
                for name, values in expansions:
                    new[name] = values[index] if index < len(values) else None
                out.append(new)
        return out

    return _set_columns(schema, [(name, "object") for name, _, _ in items]), stage


def _sorter(keys: tuple[SortKey, ...], compiler: Compiler) -> Stage:
    compiled = [(compiler.compile(key.expr)[0], key) for key in keys]

    def stage(rows: list[Row]) -> list[Row]:
        rows = list(rows)
        # Stable sorts from the last key to the first give a multi-key order.
        for fn, key in reversed(compiled):
            null_rank = 0 if key.nulls_first != key.descending else 2

            def sort_value(row: Row, fn: Evaluator = fn, null_rank: int = null_rank) -> tuple[Any, ...]:
                value = fn(row)
                if value is None:
                    return (null_rank, 0, 0)
                return (1, *v.sort_key(value))

            rows.sort(key=sort_value, reverse=key.descending)
        return rows

    return stage


def _order_by(op: OrderBy, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    return schema, _sorter(op.keys, Compiler(schema, "order", now))


def _top(op: Top, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    sort = _sorter((op.key,), Compiler(schema, "top", now))
    count = op.count
    return schema, lambda rows: sort(rows)[:count]


def _take(op: Take, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    count = op.count
    return schema, lambda rows: rows[:count]


def _aggregate(item: Assignment, compiler: Compiler) -> tuple[str, Callable[[list[Row]], Any], str]:
    expr = item.expr
    if not isinstance(expr, Call) or expr.name not in AGGREGATES:
        if isinstance(expr, Call):
            compiler.compile(expr)  # names unknown or unsupported functions precisely
        raise invalid_argument("summarize operator: expected an aggregation function such as count()")
    name = expr.name
    if name == "count":
        if expr.args:
            raise invalid_argument("'count': function expects 0 argument(s)")
        return item.name or "count_", len, "integer"
    if len(expr.args) != 1:
        raise invalid_argument(f"'{name}': function expects 1 argument(s), got {len(expr.args)}")
    arg, arg_type = compiler.compile(expr.args[0])
    if name == "countif":
        return item.name or "countif_", lambda rows: sum(1 for r in rows if arg(r) is True), "integer"
    base = infer_name(expr.args[0]) or "arg0"
    column = item.name or f"{name}_{base}"
    if name == "dcount":
        return column, lambda rows: len({v.to_text(arg(r)) for r in rows if arg(r) is not None}), "integer"
    if name in ("min", "max"):
        pick = min if name == "min" else max

        def extreme(rows: list[Row]) -> Any:
            present = [arg(r) for r in rows if arg(r) is not None]
            return pick(present, key=v.sort_key) if present else None

        return column, extreme, arg_type

    def total(rows: list[Row]) -> Any:
        numbers = [x for x in (v.to_float(arg(r)) for r in rows) if x is not None]
        if name == "avg":
            return sum(numbers) / len(numbers) if numbers else None
        result = sum(numbers)
        return int(result) if arg_type == "integer" else result

    return (
        column,
        total,
        ("number" if name == "avg" else arg_type if arg_type in ("integer", "number") else "number"),
    )


def _group_key(value: Any) -> Any:
    return v.to_text(value) if isinstance(value, dict | list) else (type(value).__name__, value)


def _summarize(op: Summarize, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    compiler = Compiler(schema, "summarize", now)
    by = _named(op.by, compiler)
    aggregates = [_aggregate(item, compiler) for item in op.aggregates]
    names = [name for name, _, _ in by] + [name for name, _, _ in aggregates]
    _unique(names, "summarize")
    out = Schema(tuple((n, t) for n, _, t in by) + tuple((n, t) for n, _, t in aggregates))

    def stage(rows: list[Row]) -> list[Row]:
        groups: dict[tuple[Any, ...], tuple[list[Any], list[Row]]] = {}
        for row in rows:
            values = [fn(row) for _, fn, _ in by]
            key = tuple(_group_key(x) for x in values)
            groups.setdefault(key, (values, []))[1].append(row)
        if not by and not groups:
            groups[()] = ([], [])  # a summarize without "by" always answers one row
        result = []
        for values, members in groups.values():
            new = {name: value for (name, _, _), value in zip(by, values, strict=True)}
            for name, fn, _ in aggregates:
                new[name] = fn(members)
            result.append(new)
        return result

    return out, stage


def _distinct(op: Distinct, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    return _summarize(Summarize((), op.items), schema, now)


def _count(op: Count, schema: Schema, now: datetime) -> tuple[Schema, Stage]:
    return Schema((("Count", "integer"),)), lambda rows: [{"Count": len(rows)}]


_COMPILERS: dict[type, Callable[[Any, Schema, datetime], tuple[Schema, Stage]]] = {
    Where: _where,
    Project: _project,
    ProjectAway: _project_away,
    Extend: _extend,
    MvExpand: _mv_expand,
    OrderBy: _order_by,
    Top: _top,
    Take: _take,
    Summarize: _summarize,
    Distinct: _distinct,
    Count: _count,
}


def compile_query(query: Query, source: Schema, *, now: datetime) -> CompiledQuery:
    """Check every operator against the schema it receives, and build the stages."""
    schema = source
    stages: list[Stage] = []
    for op in query.operators:
        schema, stage = _COMPILERS[type(op)](op, schema, now)
        stages.append(stage)
    pageable = not any(isinstance(op, Take) for op in query.operators)
    return CompiledQuery(query.table, schema, tuple(stages), pageable)


def compile_operator(op: Operator, schema: Schema, *, now: datetime) -> tuple[Schema, Stage]:
    """One operator on its own: facets reuse the engine for their filter and grouping."""
    return _COMPILERS[type(op)](op, schema, now)
