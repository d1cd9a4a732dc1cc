"""``ops audit``: the audit trail every capability writes, newest first, and ``ops audit show
KEY`` for one record with everything it holds.

Every applied (or dry-run) effect, every run summary and every rejected input is one
record. The list filters by capability, kind, status, part of the target (a cluster or
registry name finds its ARM id) and a time window; the table names resources by their
names, not their ARM ids, and shows enough of each key to ``show`` it. JSON output
keeps every field, the key and the detail (a run summary's counts are in its detail).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ops.commands.output import OutputOpt, emit

if TYPE_CHECKING:
    from ops.state.store import AuditRecord

audit_app = typer.Typer(help="The audit trail: every effect, run summary and rejected input, newest first.")

# Every capability that writes audit records (``alerts`` records rejected webhook payloads).
CAPABILITIES = ("alerts", "failover", "gate", "purge", "remediate", "runbook", "schedule")
KEY_SHOWN = 12  # enough of a 32-character key to find it again with ``ops audit show``
_COLUMNS = ["at", "capability", "kind", "target", "status", "reason", "key"]


@audit_app.callback(invoke_without_command=True)
def audit(
    ctx: typer.Context,
    capability: Annotated[str | None, typer.Option(help="only this capability")] = None,
    kind: Annotated[
        str | None, typer.Option(help="only this kind, e.g. delete_manifest, stop_cluster, run_summary")
    ] = None,
    status: Annotated[str | None, typer.Option(help="only this status: applied, dry_run, failed, …")] = None,
    target: Annotated[
        str | None, typer.Option(help="only targets containing this text (a name, any case)")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="only records at or after this time (without an offset: UTC)")
    ] = None,
    until: Annotated[
        datetime | None, typer.Option(help="only records before this time (without an offset: UTC)")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    output: OutputOpt = None,
) -> None:
    """Query the audit trail, newest first; ``ops audit show KEY`` shows one record whole."""
    if ctx.invoked_subcommand is not None:
        return
    from ops.rendering import print_table
    from ops.services import get_services
    from ops.suggestions import suggest

    if capability is not None and capability not in CAPABILITIES:
        raise typer.BadParameter(
            f"{capability!r} is not one of {', '.join(CAPABILITIES)}" + suggest(capability, CAPABILITIES),
            param_hint="--capability",
        )
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until <= since:
        raise typer.BadParameter("--until must be after --since", param_hint="--until")
    records = (
        get_services()
        .store()
        .query_audit(
            capability=capability,
            kind=kind,
            status=status,
            target=target,
            since=since,
            until=until,
            limit=limit,
        )
    )
    if emit([record_document(r) for r in records], output):
        return
    rows = [
        {**record_document(r), "at": f"{r.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
         "target": display_target(r.target), "key": r.key[:KEY_SHOWN]}
        for r in records
    ]  # fmt: skip
    print_table("audit trail (times in UTC)", _COLUMNS, rows)


@audit_app.command("show")
def audit_show(
    key: Annotated[str, typer.Argument(help="the record's key, or its first characters as the list shows")],
    output: OutputOpt = None,
) -> None:
    """One audit record with everything it holds: its key, full target and detail."""
    from ops.rendering import print_json
    from ops.services import get_services

    found = get_services().store().find_audit(key.strip(), limit=2)
    exact = [r for r in found if r.key == key.strip()]
    if exact:
        found = exact
    if not found:
        print(f"error: no audit record has a key starting {key!r}", file=sys.stderr)
        raise typer.Exit(1)
    if len(found) > 1:
        raise typer.BadParameter(
            f"more than one record's key starts {key!r}: give more of it", param_hint="KEY"
        )
    document = record_document(found[0])
    if emit(document, output):
        return
    for name in ("key", "at", "capability", "kind", "status", "target", "reason"):
        print(f"{name + ':':<12}{document[name]}")
    print("detail:")
    print_json(document["detail"])


def record_document(record: AuditRecord) -> dict[str, Any]:
    """One record as JSON: every field it has, the detail whole."""
    return {
        "key": record.key,
        "at": record.at.isoformat(),
        "capability": record.capability,
        "kind": record.kind,
        "target": record.target,
        "status": record.status,
        "reason": record.reason,
        "detail": dict(record.detail),
    }


def display_target(target: str) -> str:
    """An ARM id by its resource's name (``aks-dev``, ``aks-dev/system`` for a pool);
    anything else (an image, a run id) as it is."""
    from ops.errors import InvalidInput
    from ops.resource_ids import parse_resource_id

    if not target.lower().startswith("/subscriptions/"):
        return target
    try:
        parsed = parse_resource_id(target)
    except InvalidInput:
        return target
    return "/".join((parsed.name, *(name for _, name in parsed.children)))


def _utc(moment: datetime | None) -> datetime | None:
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
