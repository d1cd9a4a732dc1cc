"""The CLI's contract across commands, against the sandbox with the demo estate and the
example policies, through typer's CliRunner.

Cases:
- the exit-code table over the commands: 0 for a plan, a check that passes and every
  listing; 2 for bad usage (an unknown option, a missing file, ``--at`` with
  ``--apply``, ``--policy`` with ``--apply``), an invalid policy or input (an unknown
  registry, a bad alert file, an unknown function, an invalid file to validate); 3 for a
  guard's refusal (stopping a protected cluster); 4 for a gate deny; 1 when ARM does not
  answer (with one line saying what could not be reached and a "check" line);
- ``-o yaml`` prints the same document as ``-o json`` for every command that has one;
- every command's ``-o json`` output (and an error's, whatever the command) validates
  against its schema in docs/schemas/cli/ (``ops.commands.documents``);
- the main commands' table output at 80 columns: no line wider than 80, no header cut
  (no ``…``); purge's summary gives a humanized size while its JSON keeps the bytes.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from ops.cli import app
from ops.commands.documents import COMMAND_DOCUMENTS, SCHEMA_DIR
from sandbox.server import SandboxServer
from tests.support.sandbox import connect_app, running_sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
DEMO = ROOT / "sandbox" / "estates" / "demo.yaml"
DENIED = "contosoprod/payments/api:v1.2.0"  # a High finding and no signature: examples/gate.yaml denies it
AT = "2026-12-07T03:00:00+00:00"  # a Monday night: the example schedule has clusters off


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(DEMO, tmp_path_factory.mktemp("clicontract")) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    connect_app(
        server,
        monkeypatch,
        {
            "OPS_STATE_PATH": str(tmp_path / "state.db"),
            "AzureWebJobsStorage": None,
            "OPS_DRY_RUN": "true",
            "OPS_PURGE_POLICY": str(EXAMPLES / "purge.yaml"),
            "OPS_GATE_POLICY": str(EXAMPLES / "gate.yaml"),
            "OPS_SCHEDULE_POLICY": str(EXAMPLES / "schedule.yaml"),
            "OPS_FAILOVER_POLICY": str(EXAMPLES / "failover.yaml"),
        },
    )
    monkeypatch.setenv("COLUMNS", "80")
    return server


def ops(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), prog_name="ops")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    bad_policy = tmp_path / "bad-purge.yaml"
    bad_policy.write_text("purge:\n  rules:\n    - {registry: contosoprod, repository: '.*', keep: -1}\n")
    bad_alert = tmp_path / "alert.json"
    bad_alert.write_text("{not json")
    return {
        "BAD_POLICY": str(bad_policy),
        "BAD_ALERT": str(bad_alert),
        "MISSING": str(tmp_path / "nope.yaml"),
    }


EXIT_CODES = [
    (["validate", str(EXAMPLES / "purge.yaml")], 0),
    (["validate", "BAD_POLICY"], 2),
    (["purge"], 0),
    (["purge", "--registry", "nope"], 2),
    (["purge", "--policy", "MISSING"], 2),
    (["purge", "--policy", "BAD_POLICY"], 2),
    (["schedule", "--at", AT], 0),
    (["schedule", "--at", AT, "--apply"], 2),
    (["gate", "check", DENIED], 4),
    (["gate", "check", DENIED, "--policy", str(EXAMPLES / "gate.yaml"), "--apply"], 2),
    (["gate", "pending"], 0),
    (["audit"], 0),
    (["failover", "status"], 0),
    (["remediate", "--alert", "BAD_ALERT"], 2),
    (["remediate", "--alert", "MISSING"], 2),
    (["runbook", "schedule-stop", "-p", "cluster=aks-prod", "--apply"], 3),
    (["invoke", "no_such_function"], 2),
    (["--no-such-option"], 2),
    (["purge", "--no-such-option"], 2),
]


@pytest.mark.parametrize(
    ("args", "code"), EXIT_CODES, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v)
)
def test_exit_codes(sandbox: SandboxServer, files: dict[str, str], args: list[str], code: int) -> None:
    resolved = [files.get(arg, arg) for arg in args]
    result = CliRunner().invoke(app, resolved, prog_name="ops")
    assert result.exit_code == code, result.output
    if code in (1, 2, 3) and result.stderr.startswith("error: "):
        assert not re.search(r"\b[A-Z][a-z]+(Error|Input|Exceeded)\b", result.stderr), result.stderr


def test_arm_that_does_not_answer_exits_1_saying_what_to_check(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    connect_app(sandbox, monkeypatch, {"OPS_ARM_ENDPOINT": f"https://127.0.0.1:{port}"})
    code, out, err = ops("schedule")
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert len(lines) == 2 and "could not connect" in lines[0] and "Connection refused" in lines[0], err
    assert (
        lines[1].startswith("check: ") and "OPS_ARM_ENDPOINT" in lines[1] and "ops sandbox serve" in lines[1]
    )


DOCUMENTS = [
    ["schedule", "--at", AT],
    ["gate", "check", DENIED],
    ["gate", "pending"],
    ["failover", "status"],
    ["validate", str(EXAMPLES / "purge.yaml"), str(EXAMPLES / "gate.yaml")],
    ["runbook", "schedule-stop", "-p", "cluster=aks-dev"],
]


@pytest.mark.parametrize("args", DOCUMENTS, ids=" ".join)
def test_yaml_is_the_json_document(sandbox: SandboxServer, args: list[str]) -> None:
    code, as_json, _ = ops(*args, "-o", "json")
    again, as_yaml, _ = ops(*args, "-o", "yaml")
    assert code == again
    assert timeless(yaml.safe_load(as_yaml)) == timeless(json.loads(as_json))
    global_code, global_yaml, _ = ops("-o", "yaml", *args)
    assert global_code == code and timeless(yaml.safe_load(global_yaml)) == timeless(json.loads(as_json))


def timeless(document: object) -> object:
    """The document with its timestamps (when each run judged) blanked out."""
    if isinstance(document, dict):
        return {k: timeless(v) for k, v in document.items()}
    if isinstance(document, list):
        return [timeless(v) for v in document]
    if isinstance(document, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d)?", document):
        return "<time>"
    return document


MAIN = [
    ["purge"],
    ["schedule", "--at", AT],
    ["gate", "check", DENIED],
    ["gate", "pending"],
    ["audit"],
    ["failover", "status"],
    ["validate", str(EXAMPLES / "purge.yaml")],
    ["runbook", "schedule-stop", "-p", "cluster=aks-dev"],
]


@pytest.mark.parametrize("args", MAIN, ids=" ".join)
def test_tables_fit_80_columns(sandbox: SandboxServer, args: list[str]) -> None:
    ops("purge")  # something in the audit trail
    code, out, _ = ops(*args)
    assert code in (0, 4), out
    assert out.strip()
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "…" not in out, out
    assert "{'" not in out and "': " not in out, out  # no Python dicts


def test_purge_humanizes_sizes_and_json_keeps_bytes(sandbox: SandboxServer) -> None:
    code, out, _ = ops("purge")
    assert code == 0 and re.search(r"about \d[\d,.]* (B|KiB|MiB|GiB|TiB);", out), out
    assert "bytes" not in out.split("would delete", 1)[1].split(";", 1)[0]
    code, out, _ = ops("purge", "-o", "json")
    assert code == 0 and isinstance(json.loads(out)["summary"]["bytes_reclaimed"], int)


SCHEMA_CASES = [
    (["validate", str(EXAMPLES / "purge.yaml"), "BAD_POLICY"], "validate"),
    (["purge"], "purge"),
    (["schedule", "--at", AT], "schedule"),
    (["schedule", "--apply"], "schedule"),
    (["schedule", "snooze", "aks-dev", "--until", "3h"], "schedule snooze"),
    (["schedule", "preview", "--days", "7", "--at", AT], "schedule preview"),
    (["gate", "check", DENIED], "gate check"),
    (["gate", "pending"], "gate pending"),
    (["audit"], "audit"),
    (["failover", "status"], "failover status"),
    (["remediate", "--cluster", "aks-dev", "--remedy", "autoscaler"], "remediate"),
    (["runbook", "schedule-stop", "-p", "cluster=aks-dev"], "runbook"),
    (["runbook", "schedule-snooze", "-p", "cluster=aks-dev", "-p", "until=3h", "--apply"], "runbook"),
    (["invoke", "health"], "invoke"),
    (["sandbox", "state"], "sandbox state"),
    (["purge", "--registry", "nope"], "error"),
    (["purge", "--policy", "BAD_POLICY"], "error"),
    (["runbook", "schedule-stop", "-p", "cluster=aks-prod", "--apply"], "error"),
]


def schema_of(command: str) -> dict[str, object]:
    name = "error" if command == "error" else COMMAND_DOCUMENTS[command]
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.parametrize(("args", "command"), SCHEMA_CASES, ids=[" ".join(a) for a, _ in SCHEMA_CASES])
def test_json_output_validates_against_its_schema(
    sandbox: SandboxServer, files: dict[str, str], args: list[str], command: str
) -> None:
    ops("purge")  # something in the audit trail
    code, out, _ = ops("-o", "json", *[files.get(arg, arg) for arg in args])
    document = json.loads(out)
    errors = list(jsonschema.Draft202012Validator(schema_of(command)).iter_errors(document))
    assert not errors, [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors]
    if command == "error":
        assert code == document["exitCode"] in (1, 2, 3)
    if command == "audit":
        key = document[0]["key"]
        code, out, _ = ops("-o", "json", "audit", "show", key)
        assert code == 0
        jsonschema.validate(json.loads(out), schema_of("audit show"))
