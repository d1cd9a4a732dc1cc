"""``remediate_watch`` through ``ops invoke`` (the host's timer converter), against the
sandbox: what follows a remediation when no further alert comes.

Cases:
- an operation in flight: the watch reports it in progress, and once the sandbox's
  operation has ended, that it succeeded; the record no longer holds it;
- a failed operation (an ``lro_failure`` fault on the PUT): reported, audited as
  ``remediate.failed``, and the cooldown lifted, so the next alert acts again;
- drift: ports reset on the cluster after remediation set them (Azure/AKS#3288) are
  reported on every run, and audited once;
- a due restore of maxCount after the alert resolved and ``revertAfter`` passed (a pinned
  clock): not before it is due; as a dry run it is planned and nothing is written; applied,
  maxCount goes back to 3 through one PUT and is audited; the next run does nothing more;
- a run while another holds the watch's lease is skipped; a cluster gone from ARM has
  its record removed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import function_app
from ops.remediate.records import HISTORY_TABLE, read_record
from ops.services import get_services, reset_services
from ops.triggers.invoking import invoke_function
from sandbox.server import SandboxServer
from tests.support.alerts import autoscaler_alert, invoke_alert, snat_alert, webhook_request
from tests.support.entra import mint
from tests.support.remediate import RG, cluster_id, lb_id, remediate_estate, remediate_settings
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, arm_client, control

TIMER = {"Schedule": {"AdjustForDST": True}, "ScheduleStatus": {}, "IsPastDue": False}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    settings = remediate_settings(tmp_path, OPS_DRY_RUN="false")
    # Operations take a minute of sandbox time: they end when a test moves the clock.
    estate = remediate_estate(settings={"lroSeconds": 60})
    with app_sandbox(estate, tmp_path / "sandbox", monkeypatch, settings) as running:
        yield running


def post(server: SandboxServer, body: Any) -> Any:
    bearer = mint(server, roles=["ActionGroupsSecureWebhook"], app=True)
    result = invoke_alert(webhook_request(body, bearer))
    assert result["status"] == 202, result
    return dict(result["body"])


def watch() -> dict[str, Any]:
    return dict(invoke_function(function_app.app, "remediate_watch", TIMER).to_dict()["result"])


def notes(result: dict[str, Any], cluster: str) -> list[str]:
    return list(result["clusters"].get(cluster_id(cluster).lower(), []))


def settle(server: SandboxServer) -> None:
    control(server, "POST", "clock", {"advance": 120})


def aks(server: SandboxServer) -> Any:
    from azure.mgmt.containerservice import ContainerServiceClient

    return arm_client(ContainerServiceClient, server)


def audits(kind: str) -> list[Any]:
    return [
        r for r in get_services().store().query_audit(capability="remediate", limit=500) if r.kind == kind
    ]


def cluster_puts(server: SandboxServer, name: str) -> list[int]:
    return [
        r["status"]
        for r in control(server, "GET", "requests")["requests"]
        if r["method"] == "PUT" and r["path"].endswith(f"/managedClusters/{name}")
    ]


def test_follows_an_operation_to_its_end(server: SandboxServer) -> None:
    assert post(server, snat_alert(lb_id("aks-snat")))["detail"]["status"] == "applied"
    running = watch()
    assert running["status"] == "done"
    assert [n for n in notes(running, "aks-snat") if n.startswith("in progress:")], running
    settle(server)
    ended = watch()
    assert [n for n in notes(ended, "aks-snat") if n.startswith("succeeded:")], ended
    assert read_record(get_services().store(), cluster_id("aks-snat")).operation is None


def test_a_failed_operation_is_reported_and_lifts_the_cooldown(server: SandboxServer) -> None:
    control(
        server,
        "POST",
        "faults",
        {"kind": "lro_failure", "service": "arm", "method": "PUT", "path": "aks-snat$", "count": 1},
    )
    assert post(server, snat_alert(lb_id("aks-snat"), alert_id="f-1"))["detail"]["status"] == "applied"
    settle(server)
    result = watch()
    assert [n for n in notes(result, "aks-snat") if n.startswith("failed:")], result
    assert len(audits("remediate.failed")) == 1
    again = post(server, snat_alert(lb_id("aks-snat"), alert_id="f-2"))
    assert again["detail"]["status"] == "applied", again  # no cooldown after a failed change


def test_drift_is_reported_each_run_and_audited_once(server: SandboxServer) -> None:
    assert post(server, snat_alert(lb_id("aks-snat")))["detail"]["status"] == "applied"
    settle(server)
    assert not [n for n in notes(watch(), "aks-snat") if n.startswith("drift:")]
    client = aks(server)
    cluster = client.managed_clusters.get(RG, "aks-snat")
    cluster.network_profile.load_balancer_profile.allocated_outbound_ports = 0  # AKS reset them
    client.managed_clusters.begin_create_or_update(RG, "aks-snat", cluster).result()
    settle(server)
    for _ in range(2):
        drift = [n for n in notes(watch(), "aks-snat") if n.startswith("drift:")]
        assert drift and "allocatedOutboundPorts" in drift[0], drift
    assert len(audits("remediate.drift")) == 1


def quiet(server: SandboxServer) -> None:
    """The load is gone: the workload's pods are deleted and the pool is back at 3 nodes."""
    control(server, "POST", "signals", {"cluster": "aks-scale", "workloadDone": True})
    pool = aks(server).agent_pools.get(RG, "aks-scale", "user")
    pool.count = 3
    aks(server).agent_pools.begin_create_or_update(RG, "aks-scale", "user", pool).result()
    settle(server)


def pin(monkeypatch: pytest.MonkeyPatch, now: datetime, *, dry_run: bool) -> None:
    monkeypatch.setenv("OPS_REMEDIATE_NOW", now.isoformat())
    monkeypatch.setenv("OPS_DRY_RUN", "true" if dry_run else "false")
    reset_services()


def max_count(server: SandboxServer) -> int:
    return int(aks(server).agent_pools.get(RG, "aks-scale", "user").max_count)


def test_a_due_restore_is_applied_under_the_rules(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    raised = post(server, autoscaler_alert("aks-scale", SUBSCRIPTION, alert_id="as-1"))
    assert "raise maxCount 3 → 5" in raised["reason"], raised
    settle(server)
    resolved = post(
        server, autoscaler_alert("aks-scale", SUBSCRIPTION, alert_id="as-1", condition="Resolved")
    )
    assert "maxCount back to 3" in resolved["detail"]["reason"], resolved
    quiet(server)
    control(server, "DELETE", "requests")
    assert not [n for n in notes(watch(), "aks-scale") if n.startswith("revert")]  # not due yet
    later = datetime.now(UTC) + timedelta(hours=3)  # revertAfter is 2h in the example policy
    pin(monkeypatch, later, dry_run=True)
    planned = [n for n in notes(watch(), "aks-scale") if n.startswith("revert")]
    assert planned and "dry_run" in planned[0] and "5 → 3" in planned[0], planned
    assert cluster_puts(server, "aks-scale") == [] and max_count(server) == 5
    pin(monkeypatch, later, dry_run=False)
    applied = [n for n in notes(watch(), "aks-scale") if n.startswith("revert")]
    assert applied and "5 → 3" in applied[0] and "dry_run" not in applied[0], applied
    settle(server)
    assert max_count(server) == 3 and cluster_puts(server, "aks-scale") == [200]
    assert [r.reason for r in audits("aks.update_max_count") if "revert" in r.reason]
    assert not [n for n in notes(watch(), "aks-scale") if n.startswith("revert")]
    assert cluster_puts(server, "aks-scale") == [200]


def test_lease_and_a_cluster_gone(server: SandboxServer) -> None:
    store = get_services().store()
    lease = store.acquire_lease(
        "remediate-watch", holder="another run", duration=timedelta(minutes=5), now=datetime.now(UTC)
    )
    assert lease is not None
    assert watch()["status"] == "skipped"
    store.release_lease(lease)
    gone = cluster_id("aks-gone").lower()
    store.put_record(HISTORY_TABLE, gone, {"history": {"applied": {"allocatedOutboundPorts": 8}}}, etag=None)
    result = watch()
    assert result["removed"] == [gone], result
    assert store.get_record(HISTORY_TABLE, gone) is None
