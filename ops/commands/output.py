"""What every command shares: the output format (``-o`` on ``ops`` itself or on the
command), how a document is printed for machines, and how an error ends a command.

Exit codes, the same for every command::

    0  done: the plan was printed, or applied
    1  failed: an action or a call to Azure failed, or an endpoint could not be reached
    2  usage or configuration: a bad option, an invalid policy, settings or input
    3  refused: a guard, a cap or a changed plan stopped it; nothing was applied
    4  the gate says no: ``ops gate check`` found the image denied or pending

Errors are printed as what went wrong and, where it helps, what to check: never as an
exception's class name. With ``-o json`` or ``-o yaml`` the error is a document too
(``{"error": message, "kind", "exitCode", "check", "details"}``), on stdout, so that a script
reads one document whatever happened.

It lives apart from ``ops.cli`` so that the command modules can name it in their
signatures at import time without importing ``ops.cli`` (which imports them).
"""

from __future__ import annotations

import sys
from enum import IntEnum, StrEnum
from typing import Annotated, Any, NoReturn

import typer


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    GATE_NO = 4


class _State:
    output: Output = Output.table


OutputOpt = Annotated[Output | None, typer.Option("--output", "-o", help="table, json or yaml")]


def _output(local: Output | None) -> Output:
    return local or _State.output


def emit(document: Any, output: Output | None) -> bool:
    """Print ``document`` as JSON or YAML when that output was asked for, and say so; the
    caller prints its table otherwise."""
    from ops.rendering import print_json, print_yaml

    chosen = _output(output)
    if chosen is Output.json:
        print_json(document)
    elif chosen is Output.yaml:
        print_yaml(document)
    else:
        return False
    return True


def print_document(document: Any, output: Output | None = None) -> None:
    """For commands whose only output is a document: YAML with ``-o yaml``, else JSON."""
    if not emit(document, output):
        from ops.rendering import print_json

        print_json(document)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code an error ends a command with (the table in this module's docstring)."""
    from ops.errors import CapExceeded, ConfigError, InvalidInput, PlanChanged, Refused

    if isinstance(error, ConfigError | InvalidInput):
        return ExitCode.USAGE
    if isinstance(error, Refused | CapExceeded | PlanChanged):
        return ExitCode.REFUSED
    return ExitCode.FAILED


_KINDS = {ExitCode.USAGE: "invalid", ExitCode.REFUSED: "refused", ExitCode.FAILED: "failed"}


def error_document(error: BaseException) -> dict[str, Any]:
    """The error as the machine-readable document ``fail`` prints for ``-o json|yaml``."""
    from ops.errors import NoCredential, Unreachable

    code = exit_code_for(error)
    kind = _KINDS[code]
    if isinstance(error, Unreachable):
        kind = "unreachable"
    elif isinstance(error, NoCredential):
        kind = "credential"
    body: dict[str, Any] = {
        "error": str(error) or "failed",
        "kind": kind,
        "exitCode": int(code),
    }
    hint = check_hint(error)
    if hint:
        body["check"] = hint
    extensions = getattr(error, "extensions", None)
    if extensions:
        body["details"] = extensions
    return body


def check_hint(error: BaseException) -> str | None:
    """What to check, for an error whose message alone does not say how to fix it."""
    from ops.errors import NoCredential, Unreachable

    if isinstance(error, Unreachable | NoCredential):
        return (
            "that the endpoint is right (IDENTITY_ENDPOINT for the managed identity, "
            "OPS_ARM_ENDPOINT for ARM) and running; for the local sandbox, that "
            "`ops sandbox serve --env-file .sandbox.env` is running and this command has "
            "`--env-file .sandbox.env`; against Azure, that `az login` has been run"
        )
    return None


def fail(error: BaseException, output: Output | None = None) -> NoReturn:
    """End the command for ``error``: its message (and what to check) on stderr, or its
    document on stdout with ``-o json|yaml``, and its exit code."""
    document = error_document(error)
    if not emit(document, output):
        print(f"error: {document['error']}", file=sys.stderr)
        if "check" in document:
            print(f"check: {document['check']}", file=sys.stderr)
    raise typer.Exit(int(exit_code_for(error)))
