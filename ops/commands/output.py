"""The output format every command shares: ``-o`` on ``ops`` itself, or on the command.

It lives apart from ``ops.cli`` so that the command modules can name it in their
signatures at import time without importing ``ops.cli`` (which imports them).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer


class Output(StrEnum):
    table = "table"
    json = "json"


class _State:
    output: Output = Output.table


OutputOpt = Annotated[Output | None, typer.Option("--output", "-o", help="table or json")]


def _output(local: Output | None) -> Output:
    return local or _State.output
