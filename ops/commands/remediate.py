"""``ops remediate``: plan (or, with ``--apply``, make) the change an alert would make.

``ops remediate --alert alert.json`` routes a common-alert-schema payload exactly as
``alert_webhook`` would (the policy's routes) and plans for its target; ``ops remediate
--cluster aks-prod --remedy autoscaler [--pool user]`` plans for a cluster directly;
``--continue`` asks how a change started earlier ended (and reports drift, and restores
a maxCount whose ``revertAfter`` has passed). Nothing changes without ``--apply``. Exit
codes: 0 planned or applied, 3 refused by a guardrail, 1 failed, 2 bad usage.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ops.commands.output import OutputOpt, emit, fail


def remediate(
    alert: Annotated[
        str | None, typer.Option("--alert", help="a common-alert-schema payload file, or - for stdin")
    ] = None,
    cluster: Annotated[str | None, typer.Option("--cluster", help="a cluster name or ARM id")] = None,
    remedy: Annotated[str, typer.Option("--remedy", help="snat or autoscaler (with --cluster)")] = "snat",
    pool: Annotated[str | None, typer.Option("--pool", help="the pool to raise (autoscaler)")] = None,
    resume: Annotated[bool, typer.Option("--continue", help="finish what an earlier change started")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="change the cluster (default: plan only)")] = False,
    output: OutputOpt = None,
) -> None:
    """Plan, or with --apply make, the SNAT or autoscaler remediation for an alert or a cluster."""
    from ops.errors import OpsError

    if (alert is None) == (cluster is None):
        raise typer.BadParameter("give --alert or --cluster (one of them)", param_hint="--alert/--cluster")
    if remedy not in ("snat", "autoscaler"):
        raise typer.BadParameter("snat or autoscaler", param_hint="--remedy")
    try:
        document = _run(alert, cluster, remedy, pool, resume, apply)
    except OpsError as exc:
        fail(exc, output)
    if not emit(document, output):
        _print(document, apply)
    status = document.get("status")
    raise typer.Exit(3 if status == "refused" else 1 if status == "failed" else 0)


def _run(
    alert: str | None, cluster: str | None, remedy: str, pool: str | None, resume: bool, apply: bool
) -> Any:
    from ops.alerts.routing import AlertRouter
    from ops.alerts.schema import parse_alert
    from ops.remediate.alerts import target_of
    from ops.remediate.service import Target
    from ops.services import get_services

    service = get_services().remediate_service(apply=apply)
    if alert is not None:
        parsed = parse_alert(_read_alert(alert))
        decision = AlertRouter(service.policy.routes).route(parsed)
        if decision.route is None:
            return {"status": "ignored", "reason": decision.reason}
        target = target_of(parsed, decision.route)
    else:
        assert cluster is not None
        by_id = cluster.startswith("/")
        target = Target(
            "snat" if remedy == "snat" else "autoscaler",
            resource_id=cluster if by_id else None,
            cluster_name=None if by_id else cluster,
            pool=pool,
        )
    if resume:
        found = service.resolve(target)
        return {"cluster": found.name, "status": "continued", "notes": service.continue_pending(found.id)}
    return service.remediate(target).to_dict()


def _read_alert(source: str) -> Any:
    from ops.errors import InvalidInput

    try:
        return json.loads(sys.stdin.read() if source == "-" else Path(source).read_text())
    except OSError as exc:
        raise InvalidInput("--alert", "a readable file", f"{source}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidInput("--alert", "a JSON alert payload", f"{source}: {exc}") from None


def _print(document: Any, apply: bool) -> None:
    from ops.rendering import print_table, print_text

    if "plan" not in document:
        print_text(
            f"{document.get('status')}: {document.get('reason') or '; '.join(document.get('notes') or [])}"
        )
        return
    plan = document["plan"]
    rows = [
        {"action": a["kind"], "cluster": a["target"].rsplit("/", 1)[-1], "reason": a["reason"]}
        for a in plan["actions"]
    ]
    rows += [
        {"action": "refused", "cluster": g["target"].rsplit("/", 1)[-1], "reason": g["reason"]}
        for g in [*plan["protected"], *plan["skipped"]]
    ]
    print_table(
        f"remediate {document['remedy']} {document['cluster']}", ["action", "cluster", "reason"], rows
    )
    for note in [*document.get("continued", []), *plan.get("notes", [])]:
        print_text(f"note: {note}")
    tail = "" if apply or document["status"] != "planned" else " (dry run: --apply to change the cluster)"
    print_text(f"{document['status']}{tail}")


def register(app: typer.Typer, sandbox_app: typer.Typer) -> None:
    app.command("remediate")(remediate)
