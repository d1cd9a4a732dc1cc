"""``ops purge``: ACR purge in this process, planned under a progress bar; ``--apply`` deletes.

The rules come from a policy file (``--policy``), the ``OPS_PURGE_POLICY`` setting, or, for
a one-off cleanup, acr-cli style flags (``--registry R --filter 'REPOSITORY:TAGS' --ago 30d
[--untagged] [--keep N]``) that build the same policy (:mod:`ops.purge.adhoc`). Bytes
reclaimed are estimated from ACR's ``imageSize`` at no cost; ``--exact-bytes`` refines
them from every affected manifest's layers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ops.commands.output import OutputOpt, emit

if TYPE_CHECKING:
    from ops.purge.policy import PurgePolicy


def purge(
    policy: Annotated[
        Path | None, typer.Option("--policy", help="policy YAML file (default: the OPS_PURGE_POLICY setting)")
    ] = None,
    registry: Annotated[str | None, typer.Option("--registry", help="only this registry")] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter", help="REPOSITORY:TAGS regexes, a rule without a policy file (repeatable; needs --ago)"
        ),
    ] = None,
    ago: Annotated[
        str | None, typer.Option("--ago", help="with --filter: only what was updated longer ago, e.g. 30d")
    ] = None,
    untagged: Annotated[
        bool, typer.Option("--untagged", help="with --filter: also untagged manifests of those repositories")
    ] = False,
    keep: Annotated[
        int, typer.Option("--keep", min=0, help="with --filter: keep the N newest of each repository")
    ] = 0,
    exact_bytes: Annotated[
        bool,
        typer.Option("--exact-bytes", help="refine bytes reclaimed from the layers (one read per manifest)"),
    ] = False,
    apply: Annotated[bool, typer.Option("--apply", help="delete for real (default: plan only)")] = False,
    output: OutputOpt = None,
) -> None:
    """ACR purge in this process: plan every repository in scope; --apply deletes (docs/purge.md)."""
    from ops.commands.output import fail
    from ops.errors import OpsError
    from ops.rendering import format_bytes, format_counts, print_table, print_text

    check_purge_flags(policy, registry, filters or [], ago=ago, untagged=untagged, keep=keep)
    try:
        loaded = _load_policy(policy, registry, filters or [], ago=ago, untagged=untagged, keep=keep)
        document, rows = _run_purge(loaded, registry, apply, exact_bytes=exact_bytes)
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
    if summary.get("bytes_estimate") == "imageSize":
        print_text("note: bytes from ACR's imageSize, an upper bound (--exact-bytes reads the layers)")
    reasons = format_counts(summary["protected_by_reason"])
    print_text(
        f"{verb} {summary['manifests_deleted']} manifest(s) and {summary['tags_deleted']} tag(s), "
        f"about {format_bytes(summary['bytes_reclaimed'])}; protected {summary['protected']} ({reasons})"
        + ("" if apply else "; dry run (--apply to delete)")
    )
    if "interrupted" in document:
        raise typer.Exit(1)


_PURGE_COLUMNS = ["registry", "repository", "delete", "tags", "protected", "failed"]


def check_purge_flags(
    policy: Path | None,
    registry: str | None,
    filters: list[str],
    *,
    ago: str | None,
    untagged: bool,
    keep: int,
) -> None:
    """Usage errors (exit 2) before anything is read: the rules come from one place."""
    if policy is not None and filters:
        raise typer.BadParameter("give --policy or --filter, not both", param_hint="--filter")
    if policy is not None and not policy.is_file():
        raise typer.BadParameter(f"{policy} does not exist", param_hint="--policy")
    if not filters:
        given = [flag for flag, on in (("--ago", ago is not None), ("--untagged", untagged), ("--keep", keep))
                 if on]  # fmt: skip
        if given:
            raise typer.BadParameter(f"{', '.join(given)} only go with --filter", param_hint=given[0])
        return
    if registry is None:
        raise typer.BadParameter("--filter needs --registry (the registry to clean)", param_hint="--registry")
    if ago is None:
        # As acr-cli: an ad-hoc purge says how old; everything matching, whatever its age, is never meant.
        raise typer.BadParameter("--filter needs --ago (e.g. 30d)", param_hint="--ago")


def _load_policy(
    policy: Path | None,
    registry: str | None,
    filters: list[str],
    *,
    ago: str | None,
    untagged: bool,
    keep: int,
) -> PurgePolicy | None:
    from ops.purge.adhoc import load_adhoc_policy
    from ops.purge.policy import load_policy

    if filters:
        assert registry is not None and ago is not None  # check_purge_flags
        return load_adhoc_policy(registry=registry, filters=filters, ago=ago, untagged=untagged, keep=keep)
    return None if policy is None else load_policy(policy.read_text(), origin=str(policy))


def _run_purge(
    loaded: PurgePolicy | None, registry: str | None, apply: bool, *, exact_bytes: bool = False
) -> tuple[dict[str, Any], list[Any]]:
    """Run the purge in-process under a progress bar (on stderr, so JSON stays clean): each
    phase by name, with its n/total and elapsed time."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ops.interrupts import interruptible
    from ops.purge.summary import interrupted_summary, plan_document, repository_rows
    from ops.services import get_services

    service = get_services().purge_service(apply=apply, exact_bytes=exact_bytes)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        interruptible(enabled=apply) as stop,
        Progress(*columns, console=Console(stderr=True), transient=True) as bar,
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
