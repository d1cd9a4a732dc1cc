"""The health function through the local invoker and the CLI.

Cases: healthy settings give 200 and the safety switches; invalid settings give
503 naming each bad setting; `ops invoke health` prints the JSON report and exits
0; an unknown function name exits non-zero.

Configurations that cannot work, each alone, give 503 naming the setting (a table, as
an HTTP GET through the host's converters): a non-GUID AZURE_CLIENT_ID and
AzureWebJobsStorage__clientId; a malformed AzureWebJobsStorage (without echoing its
value, which holds a key), __accountName and __*ServiceUri; broken gate, purge and
schedule policies (loaded, with the field path); schedules with six fields that are
not NCRONTAB (parsed by croniter) or five fields; an OPS_STATE_PATH under a file;
an empty protected-environment set. Working values of the same settings stay ok.
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


GET = {"method": "GET", "url": "http://localhost:7071/api/health"}
BROKEN = {
    "AZURE_CLIENT_ID": "not-a-guid",
    "AzureWebJobsStorage__clientId": "abc",
    "AzureWebJobsStorage": "garbage",
    "AzureWebJobsStorage__accountName": "Not_An_Account!",
    "AzureWebJobsStorage__blobServiceUri": "ftp://x y",
    "AzureWebJobsStorage__tableServiceUri": "tables",
    "OPS_GATE_POLICY": "gate:\n  rules:\n    - {registry: '(', mode: nope}\n",
    "OPS_PURGE_POLICY": "purge:\n  rules:\n    - {olderThan: 30 dayz}\n",
    "OPS_SCHEDULE_POLICY": "schedule:\n  retry: {backoff: soon}\n",
    "OPS_REMEDIATE_POLICY": "remediate:\n  snat: {headroom: lots}\n",
    "OPS_FAILOVER_POLICY": "failover:\n  stamps:\n    - {name: pay}\n",
    "SCHEDULE_TICK": "x y z w v u",
    "PURGE_SCHEDULE": "0 3 * * *",
    "OPS_STATE_PATH": "/dev/null/state.db",
    "OPS_SCHEDULE_PROTECTED_ENVIRONMENTS": ",",
}
WORKING = {
    "AZURE_CLIENT_ID": "11111111-2222-4333-8444-555555555555",
    "AzureWebJobsStorage": "DefaultEndpointsProtocol=https;AccountName=opsstate;AccountKey=a2V5",
    "OPS_PURGE_POLICY": "purge:\n  rules:\n    - {repository: '.*', untagged: true, olderThan: 30d}\n",
    "SCHEDULE_TICK": "0 */5 * * * *",
    "OPS_SCHEDULE_PROTECTED_ENVIRONMENTS": "prod,staging",
}


def health_with(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> tuple[int, dict[str, object]]:
    for key in [k for k in os.environ if k.startswith(("AzureWebJobsStorage", "OPS_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OPS_STATE_PATH", str(ROOT / ".ops" / "health-test.db"))
    monkeypatch.setenv(name, value)
    result = invoke_function(function_app.app, "health", GET).results[0]
    return result["status"], result["body"]


@pytest.mark.parametrize("name", BROKEN)
def test_a_configuration_that_cannot_work_is_not_ok(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = health_with(monkeypatch, name, BROKEN[name])
    assert status == 503 and body["status"] == "misconfigured", body
    problems = body["problems"]
    assert isinstance(problems, list) and problems
    assert all(str(p).startswith(f"{name}:") for p in problems), problems
    if name == "AzureWebJobsStorage":
        assert "garbage" not in json.dumps(body)  # a connection string holds a key: never echoed


@pytest.mark.parametrize("name", WORKING)
def test_working_values_are_ok(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    status, body = health_with(monkeypatch, name, WORKING[name])
    assert (status, body["status"]) == (200, "ok"), body
