"""Failover through ``ops invoke alert_webhook`` (the host's own converters), with the action
group's token from the sandbox's Entra tenant.

Cases: Microsoft's Service Health sample, adapted (Container Registry, East US 2, stage
Active), routed to failover: the stamp's pointer, traffic and routing move to westus2 and
the webhook answers ``handled`` with the stamp's decision; the same delivery again is a
duplicate and ignored; a Resource Health alert on a cluster no stamp uses changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import function_app
from ops.triggers.invoking import invoke_function
from sandbox.server import SandboxServer
from tests.e2e.test_failover import FAILED_OVER, impair, paths, start_pointer
from tests.e2e.test_failover_alerts import resource_health, service_health
from tests.support.alerts import webhook_request
from tests.support.entra import mint
from tests.support.failover import PRIMARY, failover_estate, failover_policy
from tests.support.sandbox import app_sandbox, control


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    estate = failover_estate(stamps=1)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    settings: dict[str, str | None] = {
        "AzureWebJobsStorage": None,
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_DRY_RUN": "false",
    }
    with app_sandbox(estate, tmp_path / "sandbox", monkeypatch, settings) as running:
        monkeypatch.setenv("OPS_FAILOVER_POLICY", json.dumps(failover_policy(running)))
        monkeypatch.setenv("OPS_FAILOVER_NOW", control(running, "GET", "clock")["now"])
        from ops.services import reset_services

        reset_services()
        yield running


def post(server: SandboxServer, body: Any) -> Any:
    token = mint(server, roles=["ActionGroupsSecureWebhook"], app=True)
    return invoke_function(function_app.app, "alert_webhook", webhook_request(body, token)).to_dict()[
        "result"
    ]


def test_service_health_through_the_webhook(server: SandboxServer) -> None:
    from ops.services import get_services

    start_pointer(get_services().failover_service())
    impair(server, PRIMARY)
    at = control(server, "GET", "clock")["now"]
    body = service_health("Active", at)
    answer = post(server, body)
    assert answer["status"] == 200, answer
    reply = answer["body"]
    assert reply["status"] == "handled" and reply["route"] == "failover-service-health", reply
    assert reply["detail"]["stamps"] == [
        {"stamp": "payments0", "decision": "failover", "phase": "failed-over"}
    ]
    assert paths(server) == FAILED_OVER
    again = post(server, body)["body"]
    assert again["status"] == "ignored", again


def test_resource_health_of_an_unknown_cluster_changes_nothing(server: SandboxServer) -> None:
    body = resource_health("Unavailable", control(server, "GET", "clock")["now"])
    body["data"]["essentials"]["alertTargetIDs"] = [
        body["data"]["essentials"]["alertTargetIDs"][0].replace("aks-pay0-eus2", "aks-other")
    ]
    reply = post(server, body)["body"]
    assert reply["status"] == "handled" and reply["detail"]["stamps"] == [], reply
    assert "no stamp's cluster" in reply["detail"]["reason"]
