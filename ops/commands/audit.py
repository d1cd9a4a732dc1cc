"""``ops audit``: the audit trail every capability writes, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ops.commands.output import Output, OutputOpt, _output


def audit(
    capability: Annotated[str | None, typer.Option(help="only this capability")] = None,
    since: Annotated[datetime | None, typer.Option(help="only records at or after this time")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    output: OutputOpt = None,
) -> None:
    """Query the audit trail, newest first."""
    from ops.rendering import print_json, print_table
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


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
