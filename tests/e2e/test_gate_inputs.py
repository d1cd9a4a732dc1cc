"""ImagePushed events the gate must not trust: ``ops invoke gate_on_image_pushed`` with
host-shaped payloads against the sandbox.

Cases: an event whose topic names registry A (a gate rule covers it) and whose request host
is registry B's login server (no rule covers B) is rejected as bad input, recorded once,
acknowledged (exit 0), and B's image is not locked; an event whose host is ``127.0.0.1:1``
is rejected the same way, not raised for Event Grid to retry for 24 hours, and no request
goes to that host (the sandbox's registries see none either); an event whose host is a
regional endpoint of A is gated, keyed and read through A's login server as ARM reports it;
a 5 MB event, which Event Grid can never deliver, is rejected though the trigger hands it
over already decoded, and nothing is read or locked; a delivery nested 100,000 levels deep
makes ``ops invoke`` exit 2 with the reason, not crash.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ops.cli import app as cli
from sandbox.server import SandboxServer
from tests.support.gate import ESTATE, QUARANTINING, REGISTRY, audit, manifest, push
from tests.support.sandbox import connect_local_app, control, running_sandbox

POLICY = f"""
gate:
  rules:
    - {{name: a-only, registry: {REGISTRY}, mode: lock, requireScan: false, signatures: [notation]}}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    estate = json.loads(json.dumps(ESTATE))
    estate["registries"][0]["replications"] = [{"location": "westeurope"}]
    with running_sandbox(estate, tmp_path_factory.mktemp("gate-inputs")) as running:
        yield running


@pytest.fixture
def sandbox(server: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    connect_local_app(server, monkeypatch, tmp_path, {"OPS_GATE_POLICY": POLICY})
    control(server, "DELETE", "requests")
    return server


def ops_invoke(payload: str) -> Any:
    return CliRunner().invoke(cli, ["invoke", "gate_on_image_pushed", "--payload", "-"], input=payload)


def rejections() -> list[str]:
    from ops.services import get_services

    return [r.reason for r in audit(get_services().store(), "rejected")]


def registry_requests(server: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in control(server, "GET", "requests")["requests"] if r["service"].startswith("acr:")]


@pytest.mark.parametrize("host", ["B", "127.0.0.1:1"])
def test_a_host_that_is_not_the_topics_registry_is_rejected_and_nothing_is_locked(
    sandbox: SandboxServer, host: str
) -> None:
    world = sandbox.world
    digest, event = push(world, "app/api", "v1", registry=QUARANTINING)  # B's image; no rule covers B
    event["topic"] = world.registries[REGISTRY].id  # A, which a rule covers
    event["data"]["request"]["host"] = world.registries[QUARANTINING].login_server if host == "B" else host
    control(sandbox, "DELETE", "requests")
    for _ in range(2):  # Event Grid's redelivery of the same event is not recorded again
        result = ops_invoke(json.dumps(event))
        assert result.exit_code == 0, result.output  # acknowledged, never retried
    (reason,) = rejections()
    assert reason.startswith(f"invalid input: data.request.host: expected a host of registry {REGISTRY}")
    assert registry_requests(sandbox) == []  # no token exchange, no read, no lock anywhere
    assert manifest(world, "app/api", digest, registry=QUARANTINING).attrs.read_enabled is True


def test_a_regional_endpoint_of_the_topics_registry_is_gated_through_its_login_server(
    sandbox: SandboxServer,
) -> None:
    world = sandbox.world
    digest, event = push(world, "app/web", "v1")
    event["data"]["request"]["host"] = f"{REGISTRY.upper()}.westeurope.geo.azurecr.io"
    result = ops_invoke(json.dumps(event))
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["result"]["status"] == "gated" and rejections() == []
    assert manifest(world, "app/web", digest).attrs.read_enabled is False  # locked until signed
    from ops.services import get_services

    (record,) = [r for r in audit(get_services().store()) if r.kind == "gate.lock"]
    assert record.target.startswith(f"{world.registries[REGISTRY].login_server}/app/web@")


def test_an_event_over_event_grids_1_mb_limit_is_rejected_though_decoded(sandbox: SandboxServer) -> None:
    world = sandbox.world
    digest, event = push(world, "app/big", "v1")
    event["data"]["actor"] = {"name": "x" * (5 * 1024 * 1024)}
    control(sandbox, "DELETE", "requests")
    result = ops_invoke(json.dumps(event))
    assert result.exit_code == 0, result.output
    (reason,) = rejections()
    assert reason.startswith("invalid input: <root>: expected a body of at most 1048576 bytes")
    assert registry_requests(sandbox) == []
    assert manifest(world, "app/big", digest).attrs.read_enabled is True


def test_a_delivery_nested_too_deep_is_refused_by_ops_invoke_without_a_crash(sandbox: SandboxServer) -> None:
    result = ops_invoke("[" * 100_000 + "]" * 100_000)
    assert result.exit_code == 2, result.output
    assert "expected JSON nested at most 64 levels deep" in result.output
    assert not isinstance(result.exception, RecursionError)
