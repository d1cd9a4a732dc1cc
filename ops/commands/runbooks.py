"""``ops runbook NAME [--param k=v …] [--apply]``: the HTTP runbooks, in this process.

The same runbook, parameters, guards and plan digest as ``/api/runbooks/NAME``, with
the terminal's identity instead of a token (Azure RBAC limits what the operator's own
credentials may do; the audit record names the local user). Without ``--apply`` it
prints the plan and changes nothing; ``--plan-digest`` refuses to apply a plan other
than the one reviewed. The CLI has no HTTP time limit, so long work runs here, inline.

Exit codes: 0 done, 1 an action failed, 2 bad parameters or settings, 3 refused by a
guard, a cap, or a changed plan (``ops.commands.output``); an error's document carries
the new plan under ``details`` when the plan changed.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer

from ops.commands.output import Output, OutputOpt, emit, fail
from ops.rendering import format_cell, print_table, print_text


def runbook(
    name: Annotated[str, typer.Argument(help="runbook name: purge, gate-override, schedule-snooze, …")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="a parameter, k=v (repeatable)")
    ] = None,
    apply: Annotated[bool, typer.Option("--apply", help="apply the plan (default: plan only)")] = False,
    plan_digest: Annotated[
        str | None, typer.Option("--plan-digest", help="apply only this reviewed plan")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="why, for the audit record")] = None,
    output: OutputOpt = None,
) -> None:
    """Plan (or with --apply, apply) a runbook in-process, as the HTTP API would."""
    from ops.auth import local_caller
    from ops.errors import OpsError
    from ops.executor import describe_interruption
    from ops.interrupts import interruptible
    from ops.runbooks.requests import parse_runbook_request
    from ops.services import get_services

    params = _parse_params(param or [])
    try:
        service = get_services().runbook_service()
        if not apply:
            body = service.plan(name, {k: str(v) for k, v in params.items()})
            _show_plan(body, output)
            return
        request = parse_runbook_request(name, {"params": params, "planDigest": plan_digest, "reason": reason})
        roles = frozenset(get_services().settings.auth.model_dump(include=_ROLE_FIELDS).values())
        caller = local_caller(getpass.getuser(), roles).using(*sorted(roles))
        with interruptible() as stop:
            answer = service.apply(name, request, caller.to_audit(), inline=True)
    except OpsError as exc:
        fail(exc, output)
    run = answer.run.to_dict()
    if stop.is_set():  # stderr: --output json stays one document
        print(describe_interruption(run["outcomes"]), file=sys.stderr)
    if not emit(answer.to_dict(), output):
        print_table(
            f"runbook {name}: run {run['id']} {run['status']}",
            ["kind", "target", "status", "detail"],
            run["outcomes"],
        )
        caller_name = f"{run['caller'].get('name')} ({run['caller'].get('oid')})"
        print_text(f"caller: {caller_name}; summary: {format_cell(run['summary'])}")
    if run["status"] != "succeeded":
        raise typer.Exit(1)


_ROLE_FIELDS = {"role_read", "role_operate", "role_approve"}


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected k=v, not {pair!r}", param_hint="--param")
        params[key] = {"true": True, "false": False}.get(value.lower(), value)
    return params


def _show_plan(body: dict[str, Any], output: Output | None) -> None:
    if emit(body, output):
        return
    plan = body["plan"]
    print_table(f"runbook {body['runbook']}: plan", ["kind", "target", "reason"], plan["actions"])
    guards = [{"target": g["target"], "reason": g["reason"]} for g in (*plan["protected"], *plan["skipped"])]
    if guards:
        print_table("protected and skipped", ["target", "reason"], guards)
    print_text(
        f"planDigest: {body['planDigest']}\nnothing was changed; apply this plan with "
        f"--apply --plan-digest {body['planDigest']}"
    )


def register(app: typer.Typer, sandbox_app: typer.Typer) -> None:
    app.command("runbook")(runbook)
