"""The ``ops`` command: the same services the Functions app runs, from a terminal.

Every capability command prints a plan and changes nothing unless ``--apply`` is
given. ``ops demo`` runs the whole product against the sandbox; ``ops invoke``
calls a function as the Functions host would.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from ops.rendering import print_json, print_table

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
sandbox_app = typer.Typer(no_args_is_help=True, help="Run and inspect the local emulated Azure estate.")
app.add_typer(sandbox_app, name="sandbox")


class Output(StrEnum):
    table = "table"
    json = "json"


class _State:
    output: Output = Output.table


OutputOpt = Annotated[Output | None, typer.Option("--output", "-o", help="table or json")]


def _output(local: Output | None) -> Output:
    return local or _State.output


@app.callback()
def configure(
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="dotenv file loaded on top of the environment")
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json")] = Output.table,
) -> None:
    """Load settings from a dotenv file, on top of the environment."""
    _State.output = output
    if env_file is not None:
        load_env_file(env_file)


def load_env_file(path: Path) -> None:
    """Values in the file win over the environment, so a sandbox env file is self-contained."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise typer.BadParameter(f"{path} does not exist", param_hint="--env-file")
    for key, value in dotenv_values(path).items():
        if value is not None:
            os.environ[key] = value
    from ops.services import reset_services

    reset_services()


@app.command()
def invoke(
    name: Annotated[str, typer.Argument(help="function name, e.g. health")],
    payload: Annotated[str | None, typer.Option(help="payload file, or - for stdin")] = None,
) -> None:
    """Invoke a function of function_app by name, as the Functions host would."""
    from ops.triggers.invoking import invoke_function

    body = _read_payload(payload)
    import function_app

    try:
        result = invoke_function(function_app.app, name, body)
    except KeyError as exc:
        print_json({"function": name, "error": str(exc.args[0])})
        raise typer.Exit(2) from exc
    except Exception as exc:
        print_json({"function": name, "error": f"{type(exc).__name__}: {exc}"})
        raise typer.Exit(1) from exc
    print_json(result.to_dict())


def _read_payload(source: str | None) -> Any:
    if source is None:
        return None
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    try:
        return json.loads(text)
    except ValueError:
        return text


@app.command()
def audit(
    capability: Annotated[str | None, typer.Option(help="only this capability")] = None,
    since: Annotated[datetime | None, typer.Option(help="only records at or after this time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    output: OutputOpt = None,
) -> None:
    """Query the audit trail, newest first."""
    from ops.services import get_services

    store = get_services().store()
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    records = store.query_audit(capability=capability, since=since, limit=limit)
    rows = [
        {
            "at": r.at.isoformat(),
            "capability": r.capability,
            "kind": r.kind,
            "target": r.target,
            "status": r.status,
            "reason": r.reason,
        }
        for r in records
    ]
    if _output(output) is Output.json:
        print_json(rows)
    else:
        print_table("audit trail", ["at", "capability", "kind", "target", "status", "reason"], rows)


@app.command()
def demo(
    estate: Annotated[Path | None, typer.Option(help="estate file (default: the bundled demo)")] = None,
) -> None:
    """Start the sandbox with the demo estate and run every capability through the real functions."""
    from ops.demo import run_demo

    raise typer.Exit(run_demo(estate))


@sandbox_app.command("serve")
def sandbox_serve(
    estate: Annotated[Path, typer.Option(help="estate YAML file")],
    env_file: Annotated[Path, typer.Option("--env-file", help="where to write the sandbox env file")],
) -> None:
    """Run the sandbox in the foreground; writes the env file when ready."""
    from sandbox.cli import serve

    serve(estate, env_file)


@sandbox_app.command("state")
def sandbox_state(
    output: OutputOpt = None,
) -> None:
    """Print the running sandbox's state, in the estate file format."""
    import yaml

    from sandbox.cli import state

    current = state(os.environ)
    if _output(output) is Output.json:
        print_json(current)
    else:
        print(yaml.safe_dump(current, sort_keys=False))


def main() -> None:
    app()
