"""The ops command: the same services the Functions app runs, from a terminal.

Every capability command prints a plan and changes nothing unless --apply is given.
'ops demo' runs the whole product against the sandbox; 'ops invoke' calls a function as
the Functions host would. Exit codes: 0 done, 1 failed, 2 usage or configuration error,
3 refused by a guard or cap, 4 the gate denies or holds the image.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ops.commands.output import Output, OutputOpt, _State, emit, fail, print_document

app = typer.Typer(no_args_is_help=True, help=__doc__, rich_markup_mode="markdown")
sandbox_app = typer.Typer(no_args_is_help=True, help="Run and inspect the local emulated Azure estate.")
app.add_typer(sandbox_app, name="sandbox")


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            print(f"ops {version('acr-aks-ops')}")
        except PackageNotFoundError:  # run from a source tree that was never installed
            print("ops (not installed)")
        raise typer.Exit()


@app.callback()
def configure(
    ctx: typer.Context,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="dotenv file loaded on top of the environment")
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table, json or yaml")] = Output.table,
    trace: Annotated[
        bool, typer.Option("--trace", help="print a span for the command and each Azure call, on stderr")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="print the version and exit"),
    ] = False,
) -> None:
    """Load settings from a dotenv file, on top of the environment."""
    _State.output = output
    if env_file is not None:
        load_env_file(env_file)
    configure_logging(os.environ)
    trace_command(ctx, console=trace)


class _CliLogHandler(logging.StreamHandler):
    """The CLI's own handler on the ``ops`` logger: one, writing to whatever stderr is now."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(env: Mapping[str, str]) -> None:
    """The app's log records on stderr at ``OPS_LOG_LEVEL`` (WARNING when it is not set, so
    that plans and tables are not drowned), the same records the Functions host collects."""
    name = (env.get("OPS_LOG_LEVEL") or "WARNING").strip().upper()
    level = logging.getLevelNamesMapping().get(name, logging.WARNING)
    logger = logging.getLogger("ops")
    for handler in [h for h in logger.handlers if isinstance(h, _CliLogHandler)]:
        logger.removeHandler(handler)
    handler = _CliLogHandler()
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > level:  # let the records through; never hold others back
        logger.setLevel(level)
    # DefaultAzureCredential logs its whole chain (some twenty lines) as a warning; with no
    # handler of its own it would reach stderr through logging's last resort. The error the
    # command prints says the same in one line; OPS_LOG_LEVEL=DEBUG shows the chain.
    identity = logging.getLogger("azure.identity")
    identity.handlers = [h for h in identity.handlers if not isinstance(h, _CliLogHandler)]
    if level <= logging.DEBUG:
        identity.addHandler(handler)
    elif not any(isinstance(h, logging.NullHandler) for h in identity.handlers):
        identity.addHandler(logging.NullHandler())


def trace_command(ctx: typer.Context, *, console: bool) -> None:
    """Run the command as one invocation, whose span (with ``--trace`` or ``OPS_TRACE``, or
    with Application Insights configured) is the parent of every call it makes."""
    from ops.adapters.telemetry import configure_telemetry
    from ops.telemetry import invocation

    configure_telemetry(os.environ, console=console)
    command = ctx.invoked_subcommand or "ops"
    capability = command if command in {"purge", "gate", "schedule", "remediate", "failover"} else "cli"
    ctx.with_resource(invocation(f"ops {command}", capability=capability))


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
    from ops.errors import InvalidInput

    try:
        result = invoke_function(function_app.app, name, body)
    except KeyError as exc:
        print_document({"function": name, "error": str(exc.args[0])})
        raise typer.Exit(2) from exc
    except InvalidInput as exc:  # a payload the host could never deliver: no function ran
        print_document({"function": name, "error": f"payload: {exc}"})
        raise typer.Exit(2) from exc
    except Exception as exc:
        from ops.commands.output import exit_code_for

        print_document({"function": name, "error": str(exc) or type(exc).__name__})
        raise typer.Exit(int(exit_code_for(exc))) from exc
    print_document(result.to_dict())


def _read_payload(source: str | None) -> Any:
    """The payload as JSON where it is plain, bounded JSON, else as the bytes it is (a queue
    message or an HTTP body is delivered as bytes either way, and the function judges it)."""
    from ops.errors import InvalidInput
    from ops.payloads import load_json
    from ops.triggers.invoking import MAX_PAYLOAD

    if source is None:
        return None
    raw = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    try:
        return load_json(raw, limit=MAX_PAYLOAD)
    except InvalidInput:
        return raw


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
    """Run the sandbox in the foreground; writes the env file when ready, then says where."""
    from sandbox.cli import serve

    serve(estate, env_file, on_ready=lambda server: print(sandbox_ready(server, env_file), flush=True))


def sandbox_ready(server: Any, env_file: Path) -> str:
    """The lines ``ops sandbox serve`` prints once the sandbox answers and its env file is
    written: where it listens, the env file, how to use it and how to stop it."""
    return (
        f"sandbox ready: ARM at {server.arm_endpoint}, managed identity at {server.identity_endpoint}\n"
        f"env file: {env_file} (use it with: ops --env-file {env_file} schedule)\n"
        "stop with Ctrl-C (the env file is removed)"
    )


@sandbox_app.command("state")
def sandbox_state(
    output: OutputOpt = None,
) -> None:
    """Print the running sandbox's state, in the estate file format."""
    import yaml

    from sandbox.cli import state

    current = state(os.environ)
    if not emit(current, output):
        print(yaml.safe_dump(current, sort_keys=False))


def _fail(exc: Exception, output: Output | None) -> NoReturn:
    """``ops.commands.output.fail``, by the name the command modules import."""
    fail(exc, output)


@sandbox_app.command("events")
def sandbox_events() -> None:
    """Print the Event Grid events the running sandbox recorded, ready for ``ops invoke``."""
    from sandbox.cli import events

    print_document(events(os.environ))


@sandbox_app.command("push")
def sandbox_push(
    registry: Annotated[str, typer.Argument(help="registry name, e.g. contosoprod")],
    reference: Annotated[str, typer.Argument(help="REPOSITORY:TAG, or REPOSITORY for an untagged artifact")],
    subject: Annotated[
        str | None, typer.Option(help="digest this artifact refers to (signature, SBOM)")
    ] = None,
    artifact_type: Annotated[str | None, typer.Option(help="OCI artifactType of the pushed manifest")] = None,
) -> None:
    """Push an image or artifact to the running sandbox; it records ACR's ImagePushed event."""
    from sandbox.pushcli import push_to_sandbox

    repository, _, tag = reference.partition(":")
    print_document(
        push_to_sandbox(
            os.environ,
            registry=registry,
            repository=repository,
            tag=tag or None,
            subject=subject,
            artifact_type=artifact_type,
        )
    )


def main() -> None:
    app()


def _register_commands() -> None:
    from ops.commands import audit, failover, gate, http, purge, remediate, runbooks, schedule, validate

    http.register(app, sandbox_app)
    runbooks.register(app, sandbox_app)
    failover.register(app)
    remediate.register(app, sandbox_app)
    validate.register(app)
    audit.register(app)
    schedule.register(app)
    purge.register(app)
    gate.register(app)


_register_commands()
