"""The sandbox's Resource Graph, through the real ResourceGraphClient over HTTPS.

Cases:
- ``resources`` rows for registries, replications and managed clusters: lower-case
  type, ARM ids, resourceGroup, subscriptionId, and properties equal to what ARM's GET
  returns through the management SDKs (login server, power state, agent pools, SNAT);
- ``where`` with ==, =~, !=, !~, in, in~, !in, has, contains, startswith, and, or,
  not(), parentheses, isempty/isnotempty, each against a known set of names;
- ``project`` with renames, nested paths (named a_b_c) and tostring(); ``extend`` with
  tolower() and extract(); ``mv-expand`` of agent pools; ``order by`` asc/desc; ``top N
  by``; ``limit``/``take``; ``summarize count() by``; ``distinct``; ``count``;
- the ``subscriptions`` of the request scope the rows; role assignments hide what the
  identity may not read;
- results follow the live World (a stopped cluster, a changed tag);
- paging: more than 1,000 rows come back in pages of at most 1,000 with a $skipToken
  that the next call follows to the end; $top and $skip; ``take`` disables paging
  (resultTruncated "true", no token); a token replayed with another query is refused;
- resultFormat "table" returns columns with types and rows; facets count by column;
- ``securityresources`` sub-assessments have Defender's shape, and Defender's own
  sample query (extract of the assessment key) finds them; a deleted image's findings
  disappear;
- anything outside the subset (join, summarize arg_max, an unknown table, a syntax
  error, an unknown column) is a 400 BadRequest with InvalidQuery details, never an
  empty success; a token for another audience is a 401;
- with throttling on, every answer carries x-ms-user-quota-remaining/-resets-after and
  the 16th query within 5 seconds is a 429 RateLimiting with Retry-After.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.identity import ManagedIdentityCredential
from azure.mgmt.containerregistry import ContainerRegistryManagementClient
from azure.mgmt.containerservice import ContainerServiceClient
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import (
    FacetRequest,
    FacetRequestOptions,
    QueryRequest,
    QueryRequestOptions,
)

from sandbox.graph.tables import ASSESSMENT_KEY
from sandbox.http import AKS_AUDIENCE
from sandbox.server import SandboxServer
from sandbox.world import RoleAssignment, World
from tests.support.sandbox import ARM_SCOPE, arm_client, serve_sandbox

S1 = "00000000-0000-4000-8000-0000000000a1"
S2 = "00000000-0000-4000-8000-0000000000a2"
SCAN_TAGS = [f"t{i:02d}" for i in range(40)]
SCAN_CVES = [f"CVE-2024-{1000 + i}" for i in range(30)]  # 40 images x 30 CVEs = 1,200 findings


def _estate() -> dict[str, Any]:
    findings = [
        {"image": f"contosoprod/scan/target:{tag}", "cve": cve, "severity": ("Low", "Medium", "High")[i % 3]}
        for tag in SCAN_TAGS
        for i, cve in enumerate(SCAN_CVES)
    ]
    findings += [
        {
            "image": "contosoprod/payments/api:v2",
            "cve": "CVE-2023-4863",
            "severity": "Critical",
            "fixStatus": "FixAvailable",
            "fixedVersion": "1.3.2",
            "package": "libwebp",
            "version": "1.2.4",
        },
        {
            "image": "contosoprod/payments/api:v1",
            "cve": "CVE-2022-42969",
            "severity": "High",
            "status": "NotApplicable",
            "cause": "Exempt",
            "fixStatus": "NoFixAvailable",
            "package": "py",
        },
    ]
    return {
        "settings": {"throttling": False, "lroSeconds": 0.2},
        "subscriptions": [
            {
                "id": S1,
                "name": "prod",
                "resourceGroups": [
                    {"name": "rg-acr", "location": "eastus2"},
                    {"name": "rg-aks", "location": "eastus2"},
                ],
            },
            {"id": S2, "name": "dev", "resourceGroups": [{"name": "rg-dev", "location": "westeurope"}]},
        ],
        "registries": [
            {
                "name": "contosoprod",
                "subscription": S1,
                "resourceGroup": "rg-acr",
                "tags": {"env": "prod", "owner": "platform-team"},
                "replications": [
                    {"location": "westeurope"},
                    {"location": "japaneast", "regionEndpointEnabled": False},
                ],
                "repositories": [
                    {
                        "name": "payments/api",
                        "manifests": [
                            {"tags": ["v1"], "age": "40d"},
                            {"tags": ["v2", "latest"], "age": "2d"},
                        ],
                    },
                    {"name": "scan/target", "manifests": [{"tags": [tag]} for tag in SCAN_TAGS]},
                ],
            },
            {
                "name": "contosodev",
                "subscription": S2,
                "resourceGroup": "rg-dev",
                "sku": "Standard",
                "tags": {"env": "dev"},
                "repositories": [{"name": "web/frontend", "manifests": [{"tags": ["v1"]}]}],
            },
        ],
        "findings": findings,
        "clusters": [
            {
                "name": "aks-prod",
                "subscription": S1,
                "resourceGroup": "rg-aks",
                "tags": {"env": "prod"},
                "networkProfile": {
                    "loadBalancerProfile": {
                        "managedOutboundIPs": {"count": 2},
                        "allocatedOutboundPorts": 1024,
                    }
                },
                "agentPools": [
                    {"name": "system", "mode": "System", "count": 1},
                    {"name": "user", "count": 2, "enableAutoScaling": True, "minCount": 1, "maxCount": 5},
                ],
            },
            {
                "name": "aks-dev",
                "subscription": S2,
                "resourceGroup": "rg-dev",
                "tags": {"env": "dev", "schedule": "office-hours"},
                "powerState": "Stopped",
                "agentPools": [{"name": "system", "mode": "System", "count": 1}],
            },
        ],
    }


@dataclass
class Graph:
    client: ResourceGraphClient
    server: SandboxServer
    env: dict[str, str]

    @property
    def world(self) -> World:
        return self.server.world

    def query(self, text: str, *, subscriptions: list[str] | None = None, **options: Any) -> Any:
        request = QueryRequest(
            query=text,
            subscriptions=[S1, S2] if subscriptions is None else subscriptions,
            options=QueryRequestOptions(**options) if options else None,
        )
        return self.client.resources(request)

    def rows(self, text: str, **kwargs: Any) -> list[dict[str, Any]]:
        return list(self.query(text, **kwargs).data)

    def names(self, text: str, **kwargs: Any) -> set[str]:
        return {row["name"] for row in self.rows(text, **kwargs)}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    with serve_sandbox(_estate(), tmp_path_factory.mktemp("graph")) as server:
        env = server.env()
        client = ResourceGraphClient(
            ManagedIdentityCredential(), base_url=env["OPS_ARM_ENDPOINT"], credential_scopes=[ARM_SCOPE]
        )
        yield Graph(client, server, env)


def _details(error: HttpResponseError) -> list[dict[str, Any]]:
    body = error.response.json()
    assert body["error"]["code"] == "BadRequest"
    assert body["error"]["message"].startswith("Please provide below info when asking for support")
    return body["error"]["details"]


# -- resources rows -------------------------------------------------------------------


def test_resources_rows_match_what_arm_returns(graph: Graph) -> None:
    rows = graph.rows("resources | order by id asc")
    by_name = {row["name"]: row for row in rows}
    assert set(by_name) == _ALL  # a Premium registry lists its home region as a replication too
    registry = by_name["contosoprod"]
    assert registry["type"] == "microsoft.containerregistry/registries"
    assert registry["id"] == graph.world.registries["contosoprod"].id
    assert registry["id"].startswith(f"/subscriptions/{S1}/resourceGroups/rg-acr/providers/")
    assert (registry["resourceGroup"], registry["subscriptionId"]) == ("rg-acr", S1)
    assert registry["tags"] == {"env": "prod", "owner": "platform-team"}
    assert registry["sku"]["name"] == "Premium"
    assert by_name["japaneast"]["type"] == "microsoft.containerregistry/registries/replications"
    assert by_name["japaneast"]["properties"]["regionEndpointEnabled"] is False

    acr = arm_client(ContainerRegistryManagementClient, graph.server, S1)
    arm_registry = acr.registries.get("rg-acr", "contosoprod")
    assert registry["properties"]["loginServer"] == arm_registry.login_server
    assert registry["properties"]["loginServer"] == graph.world.registries["contosoprod"].login_server

    aks = arm_client(ContainerServiceClient, graph.server, S1)
    arm_cluster = aks.managed_clusters.get("rg-aks", "aks-prod")
    cluster = by_name["aks-prod"]
    assert cluster["type"] == "microsoft.containerservice/managedclusters"
    props = cluster["properties"]
    assert props["powerState"]["code"] == arm_cluster.power_state.code == "Running"
    assert props["kubernetesVersion"] == arm_cluster.kubernetes_version
    pools = {p["name"]: p for p in props["agentPoolProfiles"]}
    assert (
        pools["user"]["maxCount"]
        == 5
        == {p.name: p for p in arm_cluster.agent_pool_profiles}["user"].max_count
    )
    snat = props["networkProfile"]["loadBalancerProfile"]
    assert snat["managedOutboundIPs"]["count"] == 2
    assert (
        snat["allocatedOutboundPorts"]
        == 1024
        == arm_cluster.network_profile.load_balancer_profile.allocated_outbound_ports
    )
    assert by_name["aks-dev"]["properties"]["powerState"]["code"] == "Stopped"


# -- where ---------------------------------------------------------------------------------

_ALL = {"contosoprod", "eastus2", "westeurope", "japaneast", "contosodev", "aks-prod", "aks-dev"}


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("type == 'microsoft.containerservice/managedclusters'", {"aks-prod", "aks-dev"}),
        ("type =~ 'Microsoft.ContainerService/managedClusters'", {"aks-prod", "aks-dev"}),
        ("type == 'Microsoft.ContainerService/managedClusters'", set()),  # == is case-sensitive
        (
            "type != 'microsoft.containerregistry/registries/replications'",
            _ALL - {"eastus2", "westeurope", "japaneast"},
        ),
        ("location !~ 'EASTUS2'", {"westeurope", "japaneast", "aks-dev", "contosodev"}),
        ("name in ('aks-prod', 'contosodev', 'nothing')", {"aks-prod", "contosodev"}),
        ("tags.env in~ ('PROD')", {"contosoprod", "aks-prod"}),
        (
            "name !in ('aks-prod', 'aks-dev', 'westeurope', 'japaneast')",
            {"contosoprod", "contosodev", "eastus2"},
        ),
        ("tags.owner has 'platform'", {"contosoprod"}),
        ("tags.owner has 'plat'", set()),  # has matches whole terms only
        ("tags.owner contains 'plat'", {"contosoprod"}),
        ("name startswith 'AKS-'", {"aks-prod", "aks-dev"}),
        ("type =~ 'microsoft.containerservice/managedclusters' and tags.env == 'prod'", {"aks-prod"}),
        ("tags.env == 'dev' or name == 'japaneast'", {"contosodev", "aks-dev", "japaneast"}),
        (
            "not(name startswith 'aks') and (tags.env == 'prod' or tags.env == 'dev')",
            {"contosoprod", "contosodev"},
        ),
        ("isnotempty(tags.schedule)", {"aks-dev"}),
        ("isempty(tags.env)", {"eastus2", "westeurope", "japaneast"}),
        ("properties.powerState.code == 'Stopped'", {"aks-dev"}),
        (
            "toint(properties.networkProfile.loadBalancerProfile.managedOutboundIPs['count']) >= 2",
            {"aks-prod"},
        ),
    ],
)
def test_where(graph: Graph, where: str, expected: set[str]) -> None:
    assert graph.names(f"resources | where {where} | project name") == expected


# -- project, extend, mv-expand, sorting, limits, summarize -----------------------------------


def test_project_renames_nested_paths_and_tostring(graph: Graph) -> None:
    rows = graph.rows(
        "resources | where name == 'aks-prod' "
        "| project cluster = name, properties.powerState.code, "
        "state = tostring(properties.provisioningState), tags"
    )
    assert rows == [
        {
            "cluster": "aks-prod",
            "properties_powerState_code": "Running",
            "state": "Succeeded",
            "tags": {"env": "prod"},
        }
    ]
    table = graph.query(
        "resources | where name == 'aks-prod' | project name, properties.powerState.code, n = 1",
        result_format="table",
    ).data
    assert table["columns"] == [
        {"name": "name", "type": "string"},
        {"name": "properties_powerState_code", "type": "object"},
        {"name": "n", "type": "integer"},
    ]
    assert table["rows"] == [["aks-prod", "Running", 1]]


def test_extend_with_tolower_and_extract(graph: Graph) -> None:
    rows = graph.rows(
        "resources | where type =~ 'microsoft.containerservice/managedclusters' "
        "| extend rg = extract('/resourceGroups/([^/]+)/', 1, id), kind2 = tolower('MC') "
        "| project name, rg, kind2 | order by name asc"
    )
    assert rows == [
        {"name": "aks-dev", "rg": "rg-dev", "kind2": "mc"},
        {"name": "aks-prod", "rg": "rg-aks", "kind2": "mc"},
    ]


def test_mv_expand_agent_pools(graph: Graph) -> None:
    rows = graph.rows(
        "resources | where type =~ 'microsoft.containerservice/managedclusters' "
        "| mv-expand pool = properties.agentPoolProfiles "
        "| project cluster = name, pool = tostring(pool.name), mode = tostring(pool.mode), "
        "max = pool.maxCount "
        "| order by cluster asc, pool asc"
    )
    assert rows == [
        {"cluster": "aks-dev", "pool": "system", "mode": "System", "max": None},
        {"cluster": "aks-prod", "pool": "system", "mode": "System", "max": None},
        {"cluster": "aks-prod", "pool": "user", "mode": "User", "max": 5},
    ]


def test_order_top_and_limit(graph: Graph) -> None:
    ascending = [r["name"] for r in graph.rows("resources | project name | order by name asc")]
    assert ascending == sorted(_ALL)
    descending = [r["name"] for r in graph.rows("resources | project name | order by name desc")]
    assert descending == sorted(_ALL, reverse=True)
    default = [r["name"] for r in graph.rows("resources | project name | order by name")]
    assert default == descending  # KQL sorts descending by default
    top = [r["name"] for r in graph.rows("resources | top 2 by name asc | project name")]
    assert top == sorted(_ALL)[:2]
    assert len(graph.rows("resources | limit 3")) == 3
    assert len(graph.rows("resources | take 1")) == 1


def test_summarize_distinct_and_count(graph: Graph) -> None:
    counts = graph.rows("resources | summarize count() by type | order by type asc")
    assert counts == [
        {"type": "microsoft.containerregistry/registries", "count_": 2},
        {"type": "microsoft.containerregistry/registries/replications", "count_": 3},
        {"type": "microsoft.containerservice/managedclusters", "count_": 2},
    ]
    named = graph.rows("resources | summarize n = count() by env = tostring(tags.env) | order by env asc")
    assert named == [{"env": "", "n": 3}, {"env": "dev", "n": 2}, {"env": "prod", "n": 2}]
    assert graph.rows("resources | distinct location | order by location asc") == [
        {"location": "eastus2"},
        {"location": "japaneast"},
        {"location": "westeurope"},
    ]
    assert graph.rows("resources | where tags.env == 'prod' | count") == [{"Count": 2}]


# -- scope and live state ---------------------------------------------------------------------


def test_subscriptions_scope_the_rows(graph: Graph) -> None:
    assert graph.names("resources | project name", subscriptions=[S2]) == {"contosodev", "aks-dev"}
    assert graph.names("resources | project name", subscriptions=[S1.upper()]) == {
        "contosoprod",
        "eastus2",
        "westeurope",
        "japaneast",
        "aks-prod",
    }


def test_role_assignments_hide_what_the_identity_cannot_read(graph: Graph) -> None:
    world = graph.world
    with world.lock:
        world.identity.roles.append(RoleAssignment(scope=f"/subscriptions/{S2}", role="Reader"))
    try:
        names = graph.names("resources | project name")
    finally:
        with world.lock:
            world.identity.roles.clear()
    assert names == {"contosodev", "aks-dev"}


def test_results_follow_the_live_world(graph: Graph) -> None:
    world = graph.world
    cluster = world.clusters["aks-prod"]
    with world.lock:
        cluster.power_state = "Stopped"
        cluster.tags["snooze"] = "until-monday"
    try:
        rows = graph.rows(
            "resources | where name == 'aks-prod' | project code = properties.powerState.code, tags"
        )
    finally:
        with world.lock:
            cluster.power_state = "Running"
            del cluster.tags["snooze"]
    assert rows == [{"code": "Stopped", "tags": {"env": "prod", "snooze": "until-monday"}}]


# -- paging and formats --------------------------------------------------------------------


def test_more_than_1000_rows_page_with_skip_token(graph: Graph) -> None:
    query = "securityresources | project id, cve = tostring(properties.id) | order by id asc"
    first = graph.query(query)
    assert first.total_records == 1202
    assert first.count == 1000
    assert first.result_truncated == "false"
    assert first.skip_token
    ids = [row["id"] for row in first.data]
    token = first.skip_token
    pages = 1
    while token:
        page = graph.query(query, skip_token=token)
        pages += 1
        ids += [row["id"] for row in page.data]
        token = page.skip_token
    assert pages == 2
    assert len(ids) == len(set(ids)) == 1202
    assert ids == sorted(ids)


def test_top_and_skip(graph: Graph) -> None:
    query = "resources | project id, name | order by name asc"
    page = graph.query(query, top=2, skip=1)
    assert [row["name"] for row in page.data] == sorted(_ALL)[1:3]
    assert page.total_records == 7
    rest = graph.query(query, skip_token=page.skip_token)
    assert [row["name"] for row in rest.data] == sorted(_ALL)[3:]
    assert rest.skip_token is None


def test_take_disables_paging(graph: Graph) -> None:
    page = graph.query("securityresources | project id | take 1100")
    assert (page.total_records, page.count, page.result_truncated, page.skip_token) == (
        1100,
        1000,
        "true",
        None,
    )


def test_skip_token_of_another_query_is_refused(graph: Graph) -> None:
    token = graph.query("resources | project id, name", top=1).skip_token
    with pytest.raises(HttpResponseError) as caught:
        graph.query("resources | project id", skip_token=token)
    assert caught.value.status_code == 400


def test_facets(graph: Graph) -> None:
    request = QueryRequest(
        subscriptions=[S1, S2],
        query="resources | project name, location, type",
        facets=[
            FacetRequest(expression="location", options=FacetRequestOptions(sort_order="desc", top=2)),
            FacetRequest(expression="nonExistingColumn"),
        ],
    )
    response = graph.client.resources(request)
    location, missing = response.facets
    assert location.result_type == "FacetResult"
    assert (location.total_records, location.count) == (3, 2)
    assert sorted(location.data, key=lambda row: row["location"]) == [
        {"location": "eastus2", "count": 3},
        {"location": "westeurope", "count": 3},
    ]
    assert missing.result_type == "FacetError"
    assert missing.errors[0].code == "NoValidColumns"


# -- securityresources ------------------------------------------------------------------------


def test_finding_has_defenders_subassessment_shape(graph: Graph) -> None:
    registry = graph.world.registries["contosoprod"]
    digest = registry.repositories["payments/api"].tags["v2"].digest
    rows = graph.rows("securityresources | where properties.id == 'CVE-2023-4863'")
    assert len(rows) == 1
    row = rows[0]
    assert row["type"] == "microsoft.security/assessments/subassessments"
    assert row["id"].startswith(
        f"{registry.id}/providers/Microsoft.Security/assessments/{ASSESSMENT_KEY}/subassessments/"
    )
    assert row["id"].endswith("/" + row["name"])
    assert (row["location"], row["resourceGroup"], row["subscriptionId"]) == ("global", "rg-acr", S1)
    props = row["properties"]
    assert props["id"] == "CVE-2023-4863"
    assert props["status"] == {"severity": "Critical", "code": "Unhealthy"}
    assert props["resourceDetails"] == {
        "id": f"/repositories/payments/api/images/{digest}",
        "source": "Azure",
    }
    data = props["additionalData"]
    assert data["assessedResourceType"] == "AzureContainerRegistryVulnerability"
    artifact = data["artifactDetails"]
    assert artifact["registryHost"] == registry.login_server
    assert artifact["repositoryName"] == "payments/api"
    assert artifact["digest"] == digest
    assert sorted(artifact["tags"]) == ["latest", "v2"]
    assert artifact["artifactType"] == "ContainerImage"
    assert "lastPushedToRegistryUTC" in artifact
    software = data["softwareDetails"]
    assert (software["fixStatus"], software["fixedVersion"], software["packageName"]) == (
        "FixAvailable",
        "1.3.2",
        "libwebp",
    )
    assert data["vulnerabilityDetails"]["severity"] == "Critical"
    assert data["vulnerabilityDetails"]["cveId"] == "CVE-2023-4863"
    assert props["timeGenerated"].endswith("Z")
    exempt = graph.rows(
        "securityresources | where properties.id == 'CVE-2022-42969' | project s = properties.status"
    )
    status = {"description": "Disabled parent assessment", "severity": "High", "code": "NotApplicable"}
    assert exempt == [{"s": {**status, "cause": "Exempt"}}]


def test_defenders_sample_query_finds_the_findings(graph: Graph) -> None:
    query = (
        "securityresources\n"
        '| where type =~ "microsoft.security/assessments/subassessments" and '
        'properties.additionalData.assessedResourceType == "AzureContainerRegistryVulnerability"\n'
        '| extend assessmentKey=extract(@"(?i)providers/Microsoft.Security/assessments/([^/]*)", 1, id)\n'
        '| where assessmentKey == "c0b7cfc6-3172-465a-b378-53c7ff2cc0d5"\n'
        "| extend timeGenerated = properties.timeGenerated\n"
        "| where timeGenerated > ago(1d)\n"
        "| summarize findings = count() by severity = tostring(properties.status.severity)\n"
        "| order by severity asc"
    )
    assert graph.rows(query) == [
        {"severity": "Critical", "findings": 1},
        {"severity": "High", "findings": 401},
        {"severity": "Low", "findings": 400},
        {"severity": "Medium", "findings": 400},
    ]


def test_findings_of_a_deleted_image_disappear(graph: Graph) -> None:
    world = graph.world
    repository = world.registries["contosoprod"].repositories["scan/target"]
    digest = repository.tags["t39"].digest
    query = (
        f"securityresources | where properties.additionalData.artifactDetails.digest == '{digest}' | count"
    )
    assert graph.rows(query) == [{"Count": 30}]
    with world.lock:
        manifest = repository.manifests.pop(digest)
        tag = repository.tags.pop("t39")
    try:
        assert graph.rows(query) == [{"Count": 0}]
    finally:
        with world.lock:
            repository.manifests[digest] = manifest
            repository.tags["t39"] = tag


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("resources | join kind=inner (resources) on id", {"code": "UnsupportedOperator", "token": "join"}),
        ("resources | summarize arg_max(name, *) by type", {"code": "UnknownFunction"}),
        ("advisorresources | take 1", {"code": "DisallowedLogicalTableName"}),
        ("resources | where", {"code": "ParserFailure", "token": "<EOF>", "line": 1}),
        ("resources | project name,, id", {"code": "ParserFailure", "token": ","}),
        ("resources | where nosuchcolumn == 1", {"code": "FailedToResolveScalarExpression"}),
        ("resources | parse id with * '/' name", {"code": "UnsupportedOperator", "token": "parse"}),
        ("resources | where name", {"code": "InvalidArgument"}),
    ],
)
def test_unsupported_queries_are_400(graph: Graph, query: str, detail: dict[str, Any]) -> None:
    with pytest.raises(HttpResponseError) as caught:
        graph.query(query)
    assert caught.value.status_code == 400
    details = _details(caught.value)
    assert details[0]["code"] == "InvalidQuery"
    assert details[1].items() >= detail.items()


def test_token_for_another_audience_is_401(graph: Graph) -> None:
    token = ManagedIdentityCredential().get_token(f"{AKS_AUDIENCE}/.default")

    class AksTokenOnly:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            return token

    client = ResourceGraphClient(
        AksTokenOnly(), base_url=graph.env["OPS_ARM_ENDPOINT"], credential_scopes=[ARM_SCOPE]
    )
    with pytest.raises(ClientAuthenticationError) as caught:
        client.resources(QueryRequest(query="resources | take 1", subscriptions=[S1]))
    assert caught.value.status_code == 401
    assert caught.value.error.code == "InvalidAuthenticationTokenAudience"


def test_user_quota_headers_and_429_when_throttling_is_on(graph: Graph) -> None:
    token = ManagedIdentityCredential().get_token(ARM_SCOPE).token
    url = (
        f"{graph.env['OPS_ARM_ENDPOINT']}/providers/Microsoft.ResourceGraph/resources?api-version=2021-03-01"
    )
    session = requests.Session()
    session.verify = graph.env["REQUESTS_CA_BUNDLE"]
    session.trust_env = False
    world = graph.world
    with world.lock:
        world.settings["throttling"] = True
    try:
        answers = [
            session.post(
                url, json={"query": "resources | count"}, headers={"Authorization": f"Bearer {token}"}
            )
            for _ in range(16)
        ]
    finally:
        with world.lock:
            world.settings["throttling"] = False
    remaining = [int(a.headers["x-ms-user-quota-remaining"]) for a in answers[:15]]
    assert [a.status_code for a in answers[:15]] == [200] * 15
    assert remaining == list(range(14, -1, -1))
    assert all(a.headers["x-ms-user-quota-resets-after"].startswith("00:00:0") for a in answers)
    throttled = answers[15]
    assert throttled.status_code == 429
    assert int(throttled.headers["Retry-After"]) >= 1
    assert throttled.json()["error"]["code"] == "RateLimiting"
