"""The KQL-subset engine itself, on a World built in code (no server): the corners
that the SDK-level tests in test_graph_queries.py do not reach.

Cases:
- mv-expand: an empty array gives no row, null gives one row with null, a property
  bag expands into one-entry bags, ``limit`` caps the rows per input row;
- order by: nulls first ascending and last descending by default, ``nulls first``
  overrides; several keys; top N by defaults to descending;
- project-away with a wildcard; extend replaces a column in place;
- summarize without ``by`` answers one row even over no rows; dcount/min/max/sum;
- ``has`` matches whole terms; ``hasprefix``; ``matches regex``; ``!contains``;
  ``between`` and other operators outside the subset are refused, not ignored;
- comments, verbatim strings and multi-line queries parse; ParserFailure reports the
  line and column of the offending token;
- an implicit table (a query starting with ``where``) runs over resources;
- a query on ``securityresources`` over an image whose tags moved reports the live tags.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.graph.errors import QueryError
from sandbox.graph.routes import run_query
from sandbox.world import (
    AgentPool,
    Cluster,
    Finding,
    Manifest,
    Registry,
    Repository,
    Subscription,
    Tag,
    World,
)

SUB = "00000000-0000-4000-8000-0000000000e1"


@pytest.fixture(scope="module")
def world() -> World:
    world = World()
    world.subscriptions[SUB] = Subscription(SUB, "engine")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    registry = Registry("enginereg", SUB, "rg", "eastus", tags={"env": "prod", "owner": "team-a"}, port=5999)
    repository = Repository("app/api", now, now)
    repository.manifests["sha256:" + "a" * 64] = Manifest(
        "sha256:" + "a" * 64, "application/vnd.oci.image.manifest.v1+json", b"{}", now, now
    )
    repository.tags["v1"] = Tag("v1", "sha256:" + "a" * 64, now, now)
    registry.repositories[repository.name] = repository
    world.registries[registry.name] = registry
    for name, tags, pools in (
        ("aks-a", {"env": "prod"}, ["system", "user", "batch"]),
        ("aks-b", {}, ["system"]),
        ("aks-c", {"env": "dev", "team": "x"}, []),
    ):
        cluster = Cluster(name, SUB, "rg", "eastus", tags=tags)
        for pool in pools:
            cluster.agent_pools[pool] = AgentPool(pool, mode="System" if pool == "system" else "User")
        world.clusters[name] = cluster
    world.findings.append(Finding("enginereg", "app/api", "sha256:" + "a" * 64, "CVE-2024-0001", "High"))
    return world


def rows(world: World, query: str) -> list[dict[str, Any]]:
    return run_query(world, {"query": query, "subscriptions": [SUB]})["data"]


def clusters(query: str) -> str:
    return f"resources | where type =~ 'microsoft.containerservice/managedclusters' | {query}"


def test_mv_expand_of_empty_arrays_nulls_and_bags(world: World) -> None:
    expanded = rows(
        world, clusters("mv-expand p = properties.agentPoolProfiles | project name, p = tostring(p.name)")
    )
    assert sorted((r["name"], r["p"]) for r in expanded) == [
        ("aks-a", "batch"),
        ("aks-a", "system"),
        ("aks-a", "user"),
        ("aks-b", "system"),
    ]  # aks-c has no pools: an empty array gives no row
    nulls = rows(
        world, clusters("mv-expand x = properties.noSuchArray | project name, x | order by name asc")
    )
    assert nulls == [{"name": "aks-a", "x": None}, {"name": "aks-b", "x": None}, {"name": "aks-c", "x": None}]
    bags = rows(world, clusters("where name == 'aks-c' | mv-expand tags | project tags"))
    assert bags == [{"tags": {"env": "dev"}}, {"tags": {"team": "x"}}]
    limited = rows(
        world, clusters("where name == 'aks-a' | mv-expand p = properties.agentPoolProfiles limit 2")
    )
    assert len(limited) == 2


def test_ordering_and_nulls(world: World) -> None:
    query = clusters("project name, env = tags.env")
    ascending = rows(world, query + " | order by env asc")
    assert [r["name"] for r in ascending] == ["aks-b", "aks-c", "aks-a"]  # null first when ascending
    descending = rows(world, query + " | order by env desc")
    assert [r["name"] for r in descending] == ["aks-a", "aks-c", "aks-b"]  # null last when descending
    nulls_first = rows(world, query + " | order by env desc nulls first")
    assert [r["name"] for r in nulls_first] == ["aks-b", "aks-a", "aks-c"]
    two_keys = rows(world, "resources | project type, name | order by type asc, name desc")
    assert [r["name"] for r in two_keys] == ["enginereg", "aks-c", "aks-b", "aks-a"]
    assert [r["name"] for r in rows(world, clusters("top 1 by name"))] == ["aks-c"]


def test_project_away_and_extend_in_place(world: World) -> None:
    away = "project-away p*, t*, s*, identity, z*, e*, k*, m*"
    row = rows(world, clusters(f"where name == 'aks-b' | {away}"))[0]
    assert list(row) == ["id", "name", "location", "resourceGroup"]
    extended = rows(
        world, clusters("where name == 'aks-b' | project name, location | extend name = 'renamed'")
    )
    assert extended == [{"name": "renamed", "location": "eastus"}]


def test_summarize_aggregates(world: World) -> None:
    assert rows(world, clusters("where name == 'none' | summarize count()")) == [{"count_": 0}]
    summary = rows(
        world,
        clusters(
            "extend pools = array_length(properties.agentPoolProfiles) "
            "| summarize dcount(location), min(pools), max(pools), sum(pools), n = countif(pools > 0)"
        ),
    )
    assert summary == [{"dcount_location": 1, "min_pools": 0, "max_pools": 3, "sum_pools": 4, "n": 2}]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("tags.owner has 'team'", ["enginereg"]),
        ("tags.owner has 'tea'", []),
        ("tags.owner hasprefix 'tea'", ["enginereg"]),
        ("name matches regex '^aks-[ab]$'", ["aks-a", "aks-b"]),
        ("name !contains 'aks'", ["enginereg"]),
        ("name !startswith 'aks' or name endswith '-c'", ["aks-c", "enginereg"]),
    ],
)
def test_string_operators(world: World, where: str, expected: list[str]) -> None:
    assert sorted(r["name"] for r in rows(world, f"resources | where {where} | project name")) == expected


@pytest.mark.parametrize(
    "query",
    [
        "resources | where toint(properties.maxAgentPools) between (1 .. 200)",
        "resources | union securityresources",
        "resources | project-rename n = name",
        "resources | extend x = bag_keys(tags)",
        "resources | mv-expand with_itemindex=i tags",
    ],
)
def test_operators_outside_the_subset_are_refused(world: World, query: str) -> None:
    with pytest.raises(QueryError):
        run_query(world, {"query": query})


def test_comments_verbatim_strings_and_positions(world: World) -> None:
    query = (
        "// clusters only\nresources\n"
        "| where type =~ @'microsoft.containerservice/managedclusters' // k8s\n| count"
    )
    assert rows(world, query) == [{"Count": 3}]
    with pytest.raises(QueryError) as caught:
        run_query(world, {"query": "resources\n| where name == 'a'\n| project name ==="})
    detail = caught.value.detail
    assert detail["code"] == "ParserFailure"
    assert (detail["line"], detail["characterPositionInLine"], detail["token"]) == (3, 17, "=")


def test_implicit_table_is_resources(world: World) -> None:
    assert rows(world, "where name == 'aks-a' | project name") == [{"name": "aks-a"}]


def test_findings_report_the_live_tags(world: World) -> None:
    query = "securityresources | project tags = properties.additionalData.artifactDetails.tags"
    assert rows(world, query) == [{"tags": ["v1"]}]
    repository = world.registries["enginereg"].repositories["app/api"]
    now = datetime(2026, 1, 2, tzinfo=UTC)
    repository.tags["stable"] = Tag("stable", "sha256:" + "a" * 64, now, now)
    try:
        assert rows(world, query) == [{"tags": ["stable", "v1"]}]
    finally:
        del repository.tags["stable"]
