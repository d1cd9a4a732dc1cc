"""Acceptance: alert_webhook through ``ops invoke`` (the host's own converters) and ``ops serve``,
with Microsoft's common-alert-schema samples adapted to the sandbox's resources, against the
sandbox's ARM, metrics and Kubernetes API, with the example policy (examples/).

A remediation alert is accepted (202) and queued; ``invoke_alert`` then plays the host
and delivers the queue to ``alert_worker``, whose result the cases check.

Cases:
- SNAT on a load balancer: 202 accepted, then handled by alert_worker; dynamic ports
  become explicit and a second IP is added in one PUT; AKS accepts it (no 400 from AKS in the whole test);
- SNAT on a NAT gateway: an IP is added;
- the autoscaler at maxCount (a Prometheus alert naming the cluster): maxCount 3 → 5, the
  pending pods then run;
- the subnet guardrail: the same alert for a cluster in a full /24 is refused with the
  reason (InsufficientSubnetSize named) and nothing is written;
- Resolved: handled and recorded; a Fired arriving after its Resolved is ignored (out of
  order); the same delivery twice is ignored as a duplicate;
- cooldown: a new alert for a cluster just changed is refused with the reason;
- LRO failure: the PUT's operation fails; the next alert reports it and tries again;
- invalid input: a body that is not the common alert schema is 200 ``invalid``, recorded
  with its field path; no route: 200 ``ignored``;
- authentication: no token is 401, a token without ActionGroupsSecureWebhook is 403;
- the webhook under ``ops serve`` answers 202 over real HTTP, and alert_worker applies;
- a transient failure of the capability is 503 and releases the dedupe claim, so the
  retry is handled (with a handler that fails once).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import function_app
from ops.alerts.routing import AlertRouter, compile_routes
from ops.alerts.webhook import AlertWebhook
from ops.errors import TransientError
from ops.state.sqlite import SqliteStateStore
from sandbox.server import SandboxServer
from tests.support.alerts import autoscaler_alert, invoke_alert, snat_alert, webhook_request
from tests.support.entra import mint
from tests.support.remediate import RG, lb_id, natgw_id, remediate_estate, remediate_settings
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, arm_client, control

WEBHOOK_ROLE = "ActionGroupsSecureWebhook"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = remediate_settings(tmp_path, OPS_DRY_RUN="false")
    with app_sandbox(remediate_estate(), tmp_path / "sandbox", monkeypatch, settings) as running:
        yield running


def post(
    server: SandboxServer, body: Any, *, roles: tuple[str, ...] = (WEBHOOK_ROLE,), token: bool = True
) -> Any:
    bearer = mint(server, roles=list(roles), app=True) if token else None
    return invoke_alert(webhook_request(body, bearer))


def aks(server: SandboxServer) -> Any:
    from azure.mgmt.containerservice import ContainerServiceClient

    return arm_client(ContainerServiceClient, server)


def settle(server: SandboxServer) -> None:
    control(server, "POST", "clock", {"advance": 30})


def aks_refusals(server: SandboxServer) -> list[dict[str, Any]]:
    return [r for r in control(server, "GET", "requests")["requests"] if r["status"] == 400]


def test_snat_alert_raises_ports_and_ips(server: SandboxServer) -> None:
    reply = post(server, snat_alert(lb_id("aks-snat")))
    assert (reply["status"], reply["ack"]["status"]) == (202, "accepted")
    body = reply["body"]
    assert (body["status"], body["route"], body["detail"]["status"]) == (
        "handled",
        "snat-load-balancer",
        "applied",
    )
    assert "set explicit ports 10000" in body["reason"] and "add outbound IPs 1 → 2" in body["reason"]
    settle(server)
    lb = aks(server).managed_clusters.get(RG, "aks-snat").network_profile.load_balancer_profile
    assert (lb.allocated_outbound_ports, lb.managed_outbound_i_ps.count) == (10000, 2)
    assert aks_refusals(server) == []


def test_nat_gateway_alert_adds_an_ip(server: SandboxServer) -> None:
    body = post(server, snat_alert(natgw_id("aks-natgw")))["body"]
    assert body["detail"]["status"] == "applied" and "add outbound IPs 1 → 2" in body["reason"]


def test_autoscaler_alert_raises_max_count_and_pods_run(server: SandboxServer) -> None:
    body = post(server, autoscaler_alert("aks-scale", SUBSCRIPTION))["body"]
    assert (body["status"], body["route"]) == ("handled", "autoscaler-unschedulable")
    assert "raise maxCount 3 → 5" in body["reason"], body
    settle(server)
    user = next(
        p for p in aks(server).managed_clusters.get(RG, "aks-scale").agent_pool_profiles if p.name == "user"
    )
    assert (user.max_count, user.count) == (5, 5)
    assert aks_refusals(server) == []


def test_subnet_guardrail_refuses_with_the_reason(server: SandboxServer) -> None:
    control(server, "DELETE", "requests")
    body = post(server, autoscaler_alert("aks-tight", SUBSCRIPTION))["body"]
    assert body["status"] == "handled" and body["detail"]["status"] == "refused"
    assert body["reason"].startswith("subnet:") and "InsufficientSubnetSize" in body["reason"]
    assert [r for r in control(server, "GET", "requests")["requests"] if r["method"] == "PUT"] == []


def test_resolved_duplicates_and_out_of_order(server: SandboxServer) -> None:
    fired = snat_alert(lb_id("aks-snat"), alert_id="a-1")
    assert post(server, fired)["body"]["status"] == "handled"
    again = post(server, fired)["body"]
    assert again["status"] == "ignored" and again["reason"].startswith("duplicate:")
    resolved = post(server, snat_alert(lb_id("aks-snat"), alert_id="a-1", condition="Resolved"))["body"]
    assert (resolved["status"], resolved["detail"]["status"]) == ("handled", "resolved")
    late = post(server, snat_alert(natgw_id("aks-natgw"), alert_id="c-1", condition="Resolved"))["body"]
    assert late["status"] == "handled"
    stale = post(server, snat_alert(natgw_id("aks-natgw"), alert_id="c-1"))["body"]
    assert stale["status"] == "ignored" and stale["reason"].startswith("out of order:")


def test_cooldown(server: SandboxServer) -> None:
    assert post(server, snat_alert(lb_id("aks-snat")))["body"]["detail"]["status"] == "applied"
    settle(server)
    control(server, "POST", "signals", {"cluster": "aks-snat", "snatPortsWantedPerNode": 20000})
    body = post(server, snat_alert(lb_id("aks-snat")))["body"]
    assert body["detail"]["status"] == "refused" and body["reason"].startswith("cooldown:")


def test_lro_failure_is_reported_and_retried(server: SandboxServer) -> None:
    control(
        server,
        "POST",
        "faults",
        {"kind": "lro_failure", "service": "arm", "method": "PUT", "path": "aks-snat$", "count": 1},
    )
    assert post(server, snat_alert(lb_id("aks-snat")))["body"]["detail"]["status"] == "applied"
    settle(server)
    body = post(server, snat_alert(lb_id("aks-snat")))["body"]
    assert any(note.startswith("failed:") for note in body["detail"]["continued"]), body
    assert body["detail"]["status"] == "applied"


def test_invalid_and_unrouted_alerts(server: SandboxServer) -> None:
    from tests.support.alerts import sample

    invalid = post(server, sample("budget_not_common_schema.json"))
    assert invalid["status"] == 200 and invalid["body"]["status"] == "invalid"
    assert invalid["body"]["detail"]["path"] == "schemaId"
    ignored = post(server, sample("service_health.json"))["body"]
    assert ignored["status"] == "ignored" and ignored["reason"].startswith("ignored: no route matches")


def test_authentication(server: SandboxServer) -> None:
    assert post(server, snat_alert(lb_id("aks-snat")), token=False)["status"] == 401
    assert post(server, snat_alert(lb_id("aks-snat")), roles=("Ops.Read",))["status"] == 403


def test_under_ops_serve(server: SandboxServer) -> None:
    from ops.triggers.serving import LocalHost, deliver_queue

    with LocalHost(function_app.app) as host:
        token = mint(server, roles=[WEBHOOK_ROLE], app=True)
        response = requests.post(
            f"{host.url}/alerts",
            json=autoscaler_alert("aks-scale", SUBSCRIPTION),
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
    assert response.status_code == 202 and response.json()["status"] == "accepted", response.text
    [worked] = deliver_queue(function_app.app, "alert_worker")
    assert worked["detail"]["status"] == "applied", worked


def test_transient_failure_is_503_and_the_retry_is_handled(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.support.alerts import sample

    calls: list[str] = []

    class Flaky:
        def handle_alert(self, alert: Any, route: Any) -> dict[str, Any]:
            calls.append(alert.essentials.alert_id)
            if len(calls) == 1:
                raise TransientError("ARM throttled", retry_after=5)
            return {"reason": "done"}

    routes = compile_routes(
        "remediate", [{"name": "any", "match": {"signalType": "Metric"}, "action": "snat"}]
    )
    webhook = AlertWebhook(
        router=AlertRouter(routes),
        handlers={"remediate": Flaky},
        store=SqliteStateStore(str(tmp_path / "s.db")),
        dedupe_ttl=timedelta(days=1),
        clock=lambda: datetime.now(UTC),
    )
    body = sample("metric_fired.json")
    with pytest.raises(TransientError):
        webhook.handle(body)
    assert webhook.handle(body).status == "handled"
    assert webhook.handle(body).status == "ignored"
    assert len(calls) == 2
