"""``ops schedule``: the schedule's plan for every cluster in scope, a tick with ``--apply``,
``preview`` of the transitions to come, and ``snooze`` to keep one cluster running.

SIGTERM or SIGINT during ``--apply`` (ops.interrupts) lets the ARM calls in flight finish,
starts no other, releases the tick's lease, prints ``interrupted after N of M`` on stderr
and exits 1; the next tick verifies anything left open against ARM.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ops.commands.output import OutputOpt, emit

if TYPE_CHECKING:
    from ops.plan import Outcome, Plan
    from ops.state.store import StateStore

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
    from ops.executor import describe_interruption
    from ops.interrupts import interruptible
    from ops.rendering import format_counts, print_table, print_text
    from ops.services import get_services

    if at is not None and apply:
        # Acting on a fictional time would stop or start clusters at the wrong hour.
        raise typer.BadParameter("--at only plans; --apply acts at the real time", param_hint="--at")
    now = None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    interrupted = None
    try:
        with interruptible(enabled=apply) as stop:
            service = get_services().schedule_service(apply=apply)
            if apply:
                result = service.tick(now=now)
                report, body = result.report, result.to_dict()
                if stop.is_set():
                    interrupted = result.interrupted or describe_interruption(result.outcomes)
            else:
                report = service.plan(now=now)
                body = report.to_dict()
    except OpsError as exc:
        _fail(exc, output)
    if interrupted:
        print(interrupted, file=sys.stderr)  # stderr: --output json stays one document
    if emit(body, output):
        raise typer.Exit(1 if interrupted else 0)
    if report is None:  # another tick held the lease
        print_text(str(body.get("skipped")))
        return
    rows = [
        {**r.to_dict(), "next change": r.next_change, "node-h saved/wk": r.node_hours_saved_per_week,
         "reason": r.error or r.reason}
        for r in sorted(report.rows, key=lambda row: row.cluster)
    ]  # fmt: skip
    print_table(f"schedule at {report.now.isoformat()}", _SCHEDULE_COLUMNS, rows)
    total = sum(r.node_hours_saved_per_week or 0 for r in report.rows)
    mode = f"; outcomes: {format_counts(body['outcomes'])}" if apply else "; dry run (--apply to act)"
    print_text(
        f"{len(report.plan.actions)} action(s); {report.not_in_scope} cluster(s) not in scope; "
        f"about {total:,.0f} node-hours saved per week{mode}"
    )
    if interrupted:
        raise typer.Exit(1)


@schedule_app.command("preview")
def schedule_preview(
    days: Annotated[int, typer.Option("--days", min=1, max=62, help="how many days ahead")] = 7,
    at: Annotated[
        datetime | None, typer.Option("--at", help="from this time (ISO 8601; without an offset, UTC)")
    ] = None,
    output: OutputOpt = None,
) -> None:
    """Every start and stop each cluster's schedule makes in the coming days, in its local
    time, with clock changes, holidays, shutdown periods and snoozes marked."""
    from ops.commands.output import fail
    from ops.errors import OpsError
    from ops.rendering import print_table
    from ops.services import get_services

    now = None if at is None else (at if at.tzinfo else at.replace(tzinfo=UTC))
    try:
        rows = get_services().schedule_service().preview(days=days, now=now)
    except OpsError as exc:
        fail(exc, output)
    if emit(rows, output):
        return
    shown = [{**row, "when": row["local"]} for row in rows]
    print_table(f"schedule preview: the next {days} day(s)", ["cluster", "when", "action", "note"], shown)


@schedule_app.command("snooze")
def schedule_snooze(
    cluster: Annotated[str, typer.Argument(help="cluster name (unique in scope) or ARM id")],
    until: Annotated[
        str | None,
        typer.Option("--until", help="ISO 8601 time (cluster's zone if no offset) or duration like 3h"),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="remove the snooze")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="set the tag (default: show it only)")] = False,
    output: OutputOpt = None,
) -> None:
    """Keep CLUSTER running until a time, whatever its schedule says (its ops-snooze-until tag).

    Shows the snooze in the cluster's own time zone and changes nothing; --apply sets it.
    Exit codes: 0 ok, 1 failed, 2 bad usage, 3 refused (a protected cluster).
    """
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.rendering import print_text
    from ops.schedule.manual import SNOOZE
    from ops.services import get_services

    if (until is None) == (not clear):
        raise typer.BadParameter("give --until TIME, or --clear", param_hint="--until")
    try:
        service = get_services().schedule_service(apply=apply)
        plan = service.plan_manual(cluster, SNOOZE, until=until, clear=clear, until_field="--until")
        outcomes = service.apply_manual(plan) if apply and plan.actions else []
        stored = bool(outcomes) and _stored_snooze(service.store, plan.actions[0].target)
    except OpsError as exc:
        _fail(exc, output)
    document = snooze_document(plan, outcomes, apply=apply, stored=stored)
    if not emit(document, output):
        print_text(document["message"])
    raise typer.Exit(3 if document["status"] == "refused" else 1 if document["status"] == "failed" else 0)


def _stored_snooze(store: StateStore, cluster_id: str) -> bool:
    """Whether the snooze went to the app's state (AKS takes no tags on a stopped cluster)."""
    from ops.schedule.records import SNOOZES_TABLE

    return store.get_record(SNOOZES_TABLE, cluster_id.lower()) is not None


def snooze_document(
    plan: Plan, outcomes: Sequence[Outcome], *, apply: bool, stored: bool = False
) -> dict[str, Any]:
    """The snooze as one JSON document, with a sentence for people in ``message``."""
    from zoneinfo import ZoneInfo

    from ops.plan import Status
    from ops.schedule.policy import TAG_SNOOZE, format_local

    if not plan.actions:
        guard = (*plan.protected, *plan.skipped)[0]
        name = guard.target.rsplit("/", 1)[-1]
        return {"cluster": name, "id": guard.target, "status": "refused", "reason": guard.reason,
                "message": f"{name}: refused: {guard.reason}"}  # fmt: skip
    action = plan.actions[0]
    name = action.target.rsplit("/", 1)[-1]
    value = action.params.get("until")
    zone = action.params.get("timezone")
    local = format_local(datetime.fromisoformat(value), ZoneInfo(zone or "UTC")) if value else None
    failed = [o for o in outcomes if o.status is Status.FAILED]
    status = "failed" if failed else "applied" if apply else "planned"
    change = f"keep running until {local}" if local else "clear its snooze"
    if failed:
        message = f"{name}: could not {change}: {failed[0].detail}"
    elif apply:
        done = f"kept running until {local}" if local else "snooze cleared"
        message = f"{name}: {done} ({TAG_SNOOZE}={value or ''})"
        if stored:
            message += (
                "; the cluster is stopped and AKS refuses tag changes on a stopped cluster,"
                " so the snooze is kept in the app's state instead"
            )
    else:
        message = f"{name}: would {change}; dry run (--apply to set {TAG_SNOOZE})"
    return {
        "cluster": name,
        "id": action.target,
        "status": status,
        TAG_SNOOZE: value,
        "timezone": zone,
        "untilLocal": local,
        "storedInState": stored,
        "outcomes": [o.to_dict() for o in outcomes],
        "message": message,
    }


def register(app: typer.Typer) -> None:
    app.add_typer(schedule_app, name="schedule")
