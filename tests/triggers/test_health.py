"""The health function through the local invoker and the CLI.

Cases: healthy settings give 200 and the safety switches; invalid settings give
503 naming each bad setting; `ops invoke health` prints the JSON report and exits
0; an unknown function name exits non-zero.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import function_app
from ops.triggers.invoking import invoke_function

ROOT = Path(__file__).resolve().parents[2]


def test_health_reports_ok_with_safety_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_DRY_RUN", "true")
    result = invoke_function(function_app.app, "health", None).results[0]
    assert result["status"] == 200
    assert result["body"]["status"] == "ok"
    assert result["body"]["dry_run"] is True


def test_health_names_invalid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_MAX_ACTIONS_PER_RUN", "lots")
    monkeypatch.setenv("OPS_KILL_SWITCH", "maybe")
    result = invoke_function(
        function_app.app, "health", {"method": "GET", "url": "http://h/api/health"}
    ).results[0]
    assert result["status"] == 503
    problems = result["body"]["problems"]
    assert {p.split(":")[0] for p in problems} == {"OPS_MAX_ACTIONS_PER_RUN", "OPS_KILL_SWITCH"}


def _ops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ops", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cli_invoke_health_prints_json(tmp_path: Path) -> None:
    env_file = tmp_path / "bad.env"
    env_file.write_text("OPS_SUBSCRIPTIONS=nope\n")
    ok = _ops("invoke", "health")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["result"]["body"]["status"] == "ok"
    bad = _ops("--env-file", str(env_file), "invoke", "health")
    assert bad.returncode == 0, bad.stderr
    body = json.loads(bad.stdout)["result"]["body"]
    assert body["status"] == "misconfigured"
    assert body["problems"][0].startswith("OPS_SUBSCRIPTIONS:")


def test_cli_invoke_unknown_function_fails() -> None:
    result = _ops("invoke", "no_such_function")
    assert result.returncode != 0
    assert "no function named" in result.stdout
