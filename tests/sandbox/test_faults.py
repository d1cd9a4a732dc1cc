"""Fault injection, throttling emulation, the request log and the control endpoints.

Cases:
- a 429 with Retry-After is honoured by azure-core's retry (the call succeeds, after
  the advertised wait); a 503 and a connection reset are retried too;
- an lro_failure fault makes begin_stop() end Failed, and the cluster shows Failed,
  still Running; on begin_start() of a stopped cluster it leaves what AKS leaves
  (Azure/AKS#2171): the cluster Failed but Running, every pool Failed and Running;
- a concurrent_write fault lands another writer's change (tags, a pool's maxCount) between
  a client's GET and its PUT: the PUT with If-Match on the eTag it read gets 412
  PreconditionFailed, the cluster shows the other change under a new eTag; a PUT without
  If-Match overwrites it, as ARM allows; a change is required on that kind only;
- latency is added; a fault with a rate hits some calls, not all; faults from the
  estate file apply like those posted to the control endpoint; count=N stops after N;
- ARM throttling: a per-subscription read bucket gives 429 + Retry-After once empty,
  with x-ms-ratelimit-remaining-subscription-reads counting down; switched off, none;
- ACR throttling per SKU: reads and writes have separate per-minute budgets, and a
  throttled call gets the registry's TOOMANYREQUESTS error;
- Resource Graph calls are logged as the "graph" service and carry the user-quota headers;
- the control endpoints: faults (list, add, reject invalid, clear), requests (read,
  filter, clear), events, settings, state (loads back as an estate).
"""

from __future__ import annotations

import time
import urllib.error
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential

from sandbox.estate import load_estate
from sandbox.server import SandboxServer
from tests.support.sandbox import ARM_SCOPE, SUBSCRIPTION, control, minimal_estate

RG = "rg-aks"
NAME = "aks-test"
CLUSTER_PATH = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RG}"
    f"/providers/Microsoft.ContainerService/managedClusters/{NAME}"
)


def statuses(server: SandboxServer, path: str) -> list[int]:
    return [r.status for r in server.world.requests if r.path == path]


def add_fault(server: SandboxServer, **fault: Any) -> None:
    control(server, "POST", "faults", fault)


def fail_next_operation(server: SandboxServer, path: str, *, code: str, message: str) -> None:
    """The next ARM operation started by a POST to ``path`` ends Failed with ``code``."""
    add_fault(
        server,
        kind="lro_failure",
        service="arm",
        method="POST",
        path=path,
        count=1,
        code=code,
        message=message,
    )


def https_session(server: SandboxServer) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the machine's REQUESTS_CA_BUNDLE would override verify
    session.verify = str(server.tls.ca_cert)
    return session


@pytest.fixture
def arm(sandbox: SandboxServer, sandbox_env: dict) -> requests.Session:
    """A raw session to the sandbox's ARM endpoint with the managed identity's token."""
    session = https_session(sandbox)
    session.headers["Authorization"] = f"Bearer {ManagedIdentityCredential().get_token(ARM_SCOPE).token}"
    return session


def cluster_url(server: SandboxServer) -> str:
    return f"{server.arm_endpoint}{CLUSTER_PATH}?api-version=2026-08-01"


def test_throttle_fault_is_retried_after_retry_after(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    add_fault(
        sandbox,
        kind="throttle",
        service="arm",
        method="GET",
        path="/managedClusters/aks-test$",
        count=1,
        retryAfter=1,
    )

    started = time.monotonic()
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)

    assert cluster.name == NAME
    assert time.monotonic() - started >= 1.0
    assert statuses(sandbox, CLUSTER_PATH) == [429, 200]


def test_503_and_connection_reset_are_retried(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    add_fault(
        sandbox,
        kind="error",
        status=503,
        service="arm",
        method="GET",
        path="/managedClusters/aks-test$",
        count=1,
        retryAfter=0,
    )
    add_fault(sandbox, kind="reset", service="arm", method="GET", path="/managedClusters/aks-test$", count=1)

    cluster = aks_mgmt.managed_clusters.get(RG, NAME)

    assert cluster.name == NAME
    assert statuses(sandbox, CLUSTER_PATH) == [503, 0, 200]  # 0: the connection was reset
    assert control(sandbox, "GET", "faults") == {"faults": []}  # both used up


def test_lro_failure_fails_the_poller(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    fail_next_operation(sandbox, "/stop$", code="AllocationFailed", message="no capacity")

    with pytest.raises(HttpResponseError) as failed:
        aks_mgmt.managed_clusters.begin_stop(RG, NAME).result()

    assert "AllocationFailed" in str(failed.value) or "Failed" in str(failed.value)
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)
    assert (cluster.provisioning_state, cluster.power_state.code) == ("Failed", "Running")
    aks_mgmt.managed_clusters.begin_stop(RG, NAME).result()  # the fault was for one operation only
    assert aks_mgmt.managed_clusters.get(RG, NAME).power_state.code == "Stopped"


def test_lro_failure_of_a_start_leaves_the_cluster_running_and_failed(
    sandbox: SandboxServer, aks_mgmt: Any
) -> None:
    aks_mgmt.managed_clusters.begin_stop(RG, NAME).result()
    fail_next_operation(
        sandbox, "/start$", code="OverconstrainedAllocationRequest", message="Allocation failed."
    )

    with pytest.raises(HttpResponseError) as failed:
        aks_mgmt.managed_clusters.begin_start(RG, NAME).result()

    assert "OverconstrainedAllocationRequest" in str(failed.value)
    cluster = aks_mgmt.managed_clusters.get(RG, NAME)
    assert (cluster.provisioning_state, cluster.power_state.code) == ("Failed", "Running")
    assert {(p.name, p.provisioning_state, p.power_state.code) for p in cluster.agent_pool_profiles} == {
        ("system", "Failed", "Running"),
        ("user", "Failed", "Running"),
    }
    pools = {p.name: (p.provisioning_state, p.power_state.code) for p in aks_mgmt.agent_pools.list(RG, NAME)}
    assert pools == {"system": ("Failed", "Running"), "user": ("Failed", "Running")}


def test_concurrent_write_makes_a_stale_if_match_412(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError

    read = aks_mgmt.managed_clusters.get(RG, NAME)
    pool = read.agent_pool_profiles[0]
    other = {
        "tags": {"owner": "platform"},
        "properties": {"agentPoolProfiles": [{"name": pool.name, "count": pool.count + 1}]},
    }
    add_fault(
        sandbox, kind="concurrent_write", service="arm", method="PUT", path=f"{NAME}$", count=1, change=other
    )
    read.tags = {**(read.tags or {}), "mine": "yes"}

    with pytest.raises(ResourceModifiedError) as stale:
        aks_mgmt.managed_clusters.begin_create_or_update(
            RG, NAME, read, etag=read.e_tag, match_condition=MatchConditions.IfNotModified
        ).result()

    assert stale.value.status_code == 412 and "PreconditionFailed" in str(stale.value)
    fresh = aks_mgmt.managed_clusters.get(RG, NAME)
    assert fresh.e_tag != read.e_tag
    assert fresh.tags == {"environment": "dev", "owner": "platform"}
    assert fresh.agent_pool_profiles[0].count == pool.count + 1
    assert control(sandbox, "GET", "faults") == {"faults": []}
    # Without If-Match the last writer wins: the stale body overwrites the other change.
    aks_mgmt.managed_clusters.begin_create_or_update(RG, NAME, read).result()
    assert aks_mgmt.managed_clusters.get(RG, NAME).tags == {"environment": "dev", "mine": "yes"}


def test_concurrent_write_needs_a_change(sandbox: SandboxServer) -> None:
    for fault in (
        {"kind": "concurrent_write"},
        {"kind": "concurrent_write", "change": {"location": "westus"}},
        {"kind": "concurrent_write", "change": {"properties": {"dnsPrefix": "x"}}},
        {"kind": "error", "change": {"tags": {}}},
    ):
        with pytest.raises(urllib.error.HTTPError) as invalid:
            control(sandbox, "POST", "faults", fault)
        assert invalid.value.code == 400, fault


def test_latency_and_rates(sandbox: SandboxServer, arm: requests.Session) -> None:
    session, url = arm, cluster_url(sandbox)
    add_fault(sandbox, kind="latency", service="arm", path="aks-test$", latencyMs=300, count=1)

    slow = session.get(url, timeout=10)
    assert slow.status_code == 200 and slow.elapsed.total_seconds() >= 0.3

    control(sandbox, "DELETE", "faults")
    add_fault(sandbox, kind="error", status=500, service="arm", path="aks-test$", rate=0.5)
    codes = [session.get(url, timeout=10).status_code for _ in range(30)]
    assert 5 <= codes.count(500) <= 25
    assert set(codes) == {200, 500}
    body = session.get(url, timeout=10)
    if body.status_code == 500:
        assert body.json()["error"]["code"] == "InternalServerError"


@pytest.mark.parametrize(
    "sandbox_estate",
    [
        minimal_estate(
            faults=[
                {
                    "kind": "error",
                    "status": 503,
                    "service": "arm",
                    "method": "GET",
                    "path": "/agentPools$",
                    "count": 2,
                    "retryAfter": 0,
                }
            ]
        )
    ],
    indirect=True,
)
def test_faults_from_the_estate_file(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    pools = list(aks_mgmt.agent_pools.list(RG, NAME))

    assert len(pools) == 2
    assert [r.status for r in sandbox.world.requests if r.path.endswith("/agentPools")] == [503, 503, 200]


def test_arm_read_bucket_throttles_per_subscription(sandbox: SandboxServer, arm: requests.Session) -> None:
    control(
        sandbox, "PATCH", "settings", {"limits": {"arm": {"reads": {"bucket": 5, "refillPerSecond": 0.5}}}}
    )
    session, url = arm, cluster_url(sandbox)

    responses = [session.get(url, timeout=10) for _ in range(6)]

    assert [r.status_code for r in responses] == [200] * 5 + [429]
    remaining = [int(r.headers["x-ms-ratelimit-remaining-subscription-reads"]) for r in responses]
    assert remaining == [4, 3, 2, 1, 0, 0]
    throttled = responses[-1]
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["error"]["code"] == "SubscriptionRequestsThrottled"

    control(sandbox, "PATCH", "settings", {"throttling": False})
    assert session.get(url, timeout=10).status_code == 200


def test_sdk_waits_out_arm_throttling(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    control(sandbox, "PATCH", "settings", {"limits": {"arm": {"reads": {"bucket": 1, "refillPerSecond": 1}}}})

    first = aks_mgmt.managed_clusters.get(RG, NAME)
    second = aks_mgmt.managed_clusters.get(RG, NAME)

    assert first.name == second.name == NAME
    assert 429 in [r.status for r in sandbox.world.requests if r.service == "arm"]


def test_acr_throttling_by_sku(sandbox: SandboxServer) -> None:
    control(
        sandbox,
        "PATCH",
        "settings",
        {"limits": {"acr": {"Premium": {"readsPerMinute": 3, "writesPerMinute": 1}}}},
    )
    registry = sandbox.world.registries["contosotest"]
    base = f"https://{registry.login_server}"
    session = https_session(sandbox)

    reads = [session.get(f"{base}/v2/", timeout=10) for _ in range(4)]
    writes = [session.delete(f"{base}/v2/payments/api/manifests/v1", timeout=10) for _ in range(2)]

    assert [r.status_code == 429 for r in reads] == [False, False, False, True]
    assert [r.status_code == 429 for r in writes] == [False, True]
    assert reads[-1].json()["errors"][0]["code"] == "TOOMANYREQUESTS"
    assert int(reads[-1].headers["Retry-After"]) >= 1
    assert {r.service for r in sandbox.world.requests} == {"acr:contosotest"}


def test_resource_graph_calls_are_the_graph_service(sandbox: SandboxServer, sandbox_env: dict) -> None:
    control(sandbox, "PATCH", "settings", {"limits": {"graph": {"queries": 2, "windowSeconds": 60}}})
    token = ManagedIdentityCredential().get_token(ARM_SCOPE).token
    url = f"{sandbox.arm_endpoint}/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
    body = {"subscriptions": [SUBSCRIPTION], "query": "resources | project name"}

    answers = [
        requests.post(
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            verify=str(sandbox.tls.ca_cert),
            timeout=10,
        )
        for _ in range(3)
    ]

    assert [a.headers["x-ms-user-quota-remaining"] for a in answers] == ["1", "0", "0"]
    assert answers[-1].status_code == 429
    assert {r.service for r in sandbox.world.requests if r.path.startswith("/providers")} == {"graph"}


def test_control_endpoints(sandbox: SandboxServer, aks_mgmt: Any) -> None:
    added = control(sandbox, "POST", "faults", [{"kind": "latency", "latencyMs": 1, "service": "kube:*"}])
    with pytest.raises(urllib.error.HTTPError) as invalid:
        control(sandbox, "POST", "faults", {"kind": "meteor"})
    aks_mgmt.managed_clusters.get(RG, NAME)
    logged = control(sandbox, "GET", "requests?service=arm")
    events = control(sandbox, "GET", "events")
    state = control(sandbox, "GET", "state")
    settings = control(sandbox, "PATCH", "settings", {"lroSeconds": 0.5})
    control(sandbox, "DELETE", "requests")
    control(sandbox, "DELETE", "faults")

    assert added["faults"] == [{"kind": "latency", "service": "kube:*", "latencyMs": 1}]
    assert invalid.value.code == 400
    assert [(r["method"], r["status"], r["operation"]) for r in logged["requests"]] == [
        ("GET", 200, "managed_clusters.get")
    ]
    assert events == {"events": []}
    assert load_estate(state).clusters[NAME].tags == {"environment": "dev"}
    assert settings["lroSeconds"] == 0.5
    assert sandbox.world.requests == [] and sandbox.world.faults == []
