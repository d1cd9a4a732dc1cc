"""``ops gate check`` and ``ops gate pending``: the scanning gate's verdict for one image, and
the images it holds.

``ops gate check`` can gate a CI step: it exits 0 when the image passes (or no rule
covers it), 4 when the verdict is deny or pending, 2 on bad usage or a bad policy, and 1
when the check itself failed. ``--policy FILE`` judges the image under a policy that is
not deployed yet, to try it out; it only reads, so it refuses ``--apply``. SIGTERM or
SIGINT during ``--apply`` finishes the registry call in flight, starts no other, prints
``interrupted after N of M`` on stderr and exits 1; the next check, sweep or event
redelivery verifies what was left open against the registry.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ops.commands.output import OutputOpt, emit

if TYPE_CHECKING:
    from ops.gate.service import CheckResult
    from ops.plan import Outcome

gate_app = typer.Typer(no_args_is_help=True, help="The image-push scanning gate (docs/gate.md).")


@gate_app.command("check")
def gate_check(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY@sha256:… or REGISTRY/REPOSITORY:TAG")],
    apply: Annotated[bool, typer.Option("--apply", help="act on the verdict, as a sweep would")] = False,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="judge under this policy file instead of OPS_GATE_POLICY (read only)"),
    ] = None,
    output: OutputOpt = None,
) -> None:
    """The gate's verdict for one image now, with every check and the evidence behind it.

    Exit codes: 0 pass or not gated, 4 deny or pending, 2 bad usage or policy, 1 failure.
    """
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.executor import describe_interruption
    from ops.interrupts import interruptible

    applied: list[Outcome] = []
    if policy is not None and apply:
        raise typer.BadParameter(
            "--policy only tries a policy; --apply acts under the deployed one (OPS_GATE_POLICY)",
            param_hint="--policy",
        )
    if policy is not None and not policy.is_file():
        raise typer.BadParameter(f"{policy} does not exist", param_hint="--policy")
    stop = None
    try:
        with interruptible(enabled=apply) as stop:
            result = _check(reference, apply=apply, policy=policy, applied=applied)
    except OpsError as exc:
        if stop is None or not stop.is_set():
            _fail(exc, output)
    if stop is not None and stop.is_set():  # stderr: --output json stays one document
        print(describe_interruption(applied), file=sys.stderr)
        raise typer.Exit(1)
    if not emit(result.to_dict(), output):
        _print_check(result)
    raise typer.Exit(exit_code(result))


def exit_code(result: CheckResult) -> int:
    """0 when the image may be used (it passes, or no rule gates it); 4 when it may not yet."""
    from ops.gate.planner import Decision

    return 0 if result.verdict is None or result.verdict.decision is Decision.PASS else 4


def _check(reference: str, *, apply: bool, policy: Path | None, applied: list[Outcome]) -> CheckResult:
    """The check; ``applied`` receives the outcome of every action it applied (even when
    it raises), so that an interrupted run can say how far it got."""
    from ops.gate.policy import load_policy
    from ops.services import get_services

    trial = None if policy is None else load_policy(policy.read_text(), origin=str(policy))
    service = get_services().gate_service(apply=apply, policy=trial)
    try:
        return service.check_reference(reference, apply=apply)
    finally:
        applied.extend(service.effects.applied)


def _print_check(result: CheckResult) -> None:
    from ops.rendering import format_bytes, print_table, print_text

    body = result.to_dict()
    verdict = result.verdict
    print_text(f"image:   {body['image']}  tags: {', '.join(body['tags']) or '(none)'}")
    if verdict is None:
        print_text(f"verdict: not gated ({result.detail})")
        return
    recorded = body["recorded"]
    state = "no record (never pushed through the gate)"
    if recorded:
        state = f"{recorded['decision']} (decision {recorded['number']}), blocked: {recorded['blocked']}"
    print_text(f"verdict: {verdict.decision}  rule: {verdict.rule}  mode: {verdict.mode}  recorded: {state}")
    print_table("checks", ["check", "result", "message"], [c.to_dict() for c in verdict.checks])
    evidence = body["evidence"]
    manifest = evidence.get("manifest") or {}
    print_text(
        f"manifest: {manifest.get('mediaType')}, {format_bytes(manifest.get('size'))}, "
        f"annotations: {_pairs(manifest.get('annotations'))}, labels: {_pairs(manifest.get('labels'))}"
    )
    referrers = evidence.get("referrers")
    shown = ", ".join(f"{r['artifactType']} {r['digest'][:19]}" for r in referrers or ()) or "none"
    print_text(f"referrers: {shown if referrers is not None else 'not required'}")
    scan = evidence.get("scan") or {}
    print_text(f"scan: {'complete' if scan and not scan.get('unscanned') else 'not finished'}")
    findings = [f for f in scan.get("findings") or () if f.get("status") != "Healthy"]
    if findings:
        columns = ["cve", "severity", "status", "fixStatus", "fixedVersion", "package", "digest"]
        print_table("Defender findings", columns, findings)


def _pairs(values: dict[str, str] | None) -> str:
    return ", ".join(f"{k}={v}" for k, v in (values or {}).items()) or "none"


@gate_app.command("pending")
def gate_pending(output: OutputOpt = None) -> None:
    """Images the gate holds pending: their age, and what each one waits for."""
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.rendering import print_table
    from ops.services import get_services

    try:
        rows = get_services().gate_service().pending()
    except OpsError as exc:
        _fail(exc, output)
    if emit(rows, output):
        return
    columns = ["image", "tags", "age", "waitingFor", "timeoutIn", "mode", "blocked"]
    print_table(f"{len(rows)} pending image(s)", columns, rows)


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
