"""A recursive-descent parser for the KQL subset Resource Graph queries use.

Syntax errors become ``ParserFailure`` details with the offending token and its
position, as Resource Graph reports them. Operators that KQL has but the sandbox does
not implement (``join``, ``union``, ``parse``, ...) are named in an
``UnsupportedOperator`` detail rather than mis-parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sandbox.graph.errors import QueryError, parser_failure, unsupported_operator
from sandbox.graph.expressions import UNSUPPORTED_FUNCTIONS, unsupported_function
from sandbox.graph.lexing import Token, tokenize
from sandbox.graph.syntax import (
    Assignment,
    Binary,
    Call,
    ColumnRef,
    Count,
    Distinct,
    Expr,
    Extend,
    InList,
    Literal,
    Member,
    MvExpand,
    Negate,
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

_Item = TypeVar("_Item")

# Tabular operators of KQL that the subset leaves out: refused by name.
_KNOWN_UNSUPPORTED = frozenset(
    {
        "join",
        "union",
        "lookup",
        "parse",
        "parse-where",
        "parse-kv",
        "mv-apply",
        "make-series",
        "project-rename",
        "project-keep",
        "project-reorder",
        "as",
        "evaluate",
        "render",
        "sample",
        "sample-distinct",
        "search",
        "serialize",
        "getschema",
        "invoke",
        "facet",
        "fork",
        "partition",
        "scan",
        "top-nested",
        "top-hitters",
        "range",
        "print",
        "find",
        "externaldata",
        "let",
        "datatable",
        "consume",
        "reduce",
        "extend-schema",
        "mvexpand",
    }
)
_STRING_OPERATORS = frozenset(
    {
        "==",
        "!=",
        "=~",
        "!~",
        "<",
        ">",
        "<=",
        ">=",
        "has",
        "!has",
        "contains",
        "!contains",
        "startswith",
        "!startswith",
        "endswith",
        "!endswith",
        "has_cs",
        "!has_cs",
        "contains_cs",
        "!contains_cs",
        "startswith_cs",
        "!startswith_cs",
        "endswith_cs",
        "!endswith_cs",
        "hasprefix",
        "!hasprefix",
        "hassuffix",
        "!hassuffix",
        "matches",
    }
)
_IN_OPERATORS = frozenset({"in", "!in", "in~", "!in~"})
# Operator words that cannot name a column either (``count`` can: it is also a function).
_TABULAR_OPERATORS = frozenset(
    {
        "where",
        "filter",
        "project",
        "project-away",
        "extend",
        "mv-expand",
        "order",
        "sort",
        "top",
        "limit",
        "take",
        "summarize",
        "distinct",
    }
)
# Words that cannot name a column: "where where" is a syntax error, not a column lookup.
_RESERVED = _TABULAR_OPERATORS | {"and", "or", "by", "asc", "desc", "nulls"}
_FIRST_OPERATORS = _TABULAR_OPERATORS | {"count"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0

    # -- token helpers -------------------------------------------------------------
    @property
    def token(self) -> Token:
        return self.tokens[self.pos]

    def fail(self, expected: str | None = None) -> QueryError:
        tok = self.token
        return parser_failure(tok.text, tok.line, tok.column, expected)

    def at(self, *texts: str) -> bool:
        return self.token.kind in ("ident", "symbol") and self.token.text in texts

    def take(self) -> Token:
        tok = self.token
        if tok.kind != "eof":
            self.pos += 1
        return tok

    def expect(self, text: str) -> Token:
        if not self.at(text):
            raise self.fail(text)
        return self.take()

    def expect_ident(self) -> Token:
        if self.token.kind != "ident":
            raise self.fail("identifier")
        return self.take()

    def separated(self, parse: Callable[[], _Item]) -> tuple[_Item, ...]:
        """One or more of what ``parse`` reads, comma-separated."""
        items = [parse()]
        while self.at(","):
            self.take()
            items.append(parse())
        return tuple(items)

    def expect_int(self) -> int:
        if self.token.kind != "number" or not isinstance(self.token.value, int):
            raise self.fail("integer")
        return int(self.take().value)  # type: ignore[call-overload]

    # -- query and operators ---------------------------------------------------------
    def query(self) -> Query:
        first = self.token
        if first.kind == "ident" and first.text in _KNOWN_UNSUPPORTED:
            raise unsupported_operator(first.text)
        if first.kind == "ident" and first.text in _FIRST_OPERATORS:
            table = "resources"  # Resource Graph runs a query without a table over Resources
        else:
            table = self.expect_ident().text
            if self.token.kind == "eof":
                return Query(table, ())
            self.expect("|")
        operators = [self.operator()]
        while self.token.kind != "eof":
            self.expect("|")
            operators.append(self.operator())
        return Query(table, tuple(operators))

    def operator(self) -> Operator:
        word = self.expect_ident()
        name = word.text
        if name in ("where", "filter"):
            return Where(self.expression())
        if name == "project":
            return Project(self.assignments())
        if name == "project-away":
            return ProjectAway(self.names())
        if name == "extend":
            return Extend(self.assignments())
        if name == "mv-expand":
            return self.mv_expand()
        if name in ("order", "sort"):
            self.expect("by")
            return OrderBy(self.separated(self.sort_key))
        if name == "top":
            count = self.expect_int()
            self.expect("by")
            return Top(count, self.sort_key())
        if name in ("limit", "take"):
            return Take(self.expect_int())
        if name == "summarize":
            return self.summarize()
        if name == "distinct":
            return Distinct(self.assignments())
        if name == "count":
            return Count()
        if name in _KNOWN_UNSUPPORTED:
            raise unsupported_operator(name)
        self.pos -= 1
        raise self.fail()

    def names(self) -> tuple[str, ...]:
        """Column names or wildcard patterns (``p*``), comma-separated."""
        return self.separated(self.name_pattern)

    def name_pattern(self) -> str:
        parts: list[str] = []
        while self.token.kind == "ident" or self.at("*"):
            parts.append(self.take().text)
        if not parts:
            raise self.fail("identifier")
        return "".join(parts)

    def assignment(self) -> Assignment:
        if (
            self.token.kind == "ident"
            and self.tokens[self.pos + 1].text == "="
            and self.tokens[self.pos + 1].kind == "symbol"
        ):
            name = self.take().text
            self.take()
            return Assignment(name, self.expression())
        return Assignment(None, self.expression())

    def assignments(self) -> tuple[Assignment, ...]:
        return self.separated(self.assignment)

    def mv_expand(self) -> MvExpand:
        following = self.tokens[self.pos + 1]
        if (
            self.at("kind", "with_itemindex", "bagexpansion")
            and following.text == "="
            and (self.token.text != "kind" or self.tokens[self.pos + 2].text in ("bag", "array"))
        ):
            raise unsupported_operator(f"mv-expand {self.token.text}=")
        items = self.separated(self.mv_expand_item)
        limit = None
        if self.at("limit"):
            self.take()
            limit = self.expect_int()
        return MvExpand(items, limit)

    def mv_expand_item(self) -> Assignment:
        """An expanded column, with an optional ``to typeof(t)`` (read, not applied)."""
        item = self.assignment()
        if self.at("to"):
            self.take()
            self.expect("typeof")
            self.expect("(")
            self.expect_ident()
            self.expect(")")
        return item

    def sort_key(self) -> SortKey:
        expr = self.expression()
        descending = True  # KQL sorts descending unless told otherwise
        if self.at("asc", "desc"):
            descending = self.take().text == "desc"
        nulls_first = not descending
        if self.at("nulls"):
            self.take()
            if not self.at("first", "last"):
                raise self.fail("first")
            nulls_first = self.take().text == "first"
        return SortKey(expr, descending, nulls_first)

    def summarize(self) -> Summarize:
        aggregates: list[Assignment] = []
        if not self.at("by"):
            aggregates = list(self.assignments())
        by: tuple[Assignment, ...] = ()
        if self.at("by"):
            self.take()
            by = self.assignments()
        if not aggregates and not by:
            raise self.fail("by")
        return Summarize(tuple(aggregates), by)

    # -- expressions ------------------------------------------------------------------
    def expression(self) -> Expr:
        return self.or_expr()

    def binary_chain(self, operand: Callable[[], Expr], *ops: str) -> Expr:
        """``operand (op operand)*`` for one precedence level, grouped to the left."""
        left = operand()
        while self.at(*ops):
            op = self.take().text
            left = Binary(op, left, operand())
        return left

    def or_expr(self) -> Expr:
        return self.binary_chain(self.and_expr, "or")

    def and_expr(self) -> Expr:
        return self.binary_chain(self.comparison, "and")

    def comparison(self) -> Expr:
        left = self.additive()
        if self.token.kind in ("ident", "symbol") and self.token.text in _IN_OPERATORS:
            op = self.take().text
            self.expect("(")
            items = self.separated(self.expression)
            self.expect(")")
            return InList(op, left, items)
        if self.token.kind in ("ident", "symbol") and self.token.text in _STRING_OPERATORS:
            op = self.take().text
            if op == "matches":
                self.expect("regex")
            return Binary(op, left, self.additive())
        if self.token.kind == "ident" and self.token.text in ("between", "!between", "has_any", "has_all"):
            raise unsupported_operator(self.token.text)
        return left

    def additive(self) -> Expr:
        return self.binary_chain(self.multiplicative, "+", "-")

    def multiplicative(self) -> Expr:
        return self.binary_chain(self.unary, "*", "/", "%")

    def unary(self) -> Expr:
        if self.at("-"):
            self.take()
            return Negate(self.unary())
        return self.postfix()

    def postfix(self) -> Expr:
        expr = self.primary()
        while True:
            if self.at("."):
                self.take()
                expr = Member(expr, self.expect_ident().text)
            elif self.at("["):
                self.take()
                tok = self.take()
                if tok.kind == "string":
                    expr = Member(expr, str(tok.value))
                elif tok.kind == "number" and isinstance(tok.value, int):
                    expr = Member(expr, tok.value)
                elif tok.kind == "symbol" and tok.text == "-" and self.token.kind == "number":
                    expr = Member(expr, -int(self.take().value))  # type: ignore[call-overload]
                else:
                    self.pos -= 1
                    raise self.fail("string or integer index")
                self.expect("]")
            else:
                return expr

    def primary(self) -> Expr:
        tok = self.token
        if tok.kind == "string":
            self.take()
            return Literal(tok.value, "string")
        if tok.kind == "number":
            self.take()
            return Literal(tok.value, "integer" if isinstance(tok.value, int) else "number")
        if tok.kind == "timespan":
            self.take()
            return Literal(tok.value, "timespan")
        if tok.kind == "symbol" and tok.text == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        if tok.kind == "ident":
            self.take()
            if tok.text in ("true", "false"):
                return Literal(tok.text == "true", "boolean")
            if self.at("("):
                if tok.text in UNSUPPORTED_FUNCTIONS:
                    raise unsupported_function(tok.text)  # before its arguments (arg_max(x, *))
                self.take()
                args: tuple[Expr, ...] = () if self.at(")") else self.separated(self.expression)
                self.expect(")")
                return Call(tok.text, args, tok.line, tok.column)
            if tok.text in _RESERVED or tok.text.startswith("!") or tok.text == "in~":
                self.pos -= 1
                raise self.fail()
            return ColumnRef(tok.text, tok.line, tok.column)
        raise self.fail()


def parse_query(text: str) -> Query:
    """The syntax tree of ``text``, or QueryError(400) naming what is wrong."""
    if not text or not text.strip():
        raise parser_failure("<EOF>", 1, 0)
    return _Parser(text).query()
