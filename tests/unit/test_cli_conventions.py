"""What every ``ops`` command shares, through typer's CliRunner, without a sandbox.

Cases:
- ``ops --version`` prints the installed package's version and exits 0;
- shell completion is typer's: ``--show-completion bash`` prints a script, and the
  completion protocol completes sub-commands and ``-o``'s choices (table, json, yaml);
- every command's ``--help`` is readable at 80 columns: no raw RST (double backticks,
  ``:func:``), no line wider than 80;
- the exit-code table: ConfigError and InvalidInput 2, Refused, CapExceeded and
  PlanChanged 3, Unreachable, NoCredential, NotFound, Forbidden, Conflict and anything
  else 1;
- ``fail`` prints the message without the exception's class name, on stderr in table
  mode and as one document on stdout with ``-o json`` / ``-o yaml`` (message, kind, exit
  code, what to check, a refusal's details), and ends with the table's exit code;
- an identity endpoint that does not answer: ``ops schedule`` prints one error line
  naming the endpoint and a "check" line (the endpoint settings, ``ops sandbox serve``),
  never the credential chain's report, and exits 1;
- ``ops invoke`` with an unknown function exits 2;
- tables at 80 columns: a header is never cut, text columns wrap at words, a table too
  wide becomes blocks of ``column: value`` lines, none wider than 80;
- sizes are humanized (B, KiB, MiB, GiB) and mappings print as ``key value`` pairs;
- reasons in records, results and outcomes (``describe_error``) name the kind of error in
  words, never the class, except for an unexpected exception (a bug), named as such;
- README's CLI tour: its first two commands are still set-up-and-demo, then the tests;
  every ``ops`` command it runs is one the CLI has (``--help`` of each exits 0) and
  every file it names exists.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml
from typer.testing import CliRunner

from ops.cli import app
from ops.commands.output import ExitCode, Output, exit_code_for, fail
from ops.errors import (
    CapExceeded,
    ConfigError,
    Conflict,
    Forbidden,
    InvalidInput,
    NoCredential,
    NotFound,
    OpsError,
    PlanChanged,
    Refused,
    TransientError,
    Unreachable,
    describe_error,
)
from ops.rendering import format_bytes, format_cell, print_table

WIDE = {"COLUMNS": "80"}


def invoke(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(app, list(args), prog_name="ops", env={**WIDE, **(env or {})})


def test_version_is_the_installed_packages() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"ops {version('acr-aks-ops')}"


def test_shell_completion_script_and_protocol() -> None:
    script = invoke("--show-completion", "bash")
    assert script.exit_code == 0 and "complete -o default -F" in script.output
    gate = invoke(env={"_OPS_COMPLETE": "complete_bash", "COMP_WORDS": "ops gate ", "COMP_CWORD": "2"})
    assert gate.output.split() == ["check", "pending"]
    output = invoke(env={"_OPS_COMPLETE": "complete_bash", "COMP_WORDS": "ops -o ", "COMP_CWORD": "2"})
    assert output.output.split() == ["table", "json", "yaml"]


def _command_paths() -> Iterator[list[str]]:
    root = typer.main.get_command(app)

    def walk(command: click.Command, path: list[str]) -> Iterator[list[str]]:
        yield path
        if hasattr(command, "commands"):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    yield from walk(root, [])


@pytest.mark.parametrize("path", list(_command_paths()), ids=lambda p: " ".join(p) or "ops")
def test_help_is_plain_and_fits_80_columns(path: list[str]) -> None:
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "``" not in result.output and ":func:" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError("purge.rules[0].keep: expected an integer"), ExitCode.USAGE),
        (InvalidInput("--until", "a duration like 3h", "3 hours"), ExitCode.USAGE),
        (Refused("aks-prod is a protected environment"), ExitCode.REFUSED),
        (CapExceeded("plan has 300 actions, more than the cap of 200"), ExitCode.REFUSED),
        (PlanChanged("the plan changed", extensions={"planDigest": "x"}), ExitCode.REFUSED),
        (Unreachable("list registries: could not connect (Connection refused)"), ExitCode.FAILED),
        (NoCredential("Resource Graph query: no credential gave an access token"), ExitCode.FAILED),
        (TransientError("throttled"), ExitCode.FAILED),
        (NotFound("no managed cluster named 'aks-dve' in scope"), ExitCode.FAILED),
        (Forbidden("stop managed cluster aks-dev: AuthorizationFailed"), ExitCode.FAILED),
        (Conflict("another purge run holds the purge lease"), ExitCode.FAILED),
        (OpsError("anything else"), ExitCode.FAILED),
        (RuntimeError("a bug"), ExitCode.FAILED),
    ],
)
def test_exit_code_table(error: Exception, code: ExitCode) -> None:
    assert exit_code_for(error) is code


def _fail_with(error: Exception, output: Output) -> click.testing.Result:
    probe = typer.Typer()

    @probe.command()
    def run() -> None:
        fail(error, output)

    return CliRunner().invoke(probe, [])


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("schedule.defaults[0].timezone: 'Mars/Olympus' is not a time zone"),
        InvalidInput("--until", "a time after now", "2020-01-01"),
        Refused("aks-prod is a protected environment", extensions={"plan": {"actions": []}}),
        Unreachable("Resource Graph query: could not connect (Connection refused)"),
        NoCredential("Resource Graph query: no credential gave an access token (refused)"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_never_name_the_exception_class(error: Exception) -> None:
    table = _fail_with(error, Output.table)
    assert table.exit_code == exit_code_for(error)
    assert table.stdout == ""
    assert table.stderr.startswith(f"error: {error}\n")
    assert type(error).__name__ not in table.stderr
    for output, load in ((Output.json, json.loads), (Output.yaml, yaml.safe_load)):
        machine = _fail_with(error, output)
        document = load(machine.stdout)
        assert machine.exit_code == document["exitCode"] == exit_code_for(error)
        assert document["error"] == str(error) and type(error).__name__ not in machine.stdout
        kinds = {Unreachable: "unreachable", NoCredential: "credential", ConfigError: "invalid",
                 InvalidInput: "invalid", Refused: "refused"}  # fmt: skip
        assert document["kind"] == kinds[type(error)]
        assert ("check" in document) is isinstance(error, Unreachable | NoCredential)
        assert document.get("details") == (getattr(error, "extensions", None) or None)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_identity_endpoint_that_does_not_answer_says_what_to_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.services import reset_services

    port = _closed_port()
    endpoint = f"http://127.0.0.1:{port}/msi/token"
    for key in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    env = {
        "OPS_SUBSCRIPTIONS": "00000000-0000-4000-8000-000000000001",
        "OPS_ARM_ENDPOINT": f"https://127.0.0.1:{port}",
        "IDENTITY_ENDPOINT": endpoint,
        "IDENTITY_HEADER": "header",
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "PATH": str(tmp_path),  # no az on the path: the managed identity is the only way in
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.delenv("OPS_SCHEDULE_POLICY", raising=False)
    reset_services()
    from ops.adapters import identity

    monkeypatch.setattr(identity, "_CREDENTIALS", {})
    result = invoke("schedule")
    reset_services()
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and f"managed-identity endpoint {endpoint}" in lines[0]
    assert "Connection refused" in lines[0]
    assert lines[1].startswith("check: ") and "IDENTITY_ENDPOINT" in lines[1]
    assert "ops sandbox serve" in lines[1] and "OPS_ARM_ENDPOINT" in lines[1]
    assert "DefaultAzureCredential" not in result.output and "Error" not in result.output


def test_invoke_an_unknown_function_is_a_usage_error() -> None:
    result = invoke("invoke", "no_such_function")
    assert result.exit_code == 2
    assert "no_such_function" in json.loads(result.stdout)["error"]


def _table(columns: list[str], rows: list[dict[str, object]], capsys: pytest.CaptureFixture[str]) -> str:
    print_table("title", columns, rows)
    return capsys.readouterr().out


def test_a_table_that_fits_keeps_headers_and_wraps_text_at_words(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    reason = "outside office hours (Mon-Fri 07:30-19:00 Europe/Berlin), not snoozed, nothing pending"
    out = _table(["cluster", "action", "reason"], [{"cluster": "aks-dev-westeurope", "action": "stop",
                                                    "reason": reason}], capsys)  # fmt: skip
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in out
    header = next(line for line in lines if "cluster" in line)
    assert "action" in header and "reason" in header
    assert any("aks-dev-westeurope" in line for line in lines)  # a name is never wrapped
    words = [w for line in lines if "│" in line for w in line.split("│")[3].split()]
    assert " ".join(words) == reason  # the reason wraps at words and loses none


def test_a_table_too_wide_for_80_columns_becomes_blocks(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    columns = ["cluster", "schedule", "timezone", "mode", "desired", "current", "action", "next change"]
    row = {"cluster": "aks-dev", "schedule": "Mon-Fri 07:30-19:00", "timezone": "Europe/Berlin",
           "mode": "cluster", "desired": "off", "current": "running", "action": "stop",
           "next change": "2026-12-04 07:30 CET"}  # fmt: skip
    out = _table(columns, [row, {**row, "cluster": "aks-test"}], capsys)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in out and "┃" not in out
    assert lines.count("cluster: aks-dev") == 1 and lines.count("cluster: aks-test") == 1
    assert sum(1 for line in lines if line.split() == ["next", "change:", "2026-12-04", "07:30", "CET"]) == 2


@pytest.mark.parametrize(
    ("size", "text"),
    [(None, "?"), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * 2**20, "5.0 MiB"),
     (515_937.3 * 2**20, "503.8 GiB"), (3 * 2**40, "3.0 TiB")],
)  # fmt: skip
def test_sizes_are_humanized(size: float | None, text: str) -> None:
    assert format_bytes(size) == text


def test_cells_read_as_words_not_literals() -> None:
    assert format_cell({"applied": 2, "failed": 1}) == "applied 2, failed 1"
    assert format_cell({}) == "none"
    assert format_cell(["v1", "latest"]) == "v1, latest"
    assert format_cell(None) == ""


ROOT = Path(__file__).resolve().parents[2]


def test_readme_tour_runs_real_commands_on_real_files() -> None:
    readme = (ROOT / "README.md").read_text()
    first = readme.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert first[0].startswith("scripts/setup && .venv/bin/ops demo ")
    assert first[1].startswith("scripts/test ")
    tour = readme.split("## CLI tour", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].split(";")[0].split() for line in tour.splitlines()]
    invoked = [words[1:] for words in commands if words and words[0] == "ops"]
    assert len(invoked) >= 10
    root = typer.main.get_command(app)
    for words in invoked:
        found = _command_named(root, words)
        if not found:  # options of ops itself alone
            assert words == ["--version"] and invoke(*words).exit_code == 0, words
            continue
        assert invoke(*found, "--help").exit_code == 0, words
    for name in re.findall(r"(?:examples|sandbox/estates)/[\w.-]+\.yaml", tour):
        assert (ROOT / name).is_file(), name


def _command_named(root: Any, words: list[str]) -> list[str]:
    """The command path the words name, skipping global options (``-o yaml``, ``--version``)."""
    path: list[str] = []
    command, skip = root, False
    for word in words:
        if skip or word.startswith("-"):
            skip = word in ("-o", "--output")
            continue
        commands = getattr(command, "commands", {})
        if word not in commands:
            break
        command = commands[word]
        path.append(word)
    return path


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (InvalidInput("data.target.digest", "a sha256 digest", "x"), "invalid input: data.target.digest:"),
        (ConfigError("OPS_GATE_POLICY: gate.rules[0].mode: bad"), "invalid configuration: OPS_GATE_POLICY:"),
        (NoCredential("no credential gave an access token"), "no credential: no credential gave"),
        (Unreachable("list registries: could not connect"), "unreachable: list registries"),
        (TransientError("429 from ARM"), "temporary failure: 429 from ARM"),
        (NotFound("cluster aks-x"), "not found: cluster aks-x"),
        (PlanChanged("the plan changed", extensions={}), "plan changed: the plan changed"),
        (Conflict("lease held"), "conflict: lease held"),
        (Forbidden("AuthorizationFailed"), "forbidden: AuthorizationFailed"),
        (CapExceeded("300 > 200"), "over the cap: 300 > 200"),
        (Refused("protected"), "refused: protected"),
        (OpsError("x"), "failed: x"),
        (KeyError("registry"), "unexpected KeyError: 'registry'"),
    ],
)
def test_reasons_in_records_say_the_kind_in_words(error: Exception, text: str) -> None:
    described = describe_error(error)
    assert described.startswith(text)
    if isinstance(error, OpsError):
        assert type(error).__name__ not in described
