"""The syntax tree of a query: scalar expressions and tabular operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    value: Any
    type: str  # "string", "integer", "number", "boolean", "timespan", "object"


@dataclass(frozen=True, slots=True)
class ColumnRef:
    name: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Member:
    target: Expr
    key: str | int  # property name, or array index


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class InList:
    op: str  # "in", "!in", "in~", "!in~"
    left: Expr
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Negate:
    operand: Expr


Expr = Literal | ColumnRef | Member | Call | Binary | InList | Negate


@dataclass(frozen=True, slots=True)
class Assignment:
    """``name = expr``, or a bare ``expr`` whose column name is inferred (name None)."""

    name: str | None
    expr: Expr


@dataclass(frozen=True, slots=True)
class SortKey:
    expr: Expr
    descending: bool
    nulls_first: bool


@dataclass(frozen=True, slots=True)
class Where:
    predicate: Expr


@dataclass(frozen=True, slots=True)
class Project:
    items: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True)
class ProjectAway:
    patterns: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Extend:
    items: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True)
class MvExpand:
    items: tuple[Assignment, ...]
    limit: int | None


@dataclass(frozen=True, slots=True)
class OrderBy:
    keys: tuple[SortKey, ...]


@dataclass(frozen=True, slots=True)
class Top:
    count: int
    key: SortKey


@dataclass(frozen=True, slots=True)
class Take:
    count: int


@dataclass(frozen=True, slots=True)
class Summarize:
    aggregates: tuple[Assignment, ...]
    by: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True)
class Distinct:
    items: tuple[Assignment, ...]


@dataclass(frozen=True, slots=True)
class Count:
    pass


Operator = (
    Where | Project | ProjectAway | Extend | MvExpand | OrderBy | Top | Take | Summarize | Distinct | Count
)


@dataclass(frozen=True, slots=True)
class Query:
    table: str
    operators: tuple[Operator, ...]
