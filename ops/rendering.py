"""Output for people and machines: rich tables by default, JSON or YAML with ``-o``.

Tables are for people, so they must stay readable in an 80-column terminal: a header
is never cut, a value without spaces (a name, a state, a time, a digest) never wraps,
and text (a reason) keeps enough width to read as a sentence. When the columns cannot
fit that way, each row is printed as a block of ``column: value`` lines instead. Lines
of prose (``print_text``) wrap at words. Sizes are printed
in KiB, MiB and GiB; JSON and YAML keep the raw numbers.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # rich is imported where a table is printed: services format sizes too
    from rich.console import Console

TEXT_MIN = 16  # the narrowest a text column (a reason) may get before rows become blocks


def print_json(value: Any) -> None:
    """Machine output goes to stdout untouched by rich's wrapping."""
    print(json.dumps(value, indent=2, default=str))


def print_yaml(value: Any) -> None:
    """The same document as ``print_json``, as YAML (block style, keys in their order)."""
    import yaml

    print(
        yaml.safe_dump(json.loads(json.dumps(value, default=str)), sort_keys=False, allow_unicode=True),
        end="",
    )


def console() -> Console:
    """A console on today's stdout, as wide as the terminal (``COLUMNS``, else 80 when not a
    terminal): made per call, so that a redirected stdout or a new ``COLUMNS`` is honoured."""
    from rich.console import Console

    return Console(highlight=False)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """Rows as a table that fits the terminal, or as blocks of ``column: value`` lines."""
    out = console()
    cells = [[format_cell(row.get(c)) for c in columns] for row in rows]
    natural = [max([len(c), *(len(line) for r in cells for line in r[i].splitlines() or [""])])
               for i, c in enumerate(columns)]  # fmt: skip
    text = [any(" " in r[i].strip() for r in cells) for i in range(len(columns))]
    minimum = [
        max(len(c), min(n, TEXT_MIN)) if is_text else n
        for c, n, is_text in zip(columns, natural, text, strict=True)
    ]
    overhead = 3 * len(columns) + 1  # borders and one space of padding either side
    if sum(minimum) + overhead > out.width:
        _print_blocks(out, title, columns, cells)
        return
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column, width, least, is_text in zip(columns, natural, minimum, text, strict=True):
        if is_text:
            table.add_column(column, min_width=least, ratio=1)
        else:
            table.add_column(column, no_wrap=True, min_width=width)
    for row in cells:
        table.add_row(*row)
    out.print(table, markup=False)


def _print_blocks(out: Console, title: str, columns: Sequence[str], cells: list[list[str]]) -> None:
    """One block per row: its first value as a heading, then an indented line per column."""
    width = max(out.width, 40)
    label = max(len(c) for c in columns[1:]) if len(columns) > 1 else 0
    lines = [title, ""] if cells else [title, "(none)"]
    for row in cells:
        lines.extend(textwrap.wrap(f"{columns[0]}: {row[0]}", width=width, subsequent_indent="    "))
        for column, value in zip(columns[1:], row[1:], strict=True):
            if not value:
                continue
            first = f"  {column + ':':<{label + 1}} "
            wrapped = textwrap.wrap(
                value.replace("\n", " "),
                width=width,
                initial_indent=first,
                subsequent_indent=" " * len(first),
            )
            lines.extend(wrapped or [first.rstrip()])
        lines.append("")
    out.print("\n".join(lines).rstrip(), markup=False, soft_wrap=True)


def print_text(line: str) -> None:
    """A line of prose for people, wrapped at words to the terminal's width."""
    console().print(line, markup=False, overflow="fold")


def format_cell(value: Any) -> str:
    """A value as a person reads it: empty for nothing, ``a, b`` for a list, ``k=v, …``
    for a mapping, never a Python or JSON literal."""
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return format_counts(value)
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(format_cell(v) for v in value)
    return str(value)


def format_counts(values: Mapping[str, Any]) -> str:
    """``{"applied": 2, "failed": 1}`` → ``applied 2, failed 1``; ``{}`` → ``none``."""
    if not values:
        return "none"
    return ", ".join(f"{k} {format_cell(v)}" for k, v in values.items())


def format_bytes(size: float | None) -> str:
    """Bytes in binary units, with three significant figures where it matters:
    ``512 B``, ``1.5 KiB``, ``503.8 GiB``. Unknown (None) is ``?``."""
    if size is None:
        return "?"
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, unit = float(size), 0
    while abs(value) >= 1024 and unit < len(units) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.0f} B" if unit == 0 else f"{value:,.1f} {units[unit]}"
