"""The sandbox's ReplicaSets, Jobs and ReplicationControllers, through the real ``kubernetes``
client, and how an estate declares them.

Cases:
- every deployment has its current ReplicaSet (``<name>-<pod-template-hash>``, owned by
  the deployment, owner of its pods, revision N+1) and, with ``history``, one ReplicaSet
  per earlier revision, scaled to zero, with the previous image (even one whose tag is gone);
- standalone ReplicaSets and ReplicationControllers with their pods; standalone Jobs,
  complete or suspended;
- apps/v1 replicasets, batch/v1 jobs and v1 replicationcontrollers list across all
  namespaces and per namespace, page with ``limit``/``continue`` (every object once),
  and GET one; a missing one is a 404 Status; discovery lists all three;
- they are read-only (a PATCH is 405) and Azure RBAC's Reader role may list them;
- a ReplicaSet name a deployment's generated one already took is an estate error;
- dump → load → dump is a fixpoint with history, ReplicaSets, Jobs and controllers.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from azure.mgmt.containerservice import ContainerServiceClient
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.estate import EstateError, dump_estate, load_estate
from sandbox.estate.kubeobjects import template_hash
from sandbox.world import RoleAssignment, World
from tests.support.sandbox import (
    SUBSCRIPTION,
    arm_client,
    kube_configuration,
    minimal_estate,
    serve_sandbox,
)

CLUSTER = "aks-test"
API = "contosotest.azurecr.io/payments/api"


def estate() -> dict[str, Any]:
    data = minimal_estate()
    cluster = data["clusters"][0]
    cluster["deployments"] = [
        {
            "name": "api",
            "namespace": "payments",
            "replicas": 2,
            "containers": [f"{API}:v2"],
            # v0 is no longer in the registry: a rollback target may name a purged image.
            "history": [
                {"containers": [f"{API}:v0"], "age": "60d"},
                {"containers": [f"{API}:v1"], "age": "30d"},
            ],
        },
        *[
            {"name": f"web-{i}", "namespace": f"ns-{i % 3}", "containers": ["mcr.microsoft.com/web:1"]}
            for i in range(6)
        ],
    ]
    cluster["replicasets"] = [
        {"name": "legacy", "namespace": "payments", "replicas": 1, "containers": [f"{API}:v1"]}
    ]
    cluster["replicationcontrollers"] = [
        {"name": "old-rc", "namespace": "payments", "replicas": 2, "containers": ["mcr.microsoft.com/rc:1"]}
    ]
    cluster["jobs"] = [
        {"name": "migrate", "namespace": "payments", "containers": [f"{API}:v1"]},
        {"name": "backfill", "namespace": "payments", "suspend": True, "containers": [f"{API}:v0"]},
    ]
    return data


@dataclass
class Kube:
    api: client.ApiClient
    world: World

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def batch(self) -> client.BatchV1Api:
        return client.BatchV1Api(self.api)

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    with serve_sandbox(estate(), tmp_path_factory.mktemp("rollouts")) as server:
        configuration = kube_configuration(
            arm_client(ContainerServiceClient, server, SUBSCRIPTION), "rg-aks", CLUSTER
        )
        yield Kube(client.ApiClient(configuration), server.world)


def images(template: Any) -> list[str]:
    return [c.image.split("/", 1)[1] for c in template.spec.containers]


def test_a_deployment_owns_its_current_and_earlier_replica_sets(kube: Kube) -> None:
    deployment = kube.apps.read_namespaced_deployment("api", "payments")
    sets = kube.apps.list_namespaced_replica_set("payments").items
    mine = sorted(
        (rs for rs in sets if rs.metadata.owner_references and rs.metadata.owner_references[0].name == "api"),
        key=lambda rs: int(rs.metadata.annotations["deployment.kubernetes.io/revision"]),
    )
    assert [images(rs.spec.template) for rs in mine] == [
        ["payments/api:v0"],
        ["payments/api:v1"],
        ["payments/api:v2"],
    ]
    assert [rs.spec.replicas for rs in mine] == [0, 0, 2]
    assert deployment.metadata.annotations["deployment.kubernetes.io/revision"] == "3"
    current = mine[-1]
    assert current.metadata.name == f"api-{template_hash('payments', 'api')}"
    owner = current.metadata.owner_references[0]
    assert (owner.kind, owner.uid, owner.controller) == ("Deployment", deployment.metadata.uid, True)
    assert current.spec.selector.match_labels["pod-template-hash"] == current.metadata.name.rsplit("-", 1)[1]
    pods = kube.core.list_namespaced_pod("payments", label_selector="app=api").items
    assert len(pods) == 2
    assert {p.metadata.owner_references[0].uid for p in pods} == {current.metadata.uid}
    assert mine[0].metadata.creation_timestamp < mine[1].metadata.creation_timestamp


def test_standalone_replica_sets_controllers_and_jobs(kube: Kube) -> None:
    legacy = kube.apps.read_namespaced_replica_set("legacy", "payments")
    assert legacy.metadata.owner_references is None and images(legacy.spec.template) == ["payments/api:v1"]
    rc = kube.core.read_namespaced_replication_controller("old-rc", "payments")
    assert rc.spec.selector == {"app": "old-rc"} and rc.spec.replicas == 2
    owned = {
        p.metadata.owner_references[0].kind
        for p in kube.core.list_namespaced_pod("payments").items
        if p.metadata.owner_references
    }
    assert {"ReplicaSet", "ReplicationController"} <= owned
    jobs = {j.metadata.name: j for j in kube.batch.list_namespaced_job("payments").items}
    assert jobs["backfill"].spec.suspend is True
    assert [c.type for c in jobs["backfill"].status.conditions] == ["Suspended"]
    assert jobs["migrate"].status.succeeded == 1 and images(jobs["migrate"].spec.template) == [
        "payments/api:v1"
    ]
    assert (
        kube.batch.read_namespaced_job("backfill", "payments").metadata.uid == jobs["backfill"].metadata.uid
    )


def test_lists_across_namespaces_page_with_limit_and_continue(kube: Kube) -> None:
    cluster = kube.world.clusters[CLUSTER]
    expected = sorted(f"{ns}/{name}" for ns, name in cluster.kube.replicasets)
    assert len(expected) == 1 + 3 + 6  # standalone, api's three, one per web deployment
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = kube.apps.list_replica_set_for_all_namespaces(limit=3, _continue=token)
        seen += [f"{rs.metadata.namespace}/{rs.metadata.name}" for rs in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    assert seen == expected and pages == 4
    per_namespace = kube.apps.list_namespaced_replica_set("ns-1", limit=1)
    assert len(per_namespace.items) == 1 and per_namespace.metadata._continue
    assert {j.metadata.name for j in kube.batch.list_job_for_all_namespaces(limit=1).items} <= {
        "backfill",
        "migrate",
    }
    assert kube.batch.list_job_for_all_namespaces(limit=1).metadata._continue
    controllers = kube.core.list_replication_controller_for_all_namespaces().items
    assert [(c.metadata.namespace, c.metadata.name) for c in controllers] == [("payments", "old-rc")]


def test_discovery_missing_objects_and_read_only(kube: Kube) -> None:
    apps = {r.name for r in kube.apps.get_api_resources().resources}
    batch = {r.name for r in kube.batch.get_api_resources().resources}
    core = {r.name for r in kube.core.get_api_resources().resources}
    assert "replicasets" in apps and "jobs" in batch and "replicationcontrollers" in core
    with pytest.raises(ApiException) as caught:
        kube.apps.read_namespaced_replica_set("nope", "payments")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["message"] == 'replicasets.apps "nope" not found'
    with pytest.raises(ApiException) as refused:
        kube.apps.patch_namespaced_replica_set("legacy", "payments", {"spec": {"replicas": 3}})
    assert refused.value.status == 405
    assert kube.world.clusters[CLUSTER].kube.replicasets[("payments", "legacy")]["spec"]["replicas"] == 1


def test_azure_rbac_reader_lists_them(kube: Kube) -> None:
    world = kube.world
    with world.lock:
        world.identity.roles.append(
            RoleAssignment(
                scope=f"/subscriptions/{SUBSCRIPTION}", role="Azure Kubernetes Service RBAC Reader"
            )
        )
    try:
        assert kube.apps.list_replica_set_for_all_namespaces().items
        assert kube.batch.list_job_for_all_namespaces().items
        assert kube.core.list_replication_controller_for_all_namespaces().items
    finally:
        with world.lock:
            world.identity.roles.clear()


def test_a_replica_set_name_a_deployment_took_is_an_estate_error() -> None:
    data = estate()
    taken = f"api-{template_hash('payments', 'api')}"
    data["clusters"][0]["replicasets"].append(
        {"name": taken, "namespace": "payments", "containers": ["mcr.microsoft.com/x:1"]}
    )
    with pytest.raises(EstateError) as caught:
        load_estate(data)
    assert any("clusters[0].replicasets[1].name" in p and taken in p for p in caught.value.problems)


def test_dump_load_dump_is_a_fixpoint() -> None:
    world = load_estate(estate())
    first = dump_estate(world)
    (cluster,) = first["clusters"]
    api = next(d for d in cluster["deployments"] if d["name"] == "api")
    assert [h["containers"][0]["image"] for h in api["history"]] == [f"{API}:v0", f"{API}:v1"]
    assert [r["name"] for r in cluster["replicasets"]] == ["legacy"]
    assert {j["name"]: j["suspend"] for j in cluster["jobs"]} == {"migrate": False, "backfill": True}
    assert [c["name"] for c in cluster["replicationcontrollers"]] == ["old-rc"]
    again = load_estate(copy.deepcopy(first))
    assert dump_estate(again) == first
    assert set(again.clusters[CLUSTER].kube.replicasets) == set(world.clusters[CLUSTER].kube.replicasets)
