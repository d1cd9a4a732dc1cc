"""``ops validate FILE…``: check policies and estate files offline, as a CI step or a
pre-commit hook would, with every problem's file, line, column and field path.

Exit codes: 0 when every file is valid, 2 when any is not (a configuration error, as
everywhere in the CLI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ops.commands.output import OutputOpt, emit


def validate(
    files: Annotated[list[Path], typer.Argument(help="policy or estate files (YAML or JSON)")],
    output: OutputOpt = None,
) -> None:
    """Validate policy and estate files, detecting each one's kind."""
    from ops.validation import validate_file

    reports = [validate_file(path) for path in files]
    if not emit([r.as_dict() for r in reports], output):
        for report in reports:
            if report.valid:
                typer.echo(f"{report.file}: ok ({report.kind})")
                continue
            for problem in report.problems:
                typer.echo(
                    f"{report.file}:{problem.line}:{problem.column}: {problem.path}: {problem.message}"
                )
        bad = sum(not r.valid for r in reports)
        typer.echo(f"{len(reports) - bad} valid, {bad} invalid", err=True)
    if any(not r.valid for r in reports):
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
