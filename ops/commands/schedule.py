"""``ops schedule``: the schedule's plan for every cluster in scope, a tick with ``--apply``,
and ``snooze`` to keep one cluster running."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from ops.commands.output import Output, OutputOpt, _output

schedule_app = typer.Typer(help="Non-prod AKS shutdown and startup on schedules (docs/schedule.md).")

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
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.rendering import print_json, print_table
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
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.rendering import print_json
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


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")
