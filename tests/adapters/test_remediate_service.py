"""The remediation service with its real adapters, against the sandbox over HTTPS.

Cases:
- SNAT on a load balancer: the alert's load balancer is mapped to its cluster through the
  node resource group; dynamic ports become 10,000 explicit ports with a second IP; the
  sandbox's metrics then show no failed connections; a second call is in cooldown;
- SNAT on a NAT gateway: one more outbound IP;
- the condition cleared: nothing is planned, the reason says why;
- autoscaler at maxCount: maxCount 3 → 5 in a /23, pending pods then schedule; in a full
  /24 the subnet guardrail refuses with InsufficientSubnetSize named, and nothing is sent;
- dry run: the same plan, nothing changed;
- a 412 race: the cluster changes between the plan and the PUT; the service reads it
  again, plans again and applies once;
- an LRO failure: the next call reports it, audits it, and lifts the cooldown;
- drift: ports changed outside remediation after it set them are reported and audited;
- a target that is not a cluster's outbound load balancer (another cluster's outbound type,
  another load balancer, not a network resource, no such cluster) is InvalidInput;
- an invocation that died holding a change's claim before its PUT: the next one reads the
  cluster, finds the change not in place and applies it at once (no claim timeout).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ops.errors import InvalidInput
from ops.remediate.service import RemediateService, Target
from ops.services import get_services
from sandbox.server import SandboxServer
from tests.support.remediate import RG, cluster_id, lb_id, natgw_id, remediate_estate
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, arm_client, control


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = {"OPS_SUBSCRIPTIONS": SUBSCRIPTION, "OPS_STATE_PATH": str(tmp_path / "state.db")}
    with app_sandbox(remediate_estate(), tmp_path / "sandbox", monkeypatch, settings) as running:
        yield running


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def service(apply: bool = True) -> tuple[RemediateService, Clock]:
    svc = get_services().remediate_service(apply=apply)
    clock = Clock()
    svc.clock = clock
    return svc, clock


def aks(server: SandboxServer) -> Any:
    from azure.mgmt.containerservice import ContainerServiceClient

    return arm_client(ContainerServiceClient, server)


def finish_operations(server: SandboxServer) -> None:
    control(server, "POST", "clock", {"advance": 30})


def test_snat_load_balancer_raises_ports_and_ips_then_cools_down(server: SandboxServer) -> None:
    svc, clock = service()
    done = svc.remediate(Target("snat", resource_id=lb_id("aks-snat"), source="alert-1"))
    assert done.status == "applied", done.to_dict()
    assert "set explicit ports 10000" in done.reason and "add outbound IPs 1 → 2" in done.reason
    finish_operations(server)
    lb = aks(server).managed_clusters.get(RG, "aks-snat").network_profile.load_balancer_profile
    assert (lb.allocated_outbound_ports, lb.managed_outbound_i_ps.count) == (10000, 2)
    clock.now += timedelta(minutes=5)
    again = svc.remediate(Target("snat", resource_id=lb_id("aks-snat"), source="alert-2"))
    assert again.status == "refused" and again.reason.startswith(
        "cooldown:"
    )  # refused before any metric read
    clock.now += timedelta(minutes=30)
    later = svc.remediate(Target("snat", resource_id=lb_id("aks-snat"), source="alert-3"))
    assert later.status == "refused" and later.reason.startswith("condition cleared")
    assert any(n.startswith("succeeded") for n in again.continued)


def test_snat_nat_gateway_adds_an_ip(server: SandboxServer) -> None:
    svc, _ = service()
    done = svc.remediate(Target("snat", resource_id=natgw_id("aks-natgw")))
    assert done.status == "applied" and "add outbound IPs 1 → 2" in done.reason
    finish_operations(server)
    nat = aks(server).managed_clusters.get(RG, "aks-natgw").network_profile.nat_gateway_profile
    assert nat.managed_outbound_ip_profile.count == 2


def test_cooldown_refuses_a_second_change(server: SandboxServer) -> None:
    svc, clock = service()
    assert svc.remediate(Target("snat", resource_id=lb_id("aks-snat"))).status == "applied"
    finish_operations(server)
    control(server, "POST", "signals", {"cluster": "aks-snat", "snatPortsWantedPerNode": 20000})
    clock.now += timedelta(minutes=10)
    refused = svc.remediate(Target("snat", resource_id=lb_id("aks-snat")))
    assert refused.status == "refused" and refused.reason.startswith("cooldown:")


def test_autoscaler_raises_max_count_and_pods_schedule(server: SandboxServer) -> None:
    svc, _ = service()
    done = svc.remediate(Target("autoscaler", resource_id=cluster_id("aks-scale")))
    assert done.status == "applied", done.to_dict()
    assert "raise maxCount 3 → 5" in done.reason
    finish_operations(server)
    user = next(
        p for p in aks(server).managed_clusters.get(RG, "aks-scale").agent_pool_profiles if p.name == "user"
    )
    assert (user.max_count, user.count) == (5, 5)


def test_subnet_guardrail_refuses_and_sends_nothing(server: SandboxServer) -> None:
    svc, _ = service()
    control(server, "DELETE", "requests")
    refused = svc.remediate(Target("autoscaler", cluster_name="aks-tight"))
    assert refused.status == "refused"
    assert refused.reason.startswith("subnet:") and "InsufficientSubnetSize" in refused.reason
    writes = [r for r in control(server, "GET", "requests")["requests"] if r["method"] == "PUT"]
    assert writes == []


def test_dry_run_plans_the_same_and_changes_nothing(server: SandboxServer) -> None:
    svc, _ = service(apply=False)
    planned = svc.remediate(Target("snat", resource_id=lb_id("aks-snat")))
    assert planned.status == "planned" and planned.plan.actions[0].params["allocatedOutboundPorts"] == 10000
    assert (
        aks(server)
        .managed_clusters.get(RG, "aks-snat")
        .network_profile.load_balancer_profile.allocated_outbound_ports
        == 0
    )


def test_412_race_replans_and_applies_once(server: SandboxServer) -> None:
    from azure.mgmt.containerservice.models import TagsObject

    svc, _ = service()
    client = aks(server)
    inner = svc.clusters
    raced = []

    class Racing:
        def __getattr__(self, name: str) -> Any:
            return getattr(inner, name)

        def begin_update(self, cluster: str, **kw: Any) -> Any:
            if not raced:  # someone else writes the cluster between our GET and our PUT
                raced.append(1)
                client.managed_clusters.begin_update_tags(
                    RG, "aks-snat", TagsObject(tags={"owner": "x"})
                ).result()
            return inner.begin_update(cluster, **kw)

    svc.clusters = Racing()  # type: ignore[assignment]
    done = svc.remediate(Target("snat", resource_id=lb_id("aks-snat")))
    assert (done.status, done.raced) == ("applied", 1)
    finish_operations(server)
    assert client.managed_clusters.get(RG, "aks-snat").tags == {"owner": "x"}  # the other write is kept
    assert (
        client.managed_clusters.get(
            RG, "aks-snat"
        ).network_profile.load_balancer_profile.allocated_outbound_ports
        == 10000
    )


def test_lro_failure_is_reported_and_lifts_the_cooldown(server: SandboxServer) -> None:
    control(
        server,
        "POST",
        "faults",
        {"kind": "lro_failure", "service": "arm", "method": "PUT", "path": "aks-snat$", "count": 1},
    )
    svc, clock = service()
    assert svc.remediate(Target("snat", resource_id=lb_id("aks-snat"))).status == "applied"
    finish_operations(server)
    clock.now += timedelta(minutes=1)
    retried = svc.remediate(Target("snat", resource_id=lb_id("aks-snat")))
    assert any(n.startswith("failed:") for n in retried.continued), retried.continued
    assert retried.status == "applied"  # no cooldown after a failed change
    audit = svc.store.query_audit(capability="remediate")
    assert any(r.kind == "remediate.failed" for r in audit)


def test_drift_is_reported(server: SandboxServer) -> None:
    svc, clock = service()
    assert svc.remediate(Target("snat", resource_id=lb_id("aks-snat"))).status == "applied"
    finish_operations(server)
    client = aks(server)
    body = client.managed_clusters.get(RG, "aks-snat")
    body.network_profile.load_balancer_profile.allocated_outbound_ports = 1024
    client.managed_clusters.begin_create_or_update(RG, "aks-snat", body).result()
    clock.now += timedelta(hours=1)
    later = svc.remediate(Target("snat", resource_id=lb_id("aks-snat")))
    assert any("drift: allocatedOutboundPorts is 1024, set to 10000" in n for n in later.continued), (
        later.continued
    )
    assert any(r.kind == "remediate.drift" for r in svc.store.query_audit(capability="remediate"))


def test_targets_are_verified(server: SandboxServer) -> None:
    svc, _ = service()
    with pytest.raises(InvalidInput, match="managedNATGateway outbound"):
        svc.remediate(Target("snat", resource_id=lb_id("aks-natgw")))
    with pytest.raises(InvalidInput, match="kubernetes"):
        svc.remediate(
            Target("snat", resource_id=lb_id("aks-snat").replace("/kubernetes", "/kubernetes-internal"))
        )
    with pytest.raises(InvalidInput):
        svc.remediate(
            Target(
                "snat",
                resource_id=f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}/providers/Microsoft.Storage/storageAccounts/x",
            )
        )
    with pytest.raises(InvalidInput):
        svc.remediate(Target("autoscaler", cluster_name="no-such-cluster"))


class Died(BaseException):
    """Stands in for SIGKILL: nothing after it runs, and no ``except Exception`` catches it."""


class DiesBeforeTheFirstPut:
    """The real cluster adapter; the first change's invocation dies before its PUT is sent."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.died = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def begin_update(self, *args: Any, **kwargs: Any) -> Any:
        if not self.died:
            self.died = True
            raise Died
        return self.real.begin_update(*args, **kwargs)


def test_a_change_a_dead_invocation_claimed_is_verified_not_waited_for(server: SandboxServer) -> None:
    svc, _ = service()
    real = svc.clusters
    svc.clusters = DiesBeforeTheFirstPut(real)
    with pytest.raises(Died):
        svc.remediate(Target("autoscaler", resource_id=cluster_id("aks-scale")))
    # Its claim is still open; ARM shows maxCount 3: not in place, so applied now, not in 15 minutes.
    again = svc.remediate(Target("autoscaler", resource_id=cluster_id("aks-scale")))
    assert again.status == "applied", again.to_dict()
    finish_operations(server)
    user = next(
        p for p in aks(server).managed_clusters.get(RG, "aks-scale").agent_pool_profiles if p.name == "user"
    )
    assert user.max_count == 5
