"""``ops remediate`` in-process against the sandbox.

Cases:
- ``--alert`` routes a sample alert as the webhook would and plans (dry run: nothing
  changes, exit 0, JSON with the plan and its reason);
- ``--cluster --remedy autoscaler`` on a cluster whose subnet is full exits 3 with the
  guardrail's reason; ``--apply`` on one with room raises maxCount;
- ``--continue`` reports how the change ended.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ops.cli import app
from sandbox.server import SandboxServer
from tests.support.alerts import EXAMPLE_POLICY, snat_alert
from tests.support.remediate import RG, lb_id, remediate_estate
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, arm_client, control


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = {
        "OPS_SUBSCRIPTIONS": SUBSCRIPTION,
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_REMEDIATE_POLICY": str(EXAMPLE_POLICY),
    }
    with app_sandbox(remediate_estate(), tmp_path / "sandbox", monkeypatch, settings) as running:
        yield running


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def test_alert_plan_refusal_apply_and_continue(server: SandboxServer, tmp_path: Path) -> None:
    from azure.mgmt.containerservice import ContainerServiceClient

    alert = tmp_path / "alert.json"
    alert.write_text(json.dumps(snat_alert(lb_id("aks-snat"))))
    code, out = run("remediate", "--alert", str(alert), "-o", "json")
    planned = json.loads(out)
    assert code == 0 and planned["status"] == "planned"
    assert planned["plan"]["actions"][0]["params"]["allocatedOutboundPorts"] == 10000
    aks = arm_client(ContainerServiceClient, server)
    assert (
        aks.managed_clusters.get(
            RG, "aks-snat"
        ).network_profile.load_balancer_profile.allocated_outbound_ports
        == 0
    )

    code, out = run("remediate", "--cluster", "aks-tight", "--remedy", "autoscaler", "-o", "json")
    assert code == 3 and json.loads(out)["reason"].startswith("subnet:")

    code, out = run("remediate", "--cluster", "aks-scale", "--remedy", "autoscaler", "--apply", "-o", "json")
    assert code == 0 and json.loads(out)["status"] == "applied"
    control(server, "POST", "clock", {"advance": 30})
    code, out = run(
        "remediate", "--cluster", "aks-scale", "--remedy", "autoscaler", "--continue", "-o", "json"
    )
    assert code == 0 and any(n.startswith("succeeded") for n in json.loads(out)["notes"])
    user = next(p for p in aks.managed_clusters.get(RG, "aks-scale").agent_pool_profiles if p.name == "user")
    assert user.max_count == 5
