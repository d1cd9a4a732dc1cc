"""Schemathesis against ``ops serve``: the runbooks API keeps its OpenAPI document.

The app runs against the sandbox with the demo estate and policies (the example failover
policy, whose resources the estate lacks: its runbooks answer 404); schemathesis
(``st run``) reads the document the app serves and sends generated requests, valid
and invalid, with a valid sandbox token for each role in turn (read; operate;
operate and approve), so that requests reach the runbooks rather than stop at 401.

Cases, per role: no request gets a 5xx (``not_a_server_error``), every response
matches the documented schema and status codes and content types
(``response_schema_conformance``, ``status_code_conformance``,
``content_type_conformance``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import function_app
from ops.demo import (
    DEMO_GATE_POLICY,
    DEMO_PURGE_POLICY,
    DEMO_REMEDIATE_POLICY,
    DEMO_SCHEDULE_POLICY,
    SCHEDULE_EVENING,
)
from ops.triggers.serving import LocalHost
from sandbox.estate import DEMO_ESTATE
from sandbox.server import SandboxServer
from tests.support.entra import mint
from tests.support.sandbox import app_sandbox

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance"
ST = Path(sys.executable).with_name("st")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SandboxServer, str, Path]]:
    directory = tmp_path_factory.mktemp("schemathesis")
    settings = {
        "AzureWebJobsStorage": None,
        "OPS_STATE_PATH": str(directory / "state.db"),
        "OPS_PURGE_POLICY": DEMO_PURGE_POLICY,
        "OPS_SCHEDULE_POLICY": DEMO_SCHEDULE_POLICY,
        "OPS_GATE_POLICY": DEMO_GATE_POLICY,
        "OPS_REMEDIATE_POLICY": DEMO_REMEDIATE_POLICY,
        # Every runbook is configured: a missing policy is the app's misconfiguration (500), not the caller's.
        "OPS_FAILOVER_POLICY": str(EXAMPLES / "failover.yaml"),
        "OPS_SCHEDULE_NOW": SCHEDULE_EVENING,
    }
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        app_sandbox(DEMO_ESTATE, directory / "sandbox", monkeypatch, settings) as server,
        LocalHost(function_app.app) as host,
    ):
        yield server, host.url, directory


@pytest.mark.parametrize(
    "roles", [["Ops.Read"], ["Ops.Operate"], ["Ops.Operate", "Ops.Approve"]], ids="+".join
)
def test_no_server_errors_and_no_schema_violations(
    served: tuple[SandboxServer, str, Path], roles: list[str]
) -> None:
    server, url, directory = served
    token = mint(server, roles=roles, name="fuzzer", ttl=3600)
    command = [
        str(ST),
        "run",
        f"{url}/runbooks/openapi.json",
        "--url",
        url,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        "8",
        "--seed",
        "20261203",
        "--request-timeout",
        "120",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=directory,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    report = done.stdout[-6000:] + done.stderr[-2000:]
    print(report)
    assert done.returncode == 0, report
    assert "No issues found" in done.stdout or " passed" in done.stdout, report
