"""ops.adapters.aks against the sandbox, through the real azure-mgmt-containerservice.

Cases: a cluster GET maps power, provisioning and pools (count, autoscaler bounds,
mode); stop starts an operation without waiting and returns its status URL, which
reads InProgress until the operation ends and Succeeded after; an injected LRO failure
reads Failed with ARM's error code; a pool scaled to zero and back gets exactly its
count and autoscaler bounds again; a System pool cannot go to zero (PermanentError);
tag updates merge, keep the other tags and remove on None; ARM errors become the
project's errors (Conflict for a second stop, NotFound for a missing cluster,
TransientError for a 502 on a POST, which azure-core does not retry).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.adapters.aks import AksClusters
from ops.config import load_settings
from ops.errors import Conflict, NotFound, PermanentError, TransientError
from ops.schedule.clusters import ZERO, PoolScale
from ops.schedule.protocols import OperationState
from sandbox.server import SandboxServer
from tests.support.sandbox import SUBSCRIPTION, app_sandbox, control

PROVIDER = "providers/Microsoft.ContainerService/managedClusters"
CLUSTER = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-aks/{PROVIDER}/aks-a"
ESTATE: dict[str, Any] = {
    "settings": {"lroSeconds": 600},
    "subscriptions": [
        {"id": SUBSCRIPTION, "name": "test", "resourceGroups": [{"name": "rg-aks", "location": "westeurope"}]}
    ],
    "clusters": [
        {
            "name": "aks-a",
            "resourceGroup": "rg-aks",
            "tags": {"environment": "dev", "Owner": "team-a"},
            "agentPools": [
                {"name": "system", "mode": "System", "count": 1},
                {"name": "apps", "count": 3, "enableAutoScaling": True, "minCount": 2, "maxCount": 6},
            ],
        }
    ],
}


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxServer]:
    with app_sandbox(ESTATE, tmp_path, monkeypatch) as server:
        yield server


@pytest.fixture
def adapter(sandbox: SandboxServer) -> AksClusters:
    import os

    return AksClusters(load_settings(os.environ))


def finish(server: SandboxServer) -> None:
    control(server, "POST", "clock", {"advance": 601})


def test_get_cluster_maps_power_and_pools(adapter: AksClusters) -> None:
    cluster = adapter.get_cluster(CLUSTER)
    assert (cluster.name, cluster.subscription, cluster.resource_group) == ("aks-a", SUBSCRIPTION, "rg-aks")
    assert (cluster.power_state, cluster.provisioning_state) == ("Running", "Succeeded")
    assert {p.name: (p.mode, p.scale) for p in cluster.pools} == {
        "system": ("System", PoolScale(1)),
        "apps": ("User", PoolScale(3, True, 2, 6)),
    }
    assert cluster.tags["Owner"] == "team-a"


def test_stop_returns_at_once_and_its_status_is_read_later(
    sandbox: SandboxServer, adapter: AksClusters
) -> None:
    ref = adapter.begin_stop(CLUSTER)
    assert ref.url is not None and "/operations/" in ref.url
    assert adapter.get_operation(ref).state is OperationState.IN_PROGRESS
    assert adapter.get_cluster(CLUSTER).provisioning_state == "Stopping"
    finish(sandbox)
    assert adapter.get_operation(ref).state is OperationState.SUCCEEDED
    assert adapter.get_cluster(CLUSTER).power_state == "Stopped"
    with pytest.raises(Conflict, match="OperationNotAllowed"):
        adapter.begin_stop(CLUSTER)


def test_a_failed_operation_reads_failed_with_the_arm_error(
    sandbox: SandboxServer, adapter: AksClusters
) -> None:
    control(
        sandbox,
        "POST",
        "faults",
        {"kind": "lro_failure", "service": "arm", "path": "/stop$", "count": 1, "code": "AllocationFailed"},
    )
    ref = adapter.begin_stop(CLUSTER)
    finish(sandbox)
    result = adapter.get_operation(ref)
    assert result.state is OperationState.FAILED
    assert result.error is not None and result.error.startswith("(AllocationFailed)")


def test_a_pool_goes_to_zero_and_back_exactly(sandbox: SandboxServer, adapter: AksClusters) -> None:
    ref = adapter.begin_scale_pool(CLUSTER, "apps", ZERO)
    finish(sandbox)
    assert adapter.get_operation(ref).state is OperationState.SUCCEEDED
    apps = {p.name: p for p in adapter.get_cluster(CLUSTER).pools}["apps"]
    assert apps.scale == PoolScale(0)
    ref = adapter.begin_scale_pool(CLUSTER, "apps", PoolScale(3, True, 2, 6))
    finish(sandbox)
    assert adapter.get_operation(ref).state is OperationState.SUCCEEDED
    world_pool = sandbox.world.clusters["aks-a"].agent_pools["apps"]
    assert (world_pool.count, world_pool.enable_auto_scaling, world_pool.min_count, world_pool.max_count) == (
        3,
        True,
        2,
        6,
    )
    assert world_pool.vm_size == "Standard_D4s_v5"  # the PUT sent the pool back whole


def test_a_system_pool_cannot_go_to_zero(adapter: AksClusters) -> None:
    with pytest.raises(PermanentError, match="system pool"):
        adapter.begin_scale_pool(CLUSTER, "system", ZERO)


def test_tags_merge(sandbox: SandboxServer, adapter: AksClusters) -> None:
    tags = adapter.update_tags(CLUSTER, {"ops-snooze-until": "2026-11-26T23:00:00+01:00", "owner": None})
    assert tags == {"environment": "dev", "ops-snooze-until": "2026-11-26T23:00:00+01:00"}
    assert sandbox.world.clusters["aks-a"].tags == tags


def test_errors_are_translated(sandbox: SandboxServer, adapter: AksClusters) -> None:
    with pytest.raises(NotFound):
        adapter.get_cluster(CLUSTER.replace("aks-a", "aks-missing"))
    # A POST is not retried by azure-core on 502 without Retry-After: the adapter's
    # caller sees the TransientError at once (the executor retries it).
    control(
        sandbox,
        "POST",
        "faults",
        {"kind": "error", "service": "arm", "path": "/stop$", "status": 502, "retryAfter": 0},
    )
    with pytest.raises(TransientError):
        adapter.begin_stop(CLUSTER)
