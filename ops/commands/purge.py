"""``ops purge``: ACR purge in this process, planned under a progress bar; ``--apply`` deletes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ops.commands.output import OutputOpt, emit


def purge(
    policy: Annotated[
        Path | None, typer.Option("--policy", help="policy YAML file (default: the OPS_PURGE_POLICY setting)")
    ] = None,
    registry: Annotated[str | None, typer.Option("--registry", help="only this registry")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="delete for real (default: plan only)")] = False,
    output: OutputOpt = None,
) -> None:
    """ACR purge in this process: plan every repository in scope; --apply deletes (docs/purge.md)."""
    from ops.commands.output import fail
    from ops.errors import OpsError
    from ops.rendering import format_bytes, format_counts, print_table, print_text

    if policy is not None and not policy.is_file():
        raise typer.BadParameter(f"{policy} does not exist", param_hint="--policy")
    try:
        document, rows = _run_purge(policy, registry, apply)
    except OpsError as exc:
        fail(exc, output)
    summary = document["summary"]
    if "interrupted" in document:
        # stderr, so that --output json stays one document; the exit code says it too.
        print(document["interrupted"], file=sys.stderr)
    if emit(document, output):
        raise typer.Exit(1 if "interrupted" in document else 0)
    print_table(f"purge {document['run']}", _PURGE_COLUMNS, rows)
    for note in document["notes"]:
        print_text(f"note: {note}")
    verb = "deleted" if apply else "would delete"
    reasons = format_counts(summary["protected_by_reason"])
    print_text(
        f"{verb} {summary['manifests_deleted']} manifest(s) and {summary['tags_deleted']} tag(s), "
        f"about {format_bytes(summary['bytes_reclaimed'])}; protected {summary['protected']} ({reasons})"
        + ("" if apply else "; dry run (--apply to delete)")
    )
    if "interrupted" in document:
        raise typer.Exit(1)


_PURGE_COLUMNS = ["registry", "repository", "delete", "tags", "protected", "failed"]


def _run_purge(policy: Path | None, registry: str | None, apply: bool) -> tuple[dict[str, Any], list[Any]]:
    """Run the purge in-process under a progress bar (on stderr, so JSON stays clean)."""
    from rich.console import Console
    from rich.progress import Progress

    from ops.interrupts import interruptible
    from ops.purge.policy import load_policy
    from ops.purge.summary import interrupted_summary, plan_document, repository_rows
    from ops.services import get_services

    loaded = None if policy is None else load_policy(policy.read_text(), origin=str(policy))
    service = get_services().purge_service(apply=apply)
    with (
        interruptible(enabled=apply) as stop,
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


def register(app: typer.Typer) -> None:
    app.command("purge")(purge)
