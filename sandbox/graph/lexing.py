"""Tokens of the KQL subset, with line and column for ParserFailure details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sandbox.graph.errors import parser_failure

# KQL operator names written with a hyphen; any other hyphen is a minus sign.
_HYPHENATED = frozenset(
    {
        "mv-expand",
        "mv-apply",
        "project-away",
        "project-rename",
        "project-keep",
        "project-reorder",
        "make-series",
        "parse-where",
        "parse-kv",
        "top-nested",
        "top-hitters",
        "sample-distinct",
    }
)
# Words that take a "!" prefix (negation) or a "~" suffix (case-insensitive).
_NEGATABLE = frozenset(
    {
        "in",
        "has",
        "contains",
        "startswith",
        "endswith",
        "has_cs",
        "contains_cs",
        "startswith_cs",
        "endswith_cs",
        "hasprefix",
        "hassuffix",
        "between",
    }
)
_SYMBOLS = (
    "==",
    "!=",
    "=~",
    "!~",
    "<=",
    ">=",
    "<",
    ">",
    "=",
    "(",
    ")",
    ",",
    ".",
    "|",
    "[",
    "]",
    "+",
    "-",
    "*",
    "/",
    "%",
    ":",
    ";",
    "{",
    "}",
)
_TIMESPAN_UNITS = {
    "ms": timedelta(milliseconds=1),
    "s": timedelta(seconds=1),
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "ident", "string", "number", "timespan", "symbol", "eof"
    text: str  # source text (for idents and symbols, the normalized word)
    value: object
    line: int
    column: int


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def peek(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.text[at] if at < len(self.text) else ""

    def advance(self, count: int = 1) -> None:
        for _ in range(count):
            if self.peek() == "\n":
                self.line += 1
                self.line_start = self.pos + 1
            self.pos += 1

    @property
    def column(self) -> int:
        return self.pos - self.line_start


def _word(scanner: _Scanner) -> str:
    start = scanner.pos
    while scanner.peek().isalnum() or scanner.peek() == "_":
        scanner.advance()
    word = scanner.text[start : scanner.pos]
    if scanner.peek() == "-" and scanner.peek(1).isalpha():
        rest_start = scanner.pos + 1
        end = rest_start
        while end < len(scanner.text) and (scanner.text[end].isalnum() or scanner.text[end] == "_"):
            end += 1
        joined = f"{word}-{scanner.text[rest_start:end]}"
        if joined in _HYPHENATED:
            scanner.advance(end - scanner.pos)
            return joined
    return word


def _string(scanner: _Scanner, verbatim: bool) -> str:
    quote = scanner.peek()
    line, column = scanner.line, scanner.column
    scanner.advance()
    out: list[str] = []
    while True:
        ch = scanner.peek()
        if ch == "" or ch == "\n":
            raise parser_failure("<EOF>" if ch == "" else "\\n", line, column, quote)
        scanner.advance()
        if ch == quote:
            return "".join(out)
        if ch == "\\" and not verbatim:
            escaped = scanner.peek()
            scanner.advance()
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(escaped, escaped))
        else:
            out.append(ch)


def tokenize(text: str) -> list[Token]:
    scanner = _Scanner(text)
    tokens: list[Token] = []
    while True:
        ch = scanner.peek()
        if ch == "":
            tokens.append(Token("eof", "<EOF>", None, scanner.line, scanner.column))
            return tokens
        if ch.isspace():
            scanner.advance()
            continue
        if ch == "/" and scanner.peek(1) == "/":
            while scanner.peek() not in ("", "\n"):
                scanner.advance()
            continue
        line, column = scanner.line, scanner.column
        if ch in "'\"":
            tokens.append(Token("string", text[scanner.pos], _string(scanner, False), line, column))
        elif ch == "@" and scanner.peek(1) in "'\"" and scanner.peek(1):
            scanner.advance()
            tokens.append(Token("string", "@", _string(scanner, True), line, column))
        elif ch.isdigit():
            start = scanner.pos
            while scanner.peek().isdigit():
                scanner.advance()
            if scanner.peek() == "." and scanner.peek(1).isdigit():
                scanner.advance()
                while scanner.peek().isdigit():
                    scanner.advance()
            number_text = text[start : scanner.pos]
            unit_start = scanner.pos
            while scanner.peek().isalpha():
                scanner.advance()
            unit = text[unit_start : scanner.pos]
            if unit:
                if unit not in _TIMESPAN_UNITS:
                    raise parser_failure(text[start : scanner.pos], line, column)
                span = _TIMESPAN_UNITS[unit] * float(number_text)
                tokens.append(Token("timespan", text[start : scanner.pos], span, line, column))
            else:
                value: object = float(number_text) if "." in number_text else int(number_text)
                tokens.append(Token("number", number_text, value, line, column))
        elif ch.isalpha() or ch == "_":
            word = _word(scanner)
            if word in ("in",) and scanner.peek() == "~":
                scanner.advance()
                word = "in~"
            tokens.append(Token("ident", word, word, line, column))
        elif ch == "!" and scanner.peek(1).isalpha():
            scanner.advance()
            word = _word(scanner)
            if word not in _NEGATABLE:
                raise parser_failure(f"!{word}", line, column)
            if word == "in" and scanner.peek() == "~":
                scanner.advance()
                word = "in~"
            tokens.append(Token("ident", f"!{word}", f"!{word}", line, column))
        else:
            symbol = next((s for s in _SYMBOLS if text.startswith(s, scanner.pos)), None)
            if symbol is None:
                raise parser_failure(ch, line, column)
            scanner.advance(len(symbol))
            tokens.append(Token("symbol", symbol, symbol, line, column))
