"""The remediation runbooks through the runbook HTTP function, against the sandbox.

Cases:
- GET remediate-autoscaler shows the plan (maxCount 3 → 5) and its digest, changing
  nothing; POST with that digest applies it;
- remediate-autoscaler on a cluster whose subnet is full: GET shows the guardrail's
  reason; POST is refused with 422;
- remediate-snat GET plans explicit ports and a second IP for the cluster's own load
  balancer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.support.remediate import invoke_runbook, remediate_estate, remediate_settings
from tests.support.sandbox import app_sandbox


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = remediate_settings(tmp_path)
    with app_sandbox(remediate_estate(), tmp_path / "sandbox", monkeypatch, settings) as running:
        yield running


def test_autoscaler_runbook_plans_then_applies(server: SandboxServer) -> None:
    planned = invoke_runbook(server, "GET", "remediate-autoscaler", {"cluster": "aks-scale"})
    assert planned["status"] == 200, planned
    plan = planned["body"]["plan"]
    assert plan["actions"][0]["params"]["maxCount"] == 5
    applied = invoke_runbook(
        server,
        "POST",
        "remediate-autoscaler",
        {},
        {"params": {"cluster": "aks-scale"}, "planDigest": planned["body"]["planDigest"]},
    )
    assert applied["status"] in (200, 202), applied
    run = applied["body"]["run"]
    assert run["status"] == "succeeded", run
    assert run["summary"] == {"applied": 1}, run
    assert run["detail"]["status"] == "applied" and "/operations/" in str(run["detail"]["operation"]), run


def test_autoscaler_runbook_refused_by_the_subnet(server: SandboxServer) -> None:
    planned = invoke_runbook(server, "GET", "remediate-autoscaler", {"cluster": "aks-tight"})
    assert planned["status"] == 200 and not planned["body"]["plan"]["actions"]
    assert planned["body"]["plan"]["protected"][0]["reason"].startswith("subnet:")
    body = {"params": {"cluster": "aks-tight"}, "planDigest": planned["body"]["planDigest"]}
    refused = invoke_runbook(server, "POST", "remediate-autoscaler", {}, body)
    assert refused["status"] == 422, refused
    assert "InsufficientSubnetSize" in str(refused["body"])


def test_snat_runbook_plans_for_the_clusters_load_balancer(server: SandboxServer) -> None:
    planned = invoke_runbook(server, "GET", "remediate-snat", {"cluster": "aks-snat"})
    assert planned["status"] == 200, planned
    params = planned["body"]["plan"]["actions"][0]["params"]
    assert (params["allocatedOutboundPorts"], params["managedOutboundIPs"]) == (10000, 2)
