"""The ``ops`` command: the same services the Functions app runs, from a terminal.

Every capability command prints a plan and changes nothing unless ``--apply`` is
given. ``ops demo`` runs the whole product against the sandbox; ``ops invoke``
calls a function as the Functions host would.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

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
    ctx: typer.Context,
    env_file: Annotated[
        Path | None, typer.Option("--env-file", help="dotenv file loaded on top of the environment")
    ] = None,
    output: Annotated[Output, typer.Option("--output", "-o", help="table or json")] = Output.table,
    trace: Annotated[
        bool, typer.Option("--trace", help="print a span for the command and each Azure call, on stderr")
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
        print_json({"function": name, "error": str(exc.args[0])})
        raise typer.Exit(2) from exc
    except InvalidInput as exc:  # a payload the host could never deliver: no function ran
        print_json({"function": name, "error": f"payload: {exc}"})
        raise typer.Exit(2) from exc
    except Exception as exc:
        print_json({"function": name, "error": f"{type(exc).__name__}: {exc}"})
        raise typer.Exit(1) from exc
    print_json(result.to_dict())


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


schedule_app = typer.Typer(help="Non-prod AKS shutdown and startup on schedules (docs/schedule.md).")
app.add_typer(schedule_app, name="schedule")

_SCHEDULE_COLUMNS = ["cluster", "schedule", "timezone", "mode", "desired", "current", "action", "reason",
                     "next change", "node-h saved/wk"]  # fmt: skip


@schedule_app.callback(invoke_without_command=True)
def schedule(
    ctx: typer.Context,
    at: Annotated[
        datetime | None, typer.Option("--at", help="plan as of this time (ISO 8601; without an offset, UTC)")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="run a tick: stop, start and scale for real")
    ] = False,
    output: OutputOpt = None,
) -> None:
    """Every cluster in scope: its schedule, desired and current state, the planned action and why."""
    if ctx.invoked_subcommand is not None:
        return
    from ops.errors import OpsError
    from ops.services import get_services

    if at is not None and apply:
        # Acting on a fictional time would stop or start clusters at the wrong hour.
        raise typer.BadParameter("--at only plans; --apply acts at the real time", param_hint="--at")
    now = None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    try:
        service = get_services().schedule_service(apply=apply)
        if apply:
            result = service.tick(now=now)
            report, body = result.report, result.to_dict()
        else:
            report = service.plan(now=now)
            body = report.to_dict()
    except OpsError as exc:
        _fail(exc, output)
    if _output(output) is Output.json:
        print_json(body)
        return
    if report is None:  # another tick held the lease
        print(body.get("skipped"))
        return
    rows = [
        {**r.to_dict(), "next change": r.next_change, "node-h saved/wk": r.node_hours_saved_per_week,
         "reason": r.error or r.reason}
        for r in sorted(report.rows, key=lambda row: row.cluster)
    ]  # fmt: skip
    print_table(f"schedule at {report.now.isoformat()}", _SCHEDULE_COLUMNS, rows)
    total = sum(r.node_hours_saved_per_week or 0 for r in report.rows)
    mode = f"; outcomes {body['outcomes']}" if apply else "; dry run (--apply to act)"
    print(
        f"{len(report.plan.actions)} action(s); {report.not_in_scope} cluster(s) not in scope; "
        f"about {total:,.0f} node-hours saved per week{mode}"
    )


@schedule_app.command("snooze")
def schedule_snooze(
    cluster: Annotated[str, typer.Argument(help="cluster name (unique in scope) or ARM id")],
    until: Annotated[
        str | None,
        typer.Option("--until", help="ISO 8601 time (cluster's zone if no offset) or duration like 3h"),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove the snooze")] = False,
    output: OutputOpt = None,
) -> None:
    """Keep CLUSTER running until a time (sets its ops-snooze-until tag)."""
    from ops.errors import OpsError
    from ops.services import get_services

    if (until is None) == (not clear):
        raise typer.BadParameter("give --until TIME, or --clear", param_hint="--until")
    try:
        result = get_services().schedule_service().snooze(cluster, until=None if clear else until)
    except OpsError as exc:
        _fail(exc, output)
    if _output(output) is Output.json:
        print_json(result)
    else:
        print(f"{result['cluster']}: ops-snooze-until={result['ops-snooze-until'] or '(cleared)'}")


@app.command()
def purge(
    policy: Annotated[
        Path | None, typer.Option("--policy", help="policy YAML file (default: the OPS_PURGE_POLICY setting)")
    ] = None,
    registry: Annotated[str | None, typer.Option("--registry", help="only this registry")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="delete for real (default: plan only)")] = False,
    output: OutputOpt = None,
) -> None:
    """ACR purge in this process: plan every repository in scope; --apply deletes (docs/purge.md)."""
    from ops.errors import OpsError

    if policy is not None and not policy.is_file():
        raise typer.BadParameter(f"{policy} does not exist", param_hint="--policy")
    try:
        document, rows = _run_purge(policy, registry, apply)
    except OpsError as exc:
        _fail(exc, output)
    summary = document["summary"]
    if "interrupted" in document:
        # stderr, so that --output json stays one document; the exit code says it too.
        print(document["interrupted"], file=sys.stderr)
    if _output(output) is Output.json:
        print_json(document)
        raise typer.Exit(1 if "interrupted" in document else 0)
    print_table(f"purge {document['run']}", _PURGE_COLUMNS, rows)
    for note in document["notes"]:
        print(f"note: {note}")
    verb = "deleted" if apply else "would delete"
    reasons = ", ".join(f"{k} {v}" for k, v in summary["protected_by_reason"].items()) or "none"
    print(
        f"{verb} {summary['manifests_deleted']} manifest(s) and {summary['tags_deleted']} tag(s), "
        f"about {summary['bytes_reclaimed'] / 2**20:,.1f} MiB; protected {summary['protected']} ({reasons})"
        + ("" if apply else "; dry run (--apply to delete)")
    )
    if "interrupted" in document:
        raise typer.Exit(1)


_PURGE_COLUMNS = ["registry", "repository", "delete", "tags", "protected", "failed"]


def _run_purge(policy: Path | None, registry: str | None, apply: bool) -> tuple[dict[str, Any], list[Any]]:
    """Run the purge in-process under a progress bar (on stderr, so JSON stays clean)."""
    from rich.console import Console
    from rich.progress import Progress

    from ops.interrupts import stop_on_signals
    from ops.purge.policy import load_policy
    from ops.purge.summary import interrupted_summary, plan_document, repository_rows
    from ops.services import get_services

    loaded = None if policy is None else load_policy(policy.read_text(), origin=str(policy))
    service = get_services().purge_service(apply=apply)
    with (
        stop_on_signals(enabled=apply) as stop,
        Progress(console=Console(stderr=True), transient=True) as bar,
    ):
        tasks: dict[str, Any] = {}

        def report(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        result = service.run_inline(policy=loaded, registry=registry, progress=report, stop=stop.is_set)
    assert result.plan is not None
    document = plan_document(result.plan, result.outcomes, result.summary, result.run)
    if stop.is_set():
        document["interrupted"] = interrupted_summary(result.outcomes)
    return document, repository_rows(result.plan, result.outcomes)


def _fail(exc: Exception, output: Output | None) -> NoReturn:
    if _output(output) is Output.json:
        print_json({"error": f"{type(exc).__name__}: {exc}"})
    else:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    raise typer.Exit(1)


@sandbox_app.command("events")
def sandbox_events() -> None:
    """Print the Event Grid events the running sandbox recorded, ready for ``ops invoke``."""
    from sandbox.cli import events

    print_json(events(os.environ))


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
    print_json(
        push_to_sandbox(
            os.environ,
            registry=registry,
            repository=repository,
            tag=tag or None,
            subject=subject,
            artifact_type=artifact_type,
        )
    )


gate_app = typer.Typer(no_args_is_help=True, help="The image-push scanning gate (docs/gate.md).")
app.add_typer(gate_app, name="gate")


@gate_app.command("check")
def gate_check(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY@sha256:… or REGISTRY/REPOSITORY:TAG")],
    apply: Annotated[bool, typer.Option("--apply", help="act on the verdict, as a sweep would")] = False,
    output: OutputOpt = None,
) -> None:
    """The gate's verdict for one image now, with every check and all the evidence behind it."""
    from ops.errors import OpsError
    from ops.services import get_services

    try:
        service = get_services().gate_service(apply=apply)
        result = service.check(service.resolve(reference), apply=apply)
    except OpsError as exc:
        _fail(exc, output)
    body = result.to_dict()
    if _output(output) is Output.json:
        print_json(body)
        return
    verdict = result.verdict
    print(f"image:   {body['image']}  tags: {', '.join(body['tags']) or '-'}")
    if verdict is None:
        print(f"verdict: not gated ({result.detail})")
        return
    recorded = body["recorded"]
    state = "no record (never pushed through the gate)"
    if recorded:
        state = f"{recorded['decision']} (decision {recorded['number']}), blocked: {recorded['blocked']}"
    print(f"verdict: {verdict.decision}  rule: {verdict.rule}  mode: {verdict.mode}  recorded: {state}")
    print_table("checks", ["check", "result", "message"], [c.to_dict() for c in verdict.checks])
    evidence = body["evidence"]
    manifest = evidence.get("manifest") or {}
    print(
        f"manifest: {manifest.get('mediaType')}, {manifest.get('size')} bytes, "
        f"annotations {manifest.get('annotations') or {}}, labels {manifest.get('labels') or {}}"
    )
    referrers = evidence.get("referrers")
    shown = ", ".join(f"{r['artifactType']} {r['digest'][:19]}" for r in referrers or ()) or "none"
    print(f"referrers: {shown if referrers is not None else 'not required'}")
    scan = evidence.get("scan") or {}
    print(f"scan: {'complete' if scan and not scan.get('unscanned') else 'not finished'}")
    findings = [f for f in scan.get("findings") or () if f.get("status") != "Healthy"]
    if findings:
        columns = ["cve", "severity", "status", "fixStatus", "fixedVersion", "package", "digest"]
        print_table("Defender findings", columns, findings)


@gate_app.command("pending")
def gate_pending(output: OutputOpt = None) -> None:
    """Images the gate holds pending: their age, and what each one waits for."""
    from ops.errors import OpsError
    from ops.services import get_services

    try:
        rows = get_services().gate_service().pending()
    except OpsError as exc:
        _fail(exc, output)
    if _output(output) is Output.json:
        print_json(rows)
        return
    columns = ["image", "tags", "age", "waitingFor", "timeoutIn", "mode", "blocked"]
    print_table(f"{len(rows)} pending image(s)", columns, rows)


def main() -> None:
    app()


def _register_commands() -> None:
    from ops.commands import failover, http, remediate, runbooks, validate

    http.register(app, sandbox_app)
    runbooks.register(app, sandbox_app)
    failover.register(app)
    remediate.register(app, sandbox_app)
    validate.register(app)


_register_commands()
