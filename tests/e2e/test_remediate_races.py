"""Races and transient failures of remediation, end to end: ``alert_webhook`` and the
remediation runbooks through ``ops invoke``, against the sandbox's ARM, where another
writer's change lands between the app's GET and its PUT (a ``concurrent_write`` fault).

Cases:
- the SNAT alert meets a concurrent write (another team tags the cluster and sets its
  outbound IPs to 3): the PUT with If-Match gets 412, the service reads the cluster
  again and plans on the fresh state (ports only: the IPs are already there), and makes
  exactly one accepted write; the other writer's tag and IPs survive it (no lost update);
- the autoscaler alert meets a concurrent write that raises the system pool: one
  accepted write, maxCount raised, the system pool's new count kept;
- the remediate-autoscaler runbook meets a concurrent write after its plan was reviewed:
  409 (the plan changed; nothing written), with the new plan's digest; POST with that
  digest applies it, and the other writer's change is kept;
- ARM answers 503 to every PUT: the webhook has accepted the alert (202); alert_worker
  raises, so the queue delivers the message again; nothing is written; the action
  group's own copy of the alert is a duplicate; the queue's redelivery once ARM is back
  is applied, once; the same message delivered again after that does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import function_app
from sandbox.server import SandboxServer
from tests.support.alerts import autoscaler_alert, invoke_alert, snat_alert, webhook_request
from tests.support.entra import mint
from tests.support.remediate import RG, invoke_runbook, lb_id, remediate_estate, remediate_settings
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, arm_client, control


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = remediate_settings(tmp_path, OPS_DRY_RUN="false")
    with app_sandbox(remediate_estate(), tmp_path / "sandbox", monkeypatch, settings) as running:
        yield running


def post(server: SandboxServer, body: Any) -> Any:
    bearer = mint(server, roles=["ActionGroupsSecureWebhook"], app=True)
    return invoke_alert(webhook_request(body, bearer))


def another_writer(server: SandboxServer, cluster: str, change: dict[str, Any]) -> None:
    fault = {
        "kind": "concurrent_write",
        "service": "arm",
        "method": "PUT",
        "path": f"managedClusters/{cluster}$",
        "count": 1,
        "change": change,
    }
    control(server, "POST", "faults", fault)


def puts(server: SandboxServer, cluster: str) -> list[int]:
    return [
        r["status"]
        for r in control(server, "GET", "requests")["requests"]
        if r["method"] == "PUT" and r["path"].endswith(f"/managedClusters/{cluster}")
    ]


def get_cluster(server: SandboxServer, name: str) -> Any:
    from azure.mgmt.containerservice import ContainerServiceClient

    control(server, "POST", "clock", {"advance": 30})
    return arm_client(ContainerServiceClient, server).managed_clusters.get(RG, name)


def test_snat_alert_replans_after_a_concurrent_write(server: SandboxServer) -> None:
    another_writer(
        server,
        "aks-snat",
        {
            "tags": {"owner": "network-team"},
            "properties": {"networkProfile": {"loadBalancerProfile": {"managedOutboundIPs": {"count": 3}}}},
        },
    )
    reply = post(server, snat_alert(lb_id("aks-snat")))
    assert reply["status"] == 202, reply
    body = reply["body"]
    assert (body["status"], body["detail"]["status"], body["detail"]["raced"]) == ("handled", "applied", 1)
    assert "set explicit ports" in body["reason"] and "add outbound IPs" not in body["reason"], body
    assert puts(server, "aks-snat") == [412, 200]  # one accepted write
    cluster = get_cluster(server, "aks-snat")
    lb = cluster.network_profile.load_balancer_profile
    assert cluster.tags == {"environment": "prod", "owner": "network-team"}
    assert lb.managed_outbound_i_ps.count == 3 and lb.allocated_outbound_ports > 0


def test_autoscaler_alert_keeps_the_other_writers_pool_change(server: SandboxServer) -> None:
    another_writer(
        server, "aks-scale", {"properties": {"agentPoolProfiles": [{"name": "system", "count": 2}]}}
    )
    body = post(server, autoscaler_alert("aks-scale", SUBSCRIPTION))["body"]
    assert (body["detail"]["status"], body["detail"]["raced"]) == ("applied", 1), body
    assert puts(server, "aks-scale") == [412, 200]
    pools = {p.name: p for p in get_cluster(server, "aks-scale").agent_pool_profiles}
    assert pools["system"].count == 2
    assert pools["user"].max_count > 3


def test_runbook_refuses_a_plan_changed_by_a_concurrent_write(server: SandboxServer) -> None:
    planned = invoke_runbook(server, "GET", "remediate-autoscaler", {"cluster": "aks-scale"})
    assert planned["status"] == 200, planned
    another_writer(server, "aks-scale", {"tags": {"owner": "capacity-team"}})
    request = {"params": {"cluster": "aks-scale"}, "planDigest": planned["body"]["planDigest"]}
    # The reviewed plan is still the plan when the POST starts; the other write lands
    # between the app's GET and its PUT, and the plan made again on the fresh cluster is
    # not the one reviewed (its eTag differs).
    raced = invoke_runbook(server, "POST", "remediate-autoscaler", {}, request)
    assert raced["status"] == 409, raced
    assert puts(server, "aks-scale") == [412]
    fresh = raced["body"]["planDigest"]
    assert fresh != planned["body"]["planDigest"]
    applied = invoke_runbook(
        server, "POST", "remediate-autoscaler", {}, {"params": {"cluster": "aks-scale"}, "planDigest": fresh}
    )
    assert applied["status"] == 200 and applied["body"]["run"]["status"] == "succeeded", applied
    cluster = get_cluster(server, "aks-scale")
    assert cluster.tags.get("owner") == "capacity-team"
    assert next(p for p in cluster.agent_pool_profiles if p.name == "user").max_count == 5


def test_arm_503_is_redelivered_and_nothing_is_half_applied(server: SandboxServer) -> None:
    from ops.errors import TransientError
    from ops.purge.localqueue import StoreQueue
    from ops.services import get_services
    from ops.triggers.serving import deliver_queue

    control(
        server,
        "POST",
        "faults",
        {
            "kind": "error",
            "status": 503,
            "service": "arm",
            "method": "PUT",
            "path": "aks-snat$",
            "retryAfter": 0,
        },
    )
    alert = snat_alert(lb_id("aks-snat"), alert_id="s-503")
    before = get_cluster(server, "aks-snat")
    queue = StoreQueue(get_services().store(), "alert-work")
    with pytest.raises(TransientError):  # alert_worker raises: the queue delivers it again
        post(server, alert)
    [message] = queue.receive()
    assert set(puts(server, "aks-snat")) == {503}
    after = get_cluster(server, "aks-snat")
    assert (after.e_tag, after.network_profile.as_dict()) == (before.e_tag, before.network_profile.as_dict())
    assert post(server, alert)["body"]["status"] == "ignored"  # the action group's copy: being handled
    control(server, "DELETE", "faults")
    [again] = deliver_queue(function_app.app, "alert_worker")  # the queue's redelivery
    assert (again["status"], again["detail"]["status"]) == ("handled", "applied"), again
    assert puts(server, "aks-snat").count(200) == 1
    queue.send(message.body)  # at least once: the same message delivered after it was handled
    [replayed] = deliver_queue(function_app.app, "alert_worker")
    assert replayed["status"] == "ignored" and replayed["reason"].startswith("redelivered:"), replayed
    assert puts(server, "aks-snat").count(200) == 1
