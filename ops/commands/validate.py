"""``ops validate FILE…``: check policies and estate files offline, as a CI step or a
pre-commit hook would, with every problem's file, line, column and field path.

Exit codes: 0 when every file is valid, 2 when any is not (a configuration error, as
everywhere in the CLI).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def validate(
    files: Annotated[list[Path], typer.Argument(help="policy or estate files (YAML or JSON)")],
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="table or json (default: the global -o)")
    ] = None,
) -> None:
    """Validate policy and estate files, detecting each one's kind."""
    from ops.cli import Output, _output
    from ops.rendering import print_json
    from ops.validation import validate_file

    reports = [validate_file(path) for path in files]
    if _output(Output(output) if output else None) is Output.json:
        print_json([r.as_dict() for r in reports])
    else:
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
