"""The sandbox's Kubernetes API server, driven by the real ``kubernetes`` client.

The client is configured as the app does it: server and CA from the kubeconfig that
ARM's listClusterUserCredential returns (through ContainerServiceClient), and a
ManagedIdentityCredential token for the AKS AAD server application.

Cases:
- /version and discovery answer; /version is public, everything else needs a token;
- a missing token or a token for another audience gets 401 with a Status body;
- CoreV1Api lists 5,000 pods across all namespaces in pages of 500 (limit/continue),
  every pod exactly once, in key order; per-namespace lists page too;
- a continue token older than the TTL (moved with world.clock_offset) gets 410 Gone,
  reason Expired, and a Status whose continue token resumes the rest;
- a garbage continue token is a 400;
- label selectors: =, ==, !=, in, notin, exists, !key; a malformed one is a 400;
- field selectors on status.phase, spec.nodeName, metadata.name, metadata.namespace
  (and !=); an unsupported field label is a 400 "field label not supported";
- namespaces, nodes and events list; a missing object is a 404 Status;
- AppsV1Api: patch_namespaced_deployment_scale, strategic-merge, merge and JSON patches
  of replicas bump resourceVersion and generation and change the World; the status
  converges; a negative replica count is a 422;
- a stale resourceVersion (replace, patch, scale replace) is a 409 Conflict;
- statefulsets scale; daemonsets list; BatchV1Api lists cronjobs in all namespaces and
  patches suspend;
- server-side apply is refused with 415;
- Azure RBAC: with role assignments that grant only reads, a patch is 403 Forbidden;
- a cluster stopped through ARM (begin_stop) has an API server that does not answer:
  the client raises a urllib3 connection error, not an ApiException; started again
  (begin_start), it answers.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import urllib3
from azure.identity import ManagedIdentityCredential
from azure.mgmt.containerservice import ContainerServiceClient
from kubernetes import client
from kubernetes.client.rest import ApiException

from sandbox.world import Cluster, RoleAssignment, World
from tests.support.sandbox import arm_client, kube_configuration, serve_sandbox

SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
CLUSTER = "aks-kube"
ESTATE = {
    "settings": {"throttling": False, "lroSeconds": 0.2},
    "subscriptions": [
        {
            "id": SUBSCRIPTION,
            "name": "kube tests",
            "resourceGroups": [{"name": "rg-aks", "location": "eastus2"}],
        }
    ],
    "clusters": [
        {
            "name": CLUSTER,
            "resourceGroup": "rg-aks",
            "location": "eastus2",
            "kubernetesVersion": "1.30.5",
            "agentPools": [{"name": "system", "mode": "System", "count": 2}, {"name": "user", "count": 2}],
            "namespaces": ["payments", {"name": "web", "labels": {"team": "web"}}],
            "deployments": [
                {
                    "name": "web",
                    "namespace": "web",
                    "replicas": 3,
                    "containers": ["mcr.microsoft.com/azuredocs/aks-helloworld:v1"],
                    "labels": {"tier": "frontend"},
                }
            ],
            "statefulsets": [
                {
                    "name": "db",
                    "namespace": "payments",
                    "replicas": 2,
                    "containers": ["mcr.microsoft.com/pg:16"],
                }
            ],
            "daemonsets": [
                {"name": "agent", "namespace": "kube-system", "containers": ["mcr.microsoft.com/fluent:1"]}
            ],
            "cronjobs": [
                {
                    "name": "nightly",
                    "namespace": "payments",
                    "schedule": "0 2 * * *",
                    "containers": ["mcr.microsoft.com/batch:1"],
                }
            ],
            "pods": [
                {
                    "name": "stuck",
                    "namespace": "payments",
                    "containers": ["mcr.microsoft.com/x:1"],
                    "phase": "Pending",
                    "reason": "Unschedulable",
                    "labels": {"app": "stuck", "tier": "batch"},
                },
                {
                    "name": "done",
                    "namespace": "payments",
                    "containers": ["mcr.microsoft.com/x:1"],
                    "phase": "Succeeded",
                    "labels": {"app": "report"},
                },
            ],
            "generate": {"pods": 5000, "namespaces": 10, "replicasPerDeployment": 50},
        }
    ],
}


@dataclass
class KubeClients:
    """A kubernetes ApiClient configured as the app would: from ARM's kubeconfig, with a
    managed-identity token for the AKS AAD server; and what tests need around it."""

    api: client.ApiClient
    world: World
    configuration: client.Configuration
    arm: ContainerServiceClient

    def token_for(self, audience: str) -> str:
        return ManagedIdentityCredential().get_token(f"{audience}/.default").token

    def with_token(self, token: str | None) -> client.ApiClient:
        config = copy.copy(self.configuration)
        config.refresh_api_key_hook = None  # the kubeconfig loader's hook would restore its token
        config.api_key = {"BearerToken": f"Bearer {token}"} if token else {}
        return client.ApiClient(config)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeClients]:
    with serve_sandbox(ESTATE, tmp_path_factory.mktemp("kube")) as server:
        arm = arm_client(ContainerServiceClient, server, SUBSCRIPTION)
        configuration = kube_configuration(arm, "rg-aks", CLUSTER)
        assert configuration.host == f"https://127.0.0.1:{server.world.clusters[CLUSTER].port}"
        yield KubeClients(client.ApiClient(configuration), server.world, configuration, arm)


@pytest.fixture()
def world(kube: KubeClients) -> World:
    return kube.world


@pytest.fixture()
def cluster(world: World) -> Cluster:
    return world.clusters[CLUSTER]


def _body(error: ApiException) -> dict:
    return json.loads(error.body)


def _all_pod_keys(cluster: Cluster) -> list[str]:
    return sorted(f"{ns}/{name}" for ns, name in cluster.kube.pods)


# -- version, discovery, authentication ---------------------------------------------


def test_version_and_discovery(kube: KubeClients) -> None:
    version = client.VersionApi(kube.api).get_code()
    assert version.git_version == "v1.30.5"
    assert (version.major, version.minor) == ("1", "30")
    assert client.CoreApi(kube.api).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(kube.api).get_api_versions().groups}
    assert {"apps", "batch"} <= groups
    resources = {r.name for r in client.AppsV1Api(kube.api).get_api_resources().resources}
    assert {"deployments", "deployments/scale", "statefulsets", "daemonsets"} <= resources


def test_version_is_public_but_lists_need_a_token(kube: KubeClients) -> None:
    anonymous = kube.with_token(None)
    assert client.VersionApi(anonymous).get_code().git_version == "v1.30.5"
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(anonymous).list_namespace()
    assert caught.value.status == 401
    assert _body(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_a_token_for_another_audience_is_refused(kube: KubeClients) -> None:
    wrong = kube.with_token(kube.token_for("https://management.azure.com"))
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(wrong).list_namespaced_pod("payments")
    assert caught.value.status == 401
    assert _body(caught.value)["reason"] == "Unauthorized"


# -- chunked lists -------------------------------------------------------------------


def _raw(call, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    """The JSON body of a client call: big lists skip model building, which is the client's cost."""
    return json.loads(call(_preload_content=False, **kwargs).data)


def test_list_all_pods_in_pages_of_500(kube: KubeClients, cluster: Cluster) -> None:
    core = client.CoreV1Api(kube.api)
    seen: list[str] = []
    token = None
    pages = 0
    versions = set()
    while True:
        page = _raw(core.list_pod_for_all_namespaces, limit=500, _continue=token)
        pages += 1
        assert page["kind"] == "PodList"
        assert page["apiVersion"] == "v1"
        versions.add(page["metadata"]["resourceVersion"])
        assert len(page["items"]) <= 500
        seen += [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in page["items"]]
        token = page["metadata"].get("continue")
        if token:
            assert page["metadata"]["remainingItemCount"] == len(cluster.kube.pods) - len(seen)
        else:
            break
    assert seen == _all_pod_keys(cluster)  # every pod once, in etcd key order
    assert pages == -(-len(cluster.kube.pods) // 500)
    assert len(versions) == 1  # every page reports the list's resourceVersion


def test_list_pods_of_one_namespace_in_pages(kube: KubeClients, cluster: Cluster) -> None:
    core = client.CoreV1Api(kube.api)
    expected = sorted(name for ns, name in cluster.kube.pods if ns == "team-003")
    names: list[str] = []
    token = None
    while True:
        page = core.list_namespaced_pod("team-003", limit=120, _continue=token)
        assert {p.metadata.namespace for p in page.items} <= {"team-003"}
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert names == expected
    assert len(expected) == 500


def test_expired_continue_token_is_410_gone(kube: KubeClients, world: World) -> None:
    core = client.CoreV1Api(kube.api)
    first = core.list_pod_for_all_namespaces(limit=100)
    token = first.metadata._continue
    assert token
    try:
        world.clock_offset += 301  # past the 300 s default TTL
        with pytest.raises(ApiException) as caught:
            core.list_pod_for_all_namespaces(limit=100, _continue=token)
    finally:
        world.clock_offset -= 301
    error = caught.value
    assert error.status == 410
    body = _body(error)
    assert body["kind"] == "Status"
    assert body["reason"] == "Expired"
    assert body["code"] == 410
    assert body["message"].startswith(
        "The provided continue parameter is too old to display a consistent list"
    )
    # The apiserver offers a token for the inconsistent remainder; it resumes the list.
    rest = core.list_pod_for_all_namespaces(limit=100, _continue=body["metadata"]["continue"])
    assert rest.items[0].metadata.name not in {p.metadata.name for p in first.items}


def test_continue_token_younger_than_the_ttl_still_works(kube: KubeClients, world: World) -> None:
    core = client.CoreV1Api(kube.api)
    token = core.list_pod_for_all_namespaces(limit=10).metadata._continue
    try:
        world.clock_offset += 200
        page = core.list_pod_for_all_namespaces(limit=10, _continue=token)
    finally:
        world.clock_offset -= 200
    assert len(page.items) == 10


def test_garbage_continue_token_is_400(kube: KubeClients) -> None:
    garbage = base64.urlsafe_b64encode(b"not json").decode()
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(kube.api).list_pod_for_all_namespaces(limit=5, _continue=garbage)
    assert caught.value.status == 400
    assert _body(caught.value)["reason"] == "BadRequest"


# -- selectors -------------------------------------------------------------------------


def _labels_match(cluster: Cluster, test) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        f"{ns}/{name}"
        for (ns, name), pod in cluster.kube.pods.items()
        if test(pod["metadata"].get("labels") or {})
    }


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=stuck", lambda labels: labels.get("app") == "stuck"),
        ("app==web", lambda labels: labels.get("app") == "web"),
        ("tier!=frontend", lambda labels: labels.get("tier") != "frontend"),
        ("app in (db, agent)", lambda labels: labels.get("app") in ("db", "agent")),
        (
            "app notin (app-00001,app-00002,web)",
            lambda labels: labels.get("app") not in ("app-00001", "app-00002", "web"),
        ),
        ("tier", lambda labels: "tier" in labels),
        ("!pod-template-hash", lambda labels: "pod-template-hash" not in labels),
        (
            "app=web,tier=frontend",
            lambda labels: labels.get("app") == "web" and labels.get("tier") == "frontend",
        ),
    ],
)
def test_label_selectors(kube: KubeClients, cluster: Cluster, selector: str, expected) -> None:  # type: ignore[no-untyped-def]
    pods = _raw(client.CoreV1Api(kube.api).list_pod_for_all_namespaces, label_selector=selector)["items"]
    got = {f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods}
    assert got == _labels_match(cluster, expected)
    assert got  # every case selects something, so a selector ignored would be caught


def test_malformed_label_selector_is_400(kube: KubeClients) -> None:
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(kube.api).list_pod_for_all_namespaces(label_selector="app in (a,")
    assert caught.value.status == 400
    assert "unable to parse requirement" in _body(caught.value)["message"]


def test_field_selectors(kube: KubeClients, cluster: Cluster) -> None:
    core = client.CoreV1Api(kube.api)
    pending = core.list_pod_for_all_namespaces(field_selector="status.phase=Pending").items
    assert {p.metadata.name for p in pending} == {
        name for (_, name), pod in cluster.kube.pods.items() if pod["status"]["phase"] == "Pending"
    }
    assert "stuck" in {p.metadata.name for p in pending}
    node = next(iter(cluster.kube.nodes))
    on_node = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={node}").items
    assert on_node
    assert {p.spec.node_name for p in on_node} == {node}
    assert len(on_node) == sum(1 for p in cluster.kube.pods.values() if p["spec"].get("nodeName") == node)
    named = core.list_pod_for_all_namespaces(field_selector="metadata.name=stuck,metadata.namespace=payments")
    assert [p.metadata.name for p in named.items] == ["stuck"]
    not_running = core.list_namespaced_pod("payments", field_selector="status.phase!=Running").items
    assert {p.metadata.name for p in not_running} == {"stuck", "done"}


def test_unsupported_field_label_is_400(kube: KubeClients) -> None:
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(kube.api).list_pod_for_all_namespaces(field_selector="status.hostIP=10.0.0.1")
    assert caught.value.status == 400
    body = _body(caught.value)
    assert body["reason"] == "BadRequest"
    assert body["message"].endswith("field label not supported: status.hostIP")


# -- other kinds -------------------------------------------------------------------------


def test_namespaces_nodes_and_events(kube: KubeClients, cluster: Cluster) -> None:
    core = client.CoreV1Api(kube.api)
    namespaces = {n.metadata.name for n in core.list_namespace().items}
    assert namespaces == set(cluster.kube.namespaces)
    assert core.read_namespace("web").metadata.labels["team"] == "web"
    nodes = core.list_node().items
    assert {n.metadata.name for n in nodes} == set(cluster.kube.nodes)
    events = core.list_namespaced_event("payments").items
    assert any(e.reason == "FailedScheduling" and e.involved_object.name == "stuck" for e in events)
    all_events = core.list_event_for_all_namespaces(field_selector="reason=FailedScheduling").items
    assert len(all_events) == len(cluster.kube.events)


def test_missing_object_is_404(kube: KubeClients) -> None:
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(kube.api).read_namespaced_deployment("nope", "web")
    assert caught.value.status == 404
    body = _body(caught.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "nope" not found'


# -- writes --------------------------------------------------------------------------------


def test_scale_subresource_patch(kube: KubeClients, cluster: Cluster) -> None:
    apps = client.AppsV1Api(kube.api)
    before = apps.read_namespaced_deployment("web", "web")
    scale = apps.read_namespaced_deployment_scale("web", "web")
    assert scale.spec.replicas == before.spec.replicas
    assert scale.status.selector == "app=web"
    patched = apps.patch_namespaced_deployment_scale("web", "web", {"spec": {"replicas": 5}})
    assert patched.spec.replicas == 5
    assert int(patched.metadata.resource_version) > int(before.metadata.resource_version)
    after = apps.read_namespaced_deployment("web", "web")
    assert after.spec.replicas == 5
    assert after.metadata.generation == before.metadata.generation + 1
    assert after.status.ready_replicas == 5
    assert after.status.observed_generation == after.metadata.generation
    assert cluster.kube.deployments[("web", "web")]["spec"]["replicas"] == 5
    assert int(after.metadata.resource_version) == cluster.kube.resource_version


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"spec": {"replicas": 0}}, None),  # the client's default for a dict: strategic merge
        ({"spec": {"replicas": 1}}, "application/merge-patch+json"),
        ([{"op": "replace", "path": "/spec/replicas", "value": 2}], None),  # a list: JSON patch
    ],
)
def test_patch_replicas_in_each_format(kube: KubeClients, cluster: Cluster, body, content_type) -> None:  # type: ignore[no-untyped-def]
    apps = client.AppsV1Api(kube.api)
    extra = {"_content_type": content_type} if content_type else {}
    patched = apps.patch_namespaced_deployment("web", "web", body, **extra)
    wanted = body["spec"]["replicas"] if isinstance(body, dict) else body[0]["value"]
    assert patched.spec.replicas == wanted
    assert cluster.kube.deployments[("web", "web")]["spec"]["replicas"] == wanted
    # Everything else in the spec survives a patch of one field.
    assert patched.spec.template.spec.containers[0].image == "mcr.microsoft.com/azuredocs/aks-helloworld:v1"
    if wanted == 0:
        assert patched.status.ready_replicas is None  # the apiserver omits zero counts


def test_negative_replicas_is_422(kube: KubeClients) -> None:
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(kube.api).patch_namespaced_deployment_scale("web", "web", {"spec": {"replicas": -1}})
    assert caught.value.status == 422
    assert _body(caught.value)["reason"] == "Invalid"


def test_stale_resource_version_is_409(kube: KubeClients) -> None:
    apps = client.AppsV1Api(kube.api)
    stale = apps.read_namespaced_deployment("web", "web")
    apps.patch_namespaced_deployment_scale("web", "web", {"spec": {"replicas": 4}})  # someone else writes
    stale.spec.replicas = 7
    with pytest.raises(ApiException) as caught:
        apps.replace_namespaced_deployment("web", "web", stale)
    assert caught.value.status == 409
    body = _body(caught.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    with pytest.raises(ApiException) as patch_conflict:
        apps.patch_namespaced_deployment(
            "web",
            "web",
            {"metadata": {"resourceVersion": stale.metadata.resource_version}, "spec": {"replicas": 7}},
        )
    assert patch_conflict.value.status == 409
    scale = apps.read_namespaced_deployment_scale("web", "web")
    apps.patch_namespaced_deployment_scale("web", "web", {"spec": {"replicas": 3}})
    scale.spec.replicas = 9
    with pytest.raises(ApiException) as scale_conflict:
        apps.replace_namespaced_deployment_scale("web", "web", scale)
    assert scale_conflict.value.status == 409
    # Read again, retry: the write goes through.
    fresh = apps.read_namespaced_deployment("web", "web")
    fresh.spec.replicas = 7
    assert apps.replace_namespaced_deployment("web", "web", fresh).spec.replicas == 7


def test_statefulsets_daemonsets_and_cronjobs(kube: KubeClients, cluster: Cluster) -> None:
    apps = client.AppsV1Api(kube.api)
    scaled = apps.patch_namespaced_stateful_set_scale("db", "payments", {"spec": {"replicas": 0}})
    assert scaled.spec.replicas == 0
    assert cluster.kube.statefulsets[("payments", "db")]["spec"]["replicas"] == 0
    daemonsets = apps.list_daemon_set_for_all_namespaces().items
    assert [(d.metadata.namespace, d.metadata.name) for d in daemonsets] == [("kube-system", "agent")]
    deployments = apps.list_deployment_for_all_namespaces(limit=40)
    assert len(deployments.items) == 40
    assert deployments.metadata._continue
    batch = client.BatchV1Api(kube.api)
    jobs = batch.list_cron_job_for_all_namespaces().items
    assert [(j.metadata.namespace, j.metadata.name, j.spec.schedule) for j in jobs] == [
        ("payments", "nightly", "0 2 * * *")
    ]
    suspended = batch.patch_namespaced_cron_job("nightly", "payments", {"spec": {"suspend": True}})
    assert suspended.spec.suspend is True
    assert cluster.kube.cronjobs[("payments", "nightly")]["spec"]["suspend"] is True


def test_server_side_apply_is_415(kube: KubeClients) -> None:
    with pytest.raises(ApiException) as caught:
        client.AppsV1Api(kube.api).patch_namespaced_deployment(
            "web",
            "web",
            {"spec": {"replicas": 2}},
            _content_type="application/apply-patch+yaml",
            field_manager="t",
        )
    assert caught.value.status == 415
    assert _body(caught.value)["reason"] == "UnsupportedMediaType"


def test_azure_rbac_read_only_role_cannot_patch(kube: KubeClients, world: World, cluster: Cluster) -> None:
    apps = client.AppsV1Api(kube.api)
    scope = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-aks"
    with world.lock:
        world.identity.roles.append(RoleAssignment(scope=scope, role="Azure Kubernetes Service RBAC Reader"))
    try:
        assert apps.read_namespaced_deployment("web", "web").metadata.name == "web"
        with pytest.raises(ApiException) as caught:
            apps.patch_namespaced_deployment_scale("web", "web", {"spec": {"replicas": 1}})
    finally:
        with world.lock:
            world.identity.roles.clear()
    assert caught.value.status == 403
    body = _body(caught.value)
    assert body["reason"] == "Forbidden"
    assert 'cannot patch resource "deployments/scale" in API group "apps"' in body["message"]
    assert cluster.kube.deployments[("web", "web")]["spec"]["replicas"] != 1


# -- a stopped cluster -----------------------------------------------------------------------


def test_stopped_cluster_does_not_answer(kube: KubeClients, cluster: Cluster) -> None:
    core = client.CoreV1Api(kube.api)
    kube.arm.managed_clusters.begin_stop("rg-aks", CLUSTER).result()
    try:
        assert cluster.power_state == "Stopped"
        with pytest.raises(urllib3.exceptions.HTTPError) as caught:
            core.list_namespaced_pod("payments", _request_timeout=5)
        assert not isinstance(caught.value, ApiException)
    finally:
        kube.arm.managed_clusters.begin_start("rg-aks", CLUSTER).result()
    assert cluster.power_state == "Running"
    assert {p.metadata.name for p in core.list_namespaced_pod("payments").items} >= {"stuck", "done"}
