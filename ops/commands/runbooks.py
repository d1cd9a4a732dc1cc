"""``ops runbook NAME [--param k=v …] [--apply]``: the HTTP runbooks, in this process.

The same runbook, parameters, guards and plan digest as ``/api/runbooks/NAME``, with
the terminal's identity instead of a token (Azure RBAC limits what the operator's own
credentials may do; the audit record names the local user). Without ``--apply`` it
prints the plan and changes nothing; ``--plan-digest`` refuses to apply a plan other
than the one reviewed. The CLI has no HTTP time limit, so long work runs here, inline.

Exit codes: 0 done, 1 an action failed, 2 bad parameters or settings, 3 refused by a
guard, a cap, or a changed plan.
"""

from __future__ import annotations

import getpass
import sys
from typing import Annotated, Any

import typer

from ops.rendering import print_json, print_table


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
    output: Annotated[str, typer.Option("--output", "-o", help="table or json")] = "table",
) -> None:
    """Plan (or with --apply, apply) a runbook in-process, as the HTTP API would."""
    from ops.auth import local_caller
    from ops.errors import CapExceeded, ConfigError, InvalidInput, OpsError, PlanChanged, Refused
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
    except (InvalidInput, ConfigError) as exc:
        _fail(exc, 2, output)
    except (Refused, CapExceeded, PlanChanged) as exc:
        _fail(exc, 3, output, getattr(exc, "extensions", None))
    except OpsError as exc:
        _fail(exc, 1, output)
    run = answer.run.to_dict()
    if stop.is_set():  # stderr: --output json stays one document
        print(describe_interruption(run["outcomes"]), file=sys.stderr)
    if output == "json":
        print_json({**answer.to_dict()})
    else:
        print_table(
            f"runbook {name}: run {run['id']} {run['status']}",
            ["kind", "target", "status", "detail"],
            run["outcomes"],
        )
        print(f"caller: {run['caller'].get('name')} ({run['caller'].get('oid')}); summary: {run['summary']}")
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


def _show_plan(body: dict[str, Any], output: str) -> None:
    if output == "json":
        print_json(body)
        return
    plan = body["plan"]
    print_table(f"runbook {body['runbook']}: plan", ["kind", "target", "reason"], plan["actions"])
    guards = [{"target": g["target"], "reason": g["reason"]} for g in (*plan["protected"], *plan["skipped"])]
    if guards:
        print_table("protected and skipped", ["target", "reason"], guards)
    print(
        f"planDigest: {body['planDigest']}\nnothing was changed; apply this plan with "
        f"--apply --plan-digest {body['planDigest']}"
    )


def _fail(exc: Exception, code: int, output: str, extra: dict[str, Any] | None = None) -> None:
    if output == "json":
        print_json({"error": type(exc).__name__, "message": str(exc), **(extra or {})})
    else:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
    raise typer.Exit(code)


def register(app: typer.Typer, sandbox_app: typer.Typer) -> None:
    app.command("runbook")(runbook)
