"""Failover through the function entry points, as the Functions host runs them
(``invoke_function``, the converters ``ops invoke`` uses), against a sandbox that enforces
the app identity's roles: the four custom failover roles exactly as infra defines them
(read from infra/estate/subscription.bicep), each assigned where infra/estate/failover.bicep
assigns it (each replication, the origin group, the Traffic Manager profile, the App
Configuration store), Reader on the subscription, and the registry and cluster roles the
synthetic checks use. So every scenario also proves the narrow roles are enough.

Cases:
- failover on impairment: Microsoft's Service Health sample (Active, Container Registry in
  East US 2) to ``alert_webhook`` moves pointer, traffic and routing to westus2; its Resolved
  stage marks the region healthy; ``failover_watch`` waits out the hysteresis, then fails
  back one step per tick (routing, traffic, pointer), each verified first;
- a flap during failback: the region falters after ``failover_watch`` returned routing;
  the next tick undoes it and returns the stamp to failed-over; healed for good, the
  watch fails back again to normal;
- registry replica Resource Health: an Unavailable alert on the eastus2 replication fails
  the stamp over (the replica's region), the same alert on the westus2 replication while
  eastus2 is active moves nothing, and the eastus2 replication's Available clears its region;
  an alert on the registry itself is not routed to failover;
- with automatic failover off, the incident pages and moves nothing; the ``failover``
  runbook (GET then POST with Ops.Approve) moves the stamp;
- duplicates and out-of-order alerts: the same delivery again is ignored, and a Resolved
  stage older than the Active changes nothing and writes nothing;
- both regions impaired: nothing moves, and the webhook answers the refusal;
- the last enabled origin is never disabled (the other was disabled by hand), while the
  pointer and routing still move;
- ARM refuses the replication change while the home region is down: pointer and traffic
  move, the refusal is recorded, the watch retries it a bounded number of times, then pages;
- two concurrent failover_watch runs give one actor (one origin write);
- a failure mid-failover (ARM errors on the traffic step) answers 503, so the action group
  redelivers; the stamp stays failing-over with the pointer done, and the redelivery
  resumes it to the same end state.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import function_app
from ops.demo import TIMER_STATUS
from ops.services import reset_services
from ops.triggers.invoking import invoke_function
from sandbox.server import SandboxServer
from tests.e2e.test_failover import FAILED_OVER, advance, impair, normal_paths, paths, start_pointer
from tests.e2e.test_failover_alerts import resource_health, service_health
from tests.infra.templates import INFRA, declared_resources
from tests.support.alerts import webhook_request
from tests.support.entra import mint
from tests.support.failover import PRIMARY, SECONDARY, failover_estate, failover_policy, stamp_names
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, control

HYSTERESIS = {"stableFor": "2m", "onlineChecks": 2, "maxFailoversPerDay": 3}
SUB = f"/subscriptions/{SUBSCRIPTION}"
NAMES = stamp_names(0)
REGISTRY = f"{SUB}/resourceGroups/rg-acr/providers/Microsoft.ContainerRegistry/registries/{NAMES['registry']}"


def infra_roles() -> list[dict[str, Any]]:
    """The failover roles as infra/estate/subscription.bicep defines them."""
    out = []
    for role in declared_resources(INFRA / "estate" / "subscription.bicep"):
        if role.type == "Microsoft.Authorization/roleDefinitions" and role.symbol.startswith("failover"):
            (permission,) = role.body["properties"]["permissions"]
            out.append(
                {
                    "name": role.symbol,
                    "actions": permission["actions"],
                    "dataActions": permission["dataActions"],
                }
            )
    assert len(out) == 4
    return out


def least_privilege() -> dict[str, Any]:
    edge = f"{SUB}/resourceGroups/rg-edge/providers"
    clusters = [f"{SUB}/resourceGroups/rg-aks/providers/Microsoft.ContainerService/managedClusters/"
                f"{NAMES[k]}" for k in ("cluster_primary", "cluster_secondary")]  # fmt: skip
    return {
        "customRoles": infra_roles(),
        "roles": [
            {"role": "Reader", "scope": SUB},
            *(
                {"role": "failoverRouting", "scope": f"{REGISTRY}/replications/{region}"}
                for region in (PRIMARY, SECONDARY)
            ),
            {
                "role": "failoverFrontDoor",
                "scope": f"{edge}/Microsoft.Cdn/profiles/{NAMES['front_door']}/originGroups/og-api",
            },
            {
                "role": "failoverTrafficManager",
                "scope": f"{edge}/Microsoft.Network/trafficManagerProfiles/{NAMES['traffic_manager']}",
            },
            {
                "role": "failoverPointer",
                "scope": f"{edge}/Microsoft.AppConfiguration/configurationStores/appcs-ops-sbx",
            },
            # the synthetic check: a pull from the regional endpoint, the clusters' API servers
            {"role": "AcrPush", "scope": REGISTRY},
            *({"role": "Azure Kubernetes Service Cluster User Role", "scope": c} for c in clusters),
        ],
    }


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    estate = failover_estate(stamps=1)
    estate["failover"]["replicationWritesWhenHomeDown"] = "accept"
    estate["identity"] = least_privilege()
    settings: dict[str, str | None] = {
        "AzureWebJobsStorage": None,
        "OPS_STATE_PATH": str(tmp_path / "state.db"),
        "OPS_DRY_RUN": "false",
    }
    with app_sandbox(estate, tmp_path / "sandbox", monkeypatch, settings) as running:
        use_policy(running, monkeypatch)
        yield running
    reset_services()


def use_policy(server: SandboxServer, monkeypatch: pytest.MonkeyPatch, **overrides: Any) -> None:
    policy = failover_policy(server, hysteresis=HYSTERESIS, **overrides)
    monkeypatch.setenv("OPS_FAILOVER_POLICY", json.dumps(policy))
    pin_clock(server, monkeypatch)
    from ops.services import get_services

    start_pointer(get_services().failover_service())


def pin_clock(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Failover's "now" is the sandbox clock's (OPS_FAILOVER_NOW), as the demo runs it."""
    now = str(control(server, "GET", "clock")["now"])
    monkeypatch.setenv("OPS_FAILOVER_NOW", now)
    reset_services()
    return now


def post_alert(server: SandboxServer, body: Any) -> dict[str, Any]:
    token = mint(server, roles=["ActionGroupsSecureWebhook"], app=True)
    answer = invoke_function(function_app.app, "alert_webhook", webhook_request(body, token)).to_dict()
    result: dict[str, Any] = answer["result"]
    assert result["status"] == 200, result
    return dict(result["body"])


def watch(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """One failover_watch run at the sandbox's time: the stamp's decision and phase."""
    pin_clock(server, monkeypatch)
    answer = invoke_function(function_app.app, "failover_watch", TIMER_STATUS).to_dict()
    (stamp,) = answer["result"]["stamps"]
    return stamp["decision"], stamp["phase"]


def fresh(body: dict[str, Any]) -> dict[str, Any]:
    """A new alert instance: each activity-log event fires one, under its own alertId."""
    essentials = body["data"]["essentials"]
    essentials["alertId"] = essentials["alertId"].rsplit("/", 1)[0] + "/" + uuid.uuid4().hex
    return body


def incident(server: SandboxServer, monkeypatch: pytest.MonkeyPatch, stage: str) -> dict[str, Any]:
    return post_alert(server, fresh(service_health(stage, pin_clock(server, monkeypatch))))


def replica_health(server: SandboxServer, monkeypatch: pytest.MonkeyPatch, region: str, status: str) -> Any:
    body = resource_health(status, pin_clock(server, monkeypatch))
    body["data"]["essentials"]["alertTargetIDs"] = [f"{REGISTRY}/replications/{region}".lower()]
    return fresh(body)


def test_failover_on_impairment_and_verified_failback(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert paths(server) == normal_paths()
    impair(server, PRIMARY)
    reply = incident(server, monkeypatch, "Active")
    assert reply["route"] == "failover-service-health", reply
    assert reply["detail"]["stamps"] == [
        {"stamp": "payments0", "decision": "failover", "phase": "failed-over"}
    ]
    assert paths(server) == FAILED_OVER

    impair(server, PRIMARY, False)
    resolved = incident(server, monkeypatch, "Resolved")
    assert resolved["detail"]["signals"] == 1, resolved
    assert watch(server, monkeypatch) == ("wait", "failed-over")  # the hysteresis holds it
    assert paths(server) == FAILED_OVER
    advance(server, 150)
    ticks = [watch(server, monkeypatch) for _ in range(4)]
    assert ticks == [
        ("wait", "failed-over"),  # the first of two checks Online
        ("failback-step", "failing-back"),  # routing
        ("failback-step", "failing-back"),  # traffic
        ("failback", "normal"),  # the pointer
    ]
    assert paths(server) == normal_paths()
    refused = [r for r in control(server, "GET", "requests")["requests"] if r["status"] == 403]
    assert refused == []  # the narrow roles were enough


def test_flap_during_failback_returns_to_failed_over(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    impair(server, PRIMARY)
    incident(server, monkeypatch, "Active")
    impair(server, PRIMARY, False)
    incident(server, monkeypatch, "Resolved")
    advance(server, 150)
    assert [watch(server, monkeypatch) for _ in range(2)] == [
        ("wait", "failed-over"),
        ("failback-step", "failing-back"),
    ]
    assert paths(server)["routed"][PRIMARY] is True  # routing is back

    impair(server, PRIMARY)  # the region falters: its regional endpoint stops answering
    assert watch(server, monkeypatch) == ("flap", "failed-over")
    assert paths(server) == FAILED_OVER

    impair(server, PRIMARY, False)
    incident(server, monkeypatch, "Resolved")
    advance(server, 150)
    ticks = [watch(server, monkeypatch)[0] for _ in range(4)]
    assert ticks == ["wait", "failback-step", "failback-step", "failback"]
    assert paths(server) == normal_paths()


def test_registry_replica_health_moves_its_region(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = post_alert(server, replica_health(server, monkeypatch, SECONDARY, "Unavailable"))
    assert quiet["route"] == "failover-replica-health", quiet
    assert quiet["detail"]["stamps"] == [{"stamp": "payments0", "decision": "none", "phase": "normal"}]
    assert paths(server) == normal_paths()  # westus2 is not where the stamp runs
    clear = post_alert(server, replica_health(server, monkeypatch, SECONDARY, "Available"))
    assert clear["detail"]["signals"] == 1

    impair(server, PRIMARY)
    unavailable = replica_health(server, monkeypatch, PRIMARY, "Unavailable")
    moved = post_alert(server, unavailable)
    assert moved["detail"]["stamps"] == [
        {"stamp": "payments0", "decision": "failover", "phase": "failed-over"}
    ]
    assert paths(server) == FAILED_OVER
    again = post_alert(server, unavailable)
    assert again["status"] == "ignored", again  # the same delivery again

    impair(server, PRIMARY, False)
    advance(server, 1)
    healed = post_alert(server, replica_health(server, monkeypatch, PRIMARY, "Available"))
    assert healed["detail"]["signals"] == 1
    from ops.services import get_services

    assert get_services().failover_service().status()[0]["regions"][PRIMARY]["impaired"] is False

    registry = resource_health("Unavailable", pin_clock(server, monkeypatch))
    registry["data"]["essentials"]["alertTargetIDs"] = [REGISTRY.lower()]
    unrouted = post_alert(server, fresh(registry))
    assert unrouted["status"] == "ignored", unrouted


def test_automatic_failover_off_pages_and_the_runbook_moves_the_stamp(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_policy(server, monkeypatch, automatic={"failover": False, "failback": False})
    impair(server, PRIMARY)
    paged = incident(server, monkeypatch, "Active")
    assert paged["detail"]["stamps"][0]["decision"] == "page", paged
    assert paths(server) == normal_paths()

    planned = runbook(server, "GET", {"region": PRIMARY}, roles=("Ops.Read",))
    assert planned["status"] == 200, planned
    kinds = [a["kind"] for a in planned["body"]["plan"]["actions"]]
    assert kinds == ["set_pointer", "set_origin_state", "set_endpoint_priority", "set_replication_routing"]
    body = {"params": {"region": PRIMARY}, "planDigest": planned["body"]["planDigest"], "reason": "INC-7"}
    applied = runbook(server, "POST", {}, body, roles=("Ops.Operate", "Ops.Approve"))
    assert applied["status"] == 200, applied
    assert applied["body"]["run"]["status"] == "succeeded", applied
    assert paths(server) == FAILED_OVER


def runbook(
    server: SandboxServer,
    method: str,
    params: dict[str, str],
    body: Any = None,
    *,
    roles: tuple[str, ...],
) -> dict[str, Any]:
    token = mint(server, roles=list(roles), name="dana")
    query = "&".join(f"{k}={v}" for k, v in params.items())
    request = {
        "method": method,
        "url": f"http://localhost:7071/api/runbooks/failover?{query}",
        "headers": {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        "params": params,
        "body": copy.deepcopy(body),
    }
    result: dict[str, Any] = invoke_function(function_app.app, "runbook", request).to_dict()["result"]
    return result


def status(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from ops.services import get_services

    pin_clock(server, monkeypatch)
    found: dict[str, Any] = get_services().failover_service().status()[0]
    return found


def arm_writes(server: SandboxServer, since: int = 0) -> list[dict[str, Any]]:
    logged = control(server, "GET", "requests")["requests"][since:]
    return [r for r in logged if r["service"] == "arm" and r["method"] in ("PUT", "PATCH")]


def test_duplicates_and_out_of_order_alerts_change_nothing(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    impair(server, PRIMARY)
    active = fresh(service_health("Active", pin_clock(server, monkeypatch)))
    assert post_alert(server, active)["detail"]["stamps"][0]["decision"] == "failover"
    logged = len(control(server, "GET", "requests")["requests"])
    assert post_alert(server, active)["status"] == "ignored"  # the action group's retry
    older = (
        datetime.fromisoformat(control(server, "GET", "clock")["now"]) - timedelta(minutes=30)
    ).isoformat()
    stale = post_alert(server, fresh(service_health("Resolved", older)))
    assert stale["status"] == "handled" and stale["detail"]["signals"] == 0, stale
    assert status(server, monkeypatch)["regions"][PRIMARY]["impaired"] is True
    assert arm_writes(server, logged) == []
    assert paths(server) == FAILED_OVER


def test_both_regions_impaired_moves_nothing(server: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    impair(server, SECONDARY)
    at = pin_clock(server, monkeypatch)
    post_alert(server, fresh(service_health("Active", at, region="West US 2")))
    impair(server, PRIMARY)
    refused = incident(server, monkeypatch, "Active")
    (stamp,) = refused["detail"]["stamps"]
    assert stamp["decision"] == "refuse" and stamp["phase"] == "normal", refused
    assert paths(server) == normal_paths()
    assert "nowhere healthy" in status(server, monkeypatch)["note"]


def test_the_last_enabled_origin_is_never_disabled(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from azure.mgmt.cdn import CdnManagementClient

    from tests.support.sandbox import arm_client

    cdn = arm_client(CdnManagementClient, server)  # someone disables westus2's origin by hand
    cdn.afd_origins.begin_update(
        "rg-edge", NAMES["front_door"], "og-api", SECONDARY, {"properties": {"enabledState": "Disabled"}}
    ).result()
    impair(server, PRIMARY)
    assert incident(server, monkeypatch, "Active")["detail"]["stamps"][0]["phase"] == "failed-over"
    moved = paths(server)
    assert moved["origins"] == {PRIMARY: "Enabled", SECONDARY: "Disabled"}
    assert moved["pointer"] == SECONDARY and moved["routed"][PRIMARY] is False


def test_arm_refusal_of_the_routing_change_is_bounded(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    control(server, "PATCH", "regions", {"replicationWritesWhenHomeDown": "refuse"})
    impair(server, PRIMARY)
    assert incident(server, monkeypatch, "Active")["detail"]["stamps"][0]["phase"] == "failed-over"
    moved = paths(server)
    assert moved["pointer"] == SECONDARY and moved["origins"][PRIMARY] == "Disabled"
    assert moved["routed"][PRIMARY] is True  # refused: still routed
    recorded = status(server, monkeypatch)
    assert (
        recorded["routingAttempts"] == 1
        and "home region eastus2 is unavailable" in recorded["routingRefused"]
    )
    assert [watch(server, monkeypatch)[0] for _ in range(3)] == ["failover", "failover", "page"]
    assert "a person must finish it" in status(server, monkeypatch)["note"]


def test_two_concurrent_watchers_give_one_actor(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ops.failover.machine import Signal
    from ops.services import get_services

    impair(server, PRIMARY)
    pin_clock(server, monkeypatch)
    service = get_services().failover_service()
    service.record_signals([Signal(PRIMARY, "servicehealth:X", True, service.clock(), "incident")])
    barrier = threading.Barrier(2)
    decisions: list[str] = []

    def run() -> None:
        barrier.wait()
        answer = invoke_function(function_app.app, "failover_watch", TIMER_STATUS).to_dict()
        decisions.append(answer["result"]["stamps"][0]["decision"])

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(decisions) in (["busy", "failover"], ["failover", "wait"])
    origin_writes = [r for r in arm_writes(server) if r["operation"] == "afd_origins.update"]
    assert len(origin_writes) == 1
    assert paths(server) == FAILED_OVER


def test_a_failure_mid_failover_is_redelivered_and_resumes(
    server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = {
        "kind": "error",
        "service": "arm",
        "method": "PATCH",
        "path": "/origins/",
        "status": 500,
        "count": 8,
    }
    control(server, "POST", "faults", fault)  # every try of the traffic step fails
    impair(server, PRIMARY)
    active = fresh(service_health("Active", pin_clock(server, monkeypatch)))
    token = mint(server, roles=["ActionGroupsSecureWebhook"], app=True)
    first = invoke_function(function_app.app, "alert_webhook", webhook_request(active, token)).to_dict()
    assert first["result"]["status"] == 503, first  # transient: the action group retries
    recorded = status(server, monkeypatch)
    assert recorded["phase"] == "failing-over" and recorded["done"] == ["pointer"]
    retried = post_alert(server, active)
    assert retried["detail"]["stamps"] == [
        {"stamp": "payments0", "decision": "failover", "phase": "failed-over"}
    ]
    assert paths(server) == FAILED_OVER
