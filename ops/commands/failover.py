"""``ops failover status|plan|apply|failback``: the failover capability from the command line.

``status`` shows each stamp's phase and its regions' health; ``plan --region R`` shows
what failing over away from R would do now (nothing changes); ``apply --region R``
records R as impaired by an operator and fails over every stamp in it (approved, so it
runs where automatic failover is off; dry run unless ``--apply`` or OPS_DRY_RUN=false);
``failback --region R`` clears that and runs the verified failback, each step re-verified.
Exit codes: 0 ok, 1 failure, 2 configuration error, 3 refused by a guard.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ops.commands.output import ExitCode, Output, OutputOpt, emit, fail

failover_app = typer.Typer(
    no_args_is_help=True, help="Regional failover and verified failback (docs/failover.md)."
)

RegionOpt = Annotated[str, typer.Option("--region", help="the impaired region, e.g. eastus2")]


def _emit(
    body: Any, rows: list[dict[str, Any]], title: str, columns: list[str], output: Output | None
) -> None:
    from ops.rendering import print_table

    if not emit(body, output):
        print_table(title, columns, rows)


def _service(output: Output | None, apply: bool | None = None) -> Any:
    from ops.errors import OpsError
    from ops.services import get_services

    try:
        return get_services().failover_service(apply=apply)
    except OpsError as exc:
        fail(exc, output)


def _call(output: Output | None, read: Any) -> Any:
    """``read(service)``, ending the command as ``fail`` does when it raises."""
    from ops.errors import OpsError

    service = _service(output)
    try:
        return read(service)
    except OpsError as exc:
        fail(exc, output)


def _stamp_rows(result: Any) -> list[dict[str, Any]]:
    rows = []
    for stamp in result.stamps:
        actions = stamp.plan.actions if stamp.plan is not None else ()
        rows.append(
            {
                "stamp": stamp.stamp,
                "decision": stamp.decision,
                "phase": stamp.phase,
                "actions": "; ".join(f"{a.kind} {a.params}" for a in actions) or "-",
                "protected": "; ".join(g.reason for g in stamp.plan.protected) if stamp.plan else "-",
                "reason": stamp.reason,
            }
        )
    return rows


@failover_app.command("status")
def status(output: OutputOpt = None) -> None:
    """Every stamp: its phase, where its paths point, and its regions' health."""
    body = _call(output, lambda service: service.status())
    rows = [
        {
            "stamp": s["stamp"],
            "phase": s["phase"],
            "home": s["home"] or "-",
            "active": s["active"] or "-",
            "impaired": ",".join(r for r, h in s["regions"].items() if h["impaired"]) or "-",
            "note": s["note"] or "",
        }
        for s in body
    ]
    columns = ["stamp", "phase", "home", "active", "impaired", "note"]
    _emit(body, rows, f"{len(rows)} stamp(s)", columns, output)


@failover_app.command("plan")
def plan(region: RegionOpt, output: OutputOpt = None) -> None:
    """What failing over away from REGION would do now, per stamp (nothing changes)."""
    result = _call(output, lambda service: service.plan_region(region))
    _emit(
        result.to_dict(),
        _stamp_rows(result),
        f"failover plan away from {region}",
        ["stamp", "decision", "phase", "actions", "protected", "reason"],
        output,
    )


def _run(region: str, apply: bool, failback: bool, output: Output | None) -> None:
    from ops.errors import OpsError

    service = _service(output, apply=True if apply else None)
    try:
        if failback:
            result = service.release_region(region, reason="operator: failback")
        else:
            result = service.apply_region(region, reason="operator: failover")
    except OpsError as exc:
        fail(exc, output)
    title = f"{'failback to' if failback else 'failover away from'} {region}"
    _emit(
        result.to_dict(),
        _stamp_rows(result),
        title,
        ["stamp", "decision", "phase", "actions", "protected", "reason"],
        output,
    )
    if any(s.decision == "refuse" for s in result.stamps):
        raise typer.Exit(ExitCode.REFUSED)


@failover_app.command("apply")
def apply_failover(
    region: RegionOpt,
    apply: Annotated[bool, typer.Option("--apply", help="act for real (otherwise a dry run)")] = False,
    output: OutputOpt = None,
) -> None:
    """Record REGION as impaired (an operator's decision) and fail over every stamp in it."""
    _run(region, apply, failback=False, output=output)


@failover_app.command("failback")
def failback(
    region: RegionOpt,
    apply: Annotated[bool, typer.Option("--apply", help="act for real (otherwise a dry run)")] = False,
    output: OutputOpt = None,
) -> None:
    """Clear the operator's impairment of REGION and run the verified failback (each step re-verified)."""
    _run(region, apply, failback=True, output=output)


def register(app: typer.Typer) -> None:
    app.add_typer(failover_app, name="failover")
