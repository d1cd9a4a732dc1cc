"""``ops gate check`` and ``ops gate pending``: the scanning gate's verdict for one image, and
the images it holds."""

from __future__ import annotations

from typing import Annotated

import typer

from ops.commands.output import Output, OutputOpt, _output

gate_app = typer.Typer(no_args_is_help=True, help="The image-push scanning gate (docs/gate.md).")


@gate_app.command("check")
def gate_check(
    reference: Annotated[str, typer.Argument(help="REGISTRY/REPOSITORY@sha256:… or REGISTRY/REPOSITORY:TAG")],
    apply: Annotated[bool, typer.Option("--apply", help="act on the verdict, as a sweep would")] = False,
    output: OutputOpt = None,
) -> None:
    """The gate's verdict for one image now, with every check and all the evidence behind it."""
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.rendering import print_json, print_table
    from ops.services import get_services

    try:
        service = get_services().gate_service(apply=apply)
        result = service.check(service.resolve(reference), apply=apply)
    except OpsError as exc:
        _fail(exc, output)
    body = result.to_dict()
    if _output(output) is Output.json:
        print_json(body)
        return
    verdict = result.verdict
    print(f"image:   {body['image']}  tags: {', '.join(body['tags']) or '-'}")
    if verdict is None:
        print(f"verdict: not gated ({result.detail})")
        return
    recorded = body["recorded"]
    state = "no record (never pushed through the gate)"
    if recorded:
        state = f"{recorded['decision']} (decision {recorded['number']}), blocked: {recorded['blocked']}"
    print(f"verdict: {verdict.decision}  rule: {verdict.rule}  mode: {verdict.mode}  recorded: {state}")
    print_table("checks", ["check", "result", "message"], [c.to_dict() for c in verdict.checks])
    evidence = body["evidence"]
    manifest = evidence.get("manifest") or {}
    print(
        f"manifest: {manifest.get('mediaType')}, {manifest.get('size')} bytes, "
        f"annotations {manifest.get('annotations') or {}}, labels {manifest.get('labels') or {}}"
    )
    referrers = evidence.get("referrers")
    shown = ", ".join(f"{r['artifactType']} {r['digest'][:19]}" for r in referrers or ()) or "none"
    print(f"referrers: {shown if referrers is not None else 'not required'}")
    scan = evidence.get("scan") or {}
    print(f"scan: {'complete' if scan and not scan.get('unscanned') else 'not finished'}")
    findings = [f for f in scan.get("findings") or () if f.get("status") != "Healthy"]
    if findings:
        columns = ["cve", "severity", "status", "fixStatus", "fixedVersion", "package", "digest"]
        print_table("Defender findings", columns, findings)


@gate_app.command("pending")
def gate_pending(output: OutputOpt = None) -> None:
    """Images the gate holds pending: their age, and what each one waits for."""
    from ops.cli import _fail
    from ops.errors import OpsError
    from ops.rendering import print_json, print_table
    from ops.services import get_services

    try:
        rows = get_services().gate_service().pending()
    except OpsError as exc:
        _fail(exc, output)
    if _output(output) is Output.json:
        print_json(rows)
        return
    columns = ["image", "tags", "age", "waitingFor", "timeoutIn", "mode", "blocked"]
    print_table(f"{len(rows)} pending image(s)", columns, rows)


def register(app: typer.Typer) -> None:
    app.add_typer(gate_app, name="gate")
