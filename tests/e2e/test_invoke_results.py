"""``ops invoke`` says what a function did and why, and the CLI logs at OPS_LOG_LEVEL.

Host-shaped payloads against the sandbox. Cases: an ImagePushed of a registry no gate
rule covers is ``ignored`` with the reason naming the registry and repository (not
``"result": null``); the same event logs that line on stderr at OPS_LOG_LEVEL=INFO
and not at the CLI's default (WARNING); a queue message of a run purge_schedule never
recorded is ``rejected`` with the field and what was expected, and acknowledged
(exit 0); ``purge_schedule`` says what it enqueued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.cli import app as cli
from ops.services import reset_services
from sandbox.server import SandboxServer
from tests.support.gate import ESTATE, QUARANTINING, REGISTRY, push
from tests.support.sandbox import connect_local_app, running_sandbox

POLICY = f"""
gate:
  rules:
    - {{name: a-only, registry: {REGISTRY}, requireScan: false}}
"""
PURGE_POLICY = f"""
purge:
  rules:
    - {{registry: {REGISTRY}, repository: '.*', untagged: true, olderThan: 30d}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with running_sandbox(ESTATE, tmp_path_factory.mktemp("invoke-results")) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    connect_local_app(
        server,
        monkeypatch,
        tmp_path,
        {"OPS_GATE_POLICY": POLICY, "OPS_PURGE_POLICY": PURGE_POLICY, "OPS_LOG_LEVEL": None},
    )
    reset_services()
    return server


def invoke(name: str, payload: Any = None) -> tuple[int, dict[str, Any], str]:
    args = ["invoke", name] + ([] if payload is None else ["--payload", "-"])
    result = CliRunner().invoke(cli, args, input=None if payload is None else json.dumps(payload))
    return result.exit_code, json.loads(result.stdout), result.stderr


def test_an_event_no_rule_covers_is_ignored_with_the_reason(sandbox: SandboxServer) -> None:
    _, event = push(sandbox.world, "tools/lint", "v1", registry=QUARANTINING)
    code, body, stderr = invoke("gate_on_image_pushed", event)
    assert code == 0, body
    result = body["result"]
    assert (result["status"], result["reason"]) == (
        "ignored",
        f"no gate rule covers {QUARANTINING}/tools/lint",
    )
    assert "gate_on_image_pushed: ignored" not in stderr  # the CLI's default level is WARNING


def test_the_cli_logs_at_ops_log_level(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPS_LOG_LEVEL", "INFO")
    reset_services()
    _, event = push(sandbox.world, "tools/fmt", "v1", registry=QUARANTINING)
    code, _, stderr = invoke("gate_on_image_pushed", event)
    assert code == 0
    expected = f"gate_on_image_pushed: ignored: no gate rule covers {QUARANTINING}/tools/fmt"
    assert f"INFO ops.triggers.gate_on_image_pushed: {expected}" in stderr


def test_a_message_of_an_unrecorded_run_is_rejected_with_the_reason(sandbox: SandboxServer) -> None:
    message = {
        "run": "20261203T030000Z-00000000",
        "batch": 0,
        "registry": {
            "name": REGISTRY,
            "id": sandbox.world.registries[REGISTRY].id,
            "loginServer": sandbox.world.registries[REGISTRY].login_server,
            "sku": "Premium",
        },
        "repositories": ["app/api"],
    }
    code, body, _ = invoke("purge_repository", message)
    assert code == 0, body  # acknowledged: retrying cannot make the run exist
    result = body["result"]
    assert result["status"] == "rejected" and result["recorded"] is True
    assert result["reason"].startswith("invalid input: run: expected a run recorded by purge_schedule")


def test_purge_schedule_says_what_it_enqueued(sandbox: SandboxServer) -> None:
    code, body, _ = invoke("purge_schedule", {"Schedule": {"AdjustForDST": True}, "IsPastDue": False})
    assert code == 0, body
    result = body["result"]
    assert result["status"] == "scheduled"
    batches, repositories = result["batches"], result["repositories"]
    enqueued = f"{batches} batch(es) of {repositories} repositories in 1 registries enqueued"
    assert result["reason"] == f"run {result['run']}: {enqueued}"
